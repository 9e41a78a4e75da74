import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isSrError } from '../core/errors.js';
import { formatAddress, parseAddress } from '../net/ip6.js';
import { clientReturnPathTlv, decodeReturnPathTlv, findReturnPath, returnPathTlv, returnStep, TLV_RETURN_PATH } from './return-path.js';
import { decodeSrh, encodeSrh, srhForPath } from './srh.js';

const P = (s: string): Buffer => parseAddress(s);

describe('return-path TLV (type 6)', () => {
  test('layout: 5 reserved bytes, Segments Left, segments in wire order (client first on the wire)', () => {
    const t = returnPathTlv([P('fc00:b::2:0:0'), P('fc00:a::1:0:0'), P('fc00:1::2')]);
    assert.equal(t.type, TLV_RETURN_PATH);
    assert.equal(t.value.length, 6 + 48);
    assert.deepEqual([...t.value.subarray(0, 5)], [0, 0, 0, 0, 0]);
    assert.equal(t.value[5], 2);
    assert.equal(formatAddress(t.value, 6), 'fc00:1::2', 'segment 0 is the last one visited');
    assert.equal(formatAddress(t.value, 6 + 32), 'fc00:b::2:0:0');
    const d = decodeReturnPathTlv(t);
    assert.deepEqual(d.path.map((b) => formatAddress(b)), ['fc00:b::2:0:0', 'fc00:a::1:0:0', 'fc00:1::2']);
    assert.equal(d.segmentsLeft, 2);
  });

  test('carried in an SRH through encode and decode, found among other TLVs', () => {
    const rp = returnPathTlv([P('fc00:a::1:0:0'), P('fc00:1::2')]);
    const bytes = srhForPath([P('fc00:a::1:0:0'), P('fc00:2::2')], { tlvs: [rp] });
    const srh = decodeSrh(bytes);
    assert.deepEqual(findReturnPath(srh.tlvs)?.path.map((b) => formatAddress(b)), ['fc00:a::1:0:0', 'fc00:1::2']);
    assert.equal(findReturnPath(decodeSrh(encodeSrh({ segments: [P('fc00:2::2')], segmentsLeft: 0 })).tlvs), undefined);
  });

  test('malformed or oversized: SRH_BAD_TLV', () => {
    const bad = (f: () => unknown, re: RegExp): void => assert.throws(f, (e: unknown) => isSrError(e, 'SRH_BAD_TLV') && re.test(e.message));
    bad(() => decodeReturnPathTlv({ type: TLV_RETURN_PATH, value: Buffer.alloc(6) }), /at least one/);
    bad(() => decodeReturnPathTlv({ type: TLV_RETURN_PATH, value: Buffer.alloc(6 + 17) }), /6 \+ 16 per segment/);
    const sl = Buffer.alloc(6 + 32);
    sl[5] = 2;
    bad(() => decodeReturnPathTlv({ type: TLV_RETURN_PATH, value: sl }), /Segments Left 2 with 2 segments/);
    bad(() => decodeReturnPathTlv({ type: 4, value: Buffer.alloc(22) }), /not a return path/);
    bad(() => returnPathTlv(Array.from({ length: 16 }, () => P('fc00::1'))), /1\.\.15 segments/);
    // what the encoder refuses the decoder refuses too (a fuzz finding: a 262-byte value decoded to 16 segments that did not re-encode)
    bad(() => decodeReturnPathTlv({ type: TLV_RETURN_PATH, value: Buffer.alloc(6 + 16 * 16) }), /16 segments: at most 15/);
    bad(() => returnPathTlv([]), /1\.\.15 segments/);
    bad(() => returnPathTlv([Buffer.alloc(4)]), /16 bytes/);
  });

  test('property: decode(encode(path)) = path', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 15 }), (segs) => {
        const d = decodeReturnPathTlv(returnPathTlv(segs.map((s) => Buffer.from(s))));
        assert.deepEqual(d.path.map((b) => b.toString('hex')), segs.map((s) => Buffer.from(s).toString('hex')));
      }),
    );
  });

  test('along a chain: the client sends SL 0; each hop replies via the sender\'s entry and forwards SL + 1', () => {
    // client → p → q → server; replies: server → q's SID, q → p's SID, p → client
    const fromClient = decodeReturnPathTlv(clientReturnPathTlv([P('fc00:b::ffff'), P('fc00:a::ffff')], P('fc00:1::2')));
    assert.equal(fromClient.segmentsLeft, 0);
    const atP = returnStep(fromClient);
    assert.equal(atP.replyVia, undefined, 'p replies straight to the client');
    assert.equal(formatAddress(atP.own!), 'fc00:a::ffff');
    const atQ = returnStep(decodeReturnPathTlv(atP.onward!));
    assert.equal(formatAddress(atQ.replyVia!), 'fc00:a::ffff');
    assert.equal(formatAddress(atQ.own!), 'fc00:b::ffff');
    const atServer = returnStep(decodeReturnPathTlv(atQ.onward!));
    assert.equal(formatAddress(atServer.replyVia!), 'fc00:b::ffff');
    assert.equal(atServer.own, undefined, 'no entry left: the server forwards nothing');
    assert.equal(atServer.onward, undefined);
    // an unknown client address travels as ::
    assert.equal(formatAddress(clientReturnPathTlv([P('fc00:a::ffff')]).value, 6), '::');
  });
});
