import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { isSrError } from '../core/errors.js';
import { decodeReturnHopRecord, encodeReturnHopRecord, decodeBsidRecord, decodeSrhRecord, encodeBsidRecord, encodeSrhRecord, TYPE_BSID_NAME, TYPE_SRH_NAME } from './records.js';

const fieldError = (e: unknown): boolean => isSrError(e, 'DNS_RECORD_FIELD');

describe('SRH record (TYPE 65281)', () => {
  test('count u8 | segments, travel order', () => {
    const b = encodeSrhRecord(['fc00:a::2:0:5a', 'fc00:2::2']);
    assert.equal(b.length, 33);
    assert.equal(b[0], 2);
    assert.equal(b.subarray(1, 17).toString('hex'), 'fc00000a000000000000000200 00005a'.replace(/ /g, ''));
    assert.deepEqual(decodeSrhRecord(b), ['fc00:a::2:0:5a', 'fc00:2::2']);
  });
  test('malformed RDATA decodes to null', () => {
    assert.equal(decodeSrhRecord(Buffer.alloc(0)), null);
    assert.equal(decodeSrhRecord(Buffer.from([0])), null);
    assert.equal(decodeSrhRecord(Buffer.concat([Buffer.from([2]), Buffer.alloc(16)])), null, 'count says 2, one segment');
    assert.equal(decodeSrhRecord(Buffer.concat([Buffer.from([1]), Buffer.alloc(17)])), null, 'trailing byte');
    assert.equal(decodeSrhRecord(Buffer.concat([Buffer.from([200]), Buffer.alloc(3200)])), null, 'more than 127');
    assert.throws(() => encodeSrhRecord([]), fieldError);
    assert.throws(() => encodeSrhRecord(Array.from({ length: 128 }, () => 'fc00::1')), fieldError);
  });
  test('through dns-packet: an unknown type as UNKNOWN_65281 with a raw Buffer', () => {
    const data = encodeSrhRecord(['fc00:a::1:0:0', 'fc00:2::2']);
    const wire = dnsPacket.encode({ type: 'response', id: 7, answers: [], additionals: [{ name: 'x.lab.example', type: TYPE_SRH_NAME, ttl: 5, data } as unknown as dnsPacket.Answer] });
    // the type field right after the owner name: 0xff01
    assert.ok(wire.includes(Buffer.from([0xff, 0x01, 0x00, 0x01])), 'TYPE 65281 class IN on the wire');
    const back = dnsPacket.decode(wire).additionals![0] as unknown as { type: string; data: Buffer };
    assert.equal(back.type, TYPE_SRH_NAME);
    assert.deepEqual(decodeSrhRecord(back.data), ['fc00:a::1:0:0', 'fc00:2::2']);
  });
});

describe('BSID record (TYPE 65280, the SDN Resolver layout)', () => {
  test('priority u16 | source prefix (16) | prefix length u8 | BSID (16)', () => {
    const r = { priority: 10, source: 'fc00:1::', prefixLength: 64, bsid: 'fc00:ff::1' };
    const b = encodeBsidRecord(r);
    assert.equal(b.length, 35);
    assert.equal(b.readUInt16BE(0), 10);
    assert.equal(b[18], 64);
    assert.deepEqual(decodeBsidRecord(b), r);
    assert.equal(decodeBsidRecord(b.subarray(0, 34)), null);
    const bad = Buffer.from(b);
    bad[18] = 129;
    assert.equal(decodeBsidRecord(bad), null);
    assert.equal(TYPE_BSID_NAME, 'UNKNOWN_65280');
    assert.throws(() => encodeBsidRecord({ ...r, priority: 65536 }), fieldError);
    assert.throws(() => encodeBsidRecord({ ...r, prefixLength: 129 }), fieldError);
  });
});

describe('return hop record (TYPE 65283)', () => {
  test('id u16 | return SID (16 bytes); malformed RDATA and id 0 decode to null', () => {
    const r = encodeReturnHopRecord({ id: 17, sid: 'fc00:a::ffff' });
    assert.equal(r.toString('hex'), '0011fc00000a00000000000000000000ffff');
    assert.deepEqual(decodeReturnHopRecord(r), { id: 17, sid: 'fc00:a::ffff' });
    assert.equal(decodeReturnHopRecord(r.subarray(0, 17)), null);
    assert.equal(decodeReturnHopRecord(Buffer.alloc(18)), null);
    assert.throws(() => encodeReturnHopRecord({ id: 0, sid: 'fc00:a::1' }), (e) => fieldError(e) && /1\.\.65535/.test((e as Error).message));
  });
});
