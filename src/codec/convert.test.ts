import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isSrError } from '../core/errors.js';
import { formatAddress, parseAddress } from '../net/ip6.js';
import { clientReturnPathTlv } from './return-path.js';
import { srhForPath, TLV_PADN } from './srh.js';
import {
  CONVERT_FIXED_BYTES,
  CONVERT_MAX_SEGMENTS,
  convertHeaderLength,
  decodeConvertHeader,
  encodeConvertHeader,
  type ConvertHeader,
} from './convert.js';

const H: ConvertHeader = {
  client: { address: 'fc00:1::2', port: 40001 },
  server: { address: 'fc00:2::2', port: 8080 },
  sid: 'fc00:b::7:0:1',
  segments: ['fc00:c::2:0:0'],
};

const throwsCode = (fn: () => unknown, code: string): void => assert.throws(fn, (e) => isSrError(e) && e.code === code);

describe('converter header (docs/mptcp.md)', () => {
  test('layout: magic/version 0xB1, length, fixed fields, Segments TLV', () => {
    const b = encodeConvertHeader(H);
    assert.equal(b[0], 0xb1);
    assert.equal(b[1], 0);
    assert.equal(b.readUInt16BE(2), b.length);
    assert.equal(b.length, CONVERT_FIXED_BYTES + 2 + 16);
    assert.equal(formatAddress(b, 4), 'fc00:1::2');
    assert.equal(b.readUInt16BE(20), 40001);
    assert.equal(b.readUInt16BE(22), 8080);
    assert.equal(formatAddress(b, 24), 'fc00:2::2');
    assert.equal(formatAddress(b, 40), 'fc00:b::7:0:1');
    assert.deepEqual([b[56], b[57]], [1, 16]);
    assert.equal(encodeConvertHeader({ ...H, segments: [] }).length, CONVERT_FIXED_BYTES, 'no TLV when nothing follows the converter');
  });

  test('round trip (property), payload bytes after the header are kept', () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => formatAddress(a));
    const header = fc.record({
      client: fc.record({ address: addr, port: fc.integer({ min: 0, max: 65535 }) }),
      server: fc.record({ address: addr, port: fc.integer({ min: 0, max: 65535 }) }),
      sid: addr,
      segments: fc.array(addr, { maxLength: CONVERT_MAX_SEGMENTS }),
    });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 64 }), (h, payload) => {
        const wire = Buffer.concat([encodeConvertHeader(h), payload]);
        const d = decodeConvertHeader(wire);
        assert.deepEqual(d.header, JSON.parse(JSON.stringify(h)));
        assert.deepEqual([...d.rest], [...payload]);
      }),
    );
  });

  test('incomplete input: the length is unknown until 4 bytes, truncated after', () => {
    const b = encodeConvertHeader(H);
    assert.equal(convertHeaderLength(b.subarray(0, 0)), null);
    assert.equal(convertHeaderLength(b.subarray(0, 3)), null);
    assert.equal(convertHeaderLength(b.subarray(0, 4)), b.length);
    throwsCode(() => decodeConvertHeader(b.subarray(0, b.length - 1)), 'CONVERT_TRUNCATED');
    throwsCode(() => decodeConvertHeader(b.subarray(0, 2)), 'CONVERT_TRUNCATED');
  });

  test('wrong magic or version fails on the first byte', () => {
    throwsCode(() => convertHeaderLength(Buffer.from('GET / HTTP/1.1')), 'CONVERT_BAD_VERSION');
    throwsCode(() => convertHeaderLength(Buffer.from([0xb2])), 'CONVERT_BAD_VERSION');
    const b = encodeConvertHeader(H);
    b[0] = 0xb0;
    throwsCode(() => decodeConvertHeader(b), 'CONVERT_BAD_VERSION');
  });

  test('bad lengths: header length out of bounds, TLVs past the header, Segments not 16n', () => {
    const b = encodeConvertHeader(H);
    const at = (len: number): Buffer => {
      const c = Buffer.from(b);
      c.writeUInt16BE(len, 2);
      return c;
    };
    throwsCode(() => decodeConvertHeader(at(55)), 'CONVERT_BAD_LENGTH');
    throwsCode(() => decodeConvertHeader(at(2000)), 'CONVERT_BAD_LENGTH');
    throwsCode(() => decodeConvertHeader(at(57)), 'CONVERT_BAD_TLV'); // one byte of TLV header
    throwsCode(() => decodeConvertHeader(at(b.length - 1)), 'CONVERT_BAD_TLV'); // the value runs past
    const odd = Buffer.concat([b.subarray(0, 56), Buffer.from([1, 15]), Buffer.alloc(15)]);
    odd.writeUInt16BE(odd.length, 2);
    throwsCode(() => decodeConvertHeader(odd), 'CONVERT_BAD_TLV');
  });

  test('too many segments: refused by the encoder and the decoder', () => {
    const many = Array.from({ length: CONVERT_MAX_SEGMENTS + 1 }, (_, i) => `fc00:c::${i + 1}`);
    throwsCode(() => encodeConvertHeader({ ...H, segments: many }), 'CONVERT_TOO_MANY_SEGMENTS');
    const tlv = Buffer.concat([Buffer.from([1, 16 * 16 - 256 + 240]), Buffer.alloc(240)]); // 15: fine
    const ok = Buffer.concat([encodeConvertHeader({ ...H, segments: [] }), tlv]);
    ok.writeUInt16BE(ok.length, 2);
    assert.equal(decodeConvertHeader(ok).header.segments.length, 15);
  });

  test('TLVs: PadN and unknown optional types are skipped; unknown must-understand types and a second Segments fail', () => {
    const base = encodeConvertHeader({ ...H, segments: [] });
    const withTlvs = (...tlvs: number[][]): Buffer => {
      const b = Buffer.concat([base, ...tlvs.map((t) => Buffer.from(t))]);
      b.writeUInt16BE(b.length, 2);
      return b;
    };
    assert.deepEqual(decodeConvertHeader(withTlvs([0, 2, 0, 0], [77, 1, 9])).header, { ...H, segments: [] });
    throwsCode(() => decodeConvertHeader(withTlvs([200, 0])), 'CONVERT_BAD_TLV');
    throwsCode(() => decodeConvertHeader(withTlvs([1, 0], [1, 0])), 'CONVERT_BAD_TLV');
  });

  test('bad ports are refused by the encoder', () => {
    throwsCode(() => encodeConvertHeader({ ...H, client: { address: 'fc00:1::2', port: 70000 } }), 'CONVERT_BAD_FIELD');
  });

  test('SRH TLVs (type 2): the return-path TLV travels, padding does not; malformed inner TLVs and a second one fail', () => {
    const rp = clientReturnPathTlv([parseAddress('fc00:b::3:0:0'), parseAddress('fc00:a::4:0:0')]);
    const d = decodeConvertHeader(encodeConvertHeader({ ...H, srhTlvs: [{ type: TLV_PADN, value: Buffer.alloc(3) }, rp] })).header;
    assert.equal(d.srhTlvs?.length, 1);
    assert.equal(d.srhTlvs![0]!.type, 6);
    assert.deepEqual(d.srhTlvs![0]!.value, rp.value);
    assert.equal(decodeConvertHeader(encodeConvertHeader(H)).header.srhTlvs, undefined, 'none: no TLV');
    const withTlvs = (...tlvs: number[][]): Buffer => {
      const b = Buffer.concat([encodeConvertHeader({ ...H, segments: [] }), ...tlvs.map((t) => Buffer.from(t))]);
      b.writeUInt16BE(b.length, 2);
      return b;
    };
    throwsCode(() => decodeConvertHeader(withTlvs([2, 3, 6, 9, 0])), 'CONVERT_BAD_TLV');
    throwsCode(() => decodeConvertHeader(withTlvs([2, 2, 6, 0], [2, 2, 6, 0])), 'CONVERT_BAD_TLV');
    // a Pad1 (type 0) with a length inside the SRH TLVs: refused here, not left to the SRH encoder on the operator side (issue 12 item 6, found by the fuzzer)
    throwsCode(() => decodeConvertHeader(withTlvs([2, 4, 0, 2, 0, 0])), 'CONVERT_BAD_TLV');
    // PadN inside is dropped, as the encoder drops it: decode∘encode∘decode = decode
    const padded = decodeConvertHeader(withTlvs([2, 8, 4, 2, 0, 0, 9, 2, 1, 2])).header;
    assert.deepEqual(padded.srhTlvs, [{ type: 9, value: Buffer.from([1, 2]) }]);
    assert.deepEqual(decodeConvertHeader(encodeConvertHeader(padded)).header, padded);
    const onlyPad = decodeConvertHeader(withTlvs([2, 4, 4, 2, 0, 0])).header;
    assert.equal(onlyPad.srhTlvs, undefined);
    assert.deepEqual(decodeConvertHeader(encodeConvertHeader(onlyPad)).header, onlyPad);
    throwsCode(() => encodeConvertHeader({ ...H, srhTlvs: [{ type: 7, value: Buffer.alloc(200) }, { type: 8, value: Buffer.alloc(60) }] }), 'CONVERT_BAD_TLV');
  });
});

describe('converter header: what decodes also encodes as an SRH (issue 12 item 6)', () => {
  /** H with converter TLV 2 holding `inner` as the SRH TLVs */
  const withInner = (inner: Buffer): Buffer => {
    const base = encodeConvertHeader(H);
    const b = Buffer.concat([base, Buffer.from([2, inner.length]), inner]);
    b.writeUInt16BE(b.length, 2);
    return b;
  };

  test('an inner TLV of type 0 (Pad1) with a length is CONVERT_BAD_TLV at decode', () => {
    throwsCode(() => decodeConvertHeader(withInner(Buffer.from([0, 3, 1, 2, 3]))), 'CONVERT_BAD_TLV');
    throwsCode(() => decodeConvertHeader(withInner(Buffer.from([4, 1, 0, 0, 0]))), 'CONVERT_BAD_TLV');
  });

  test('property: any inner TLV bytes either fail with a CONVERT_ code or give TLVs the SRH encoder takes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), (bytes) => {
        let h: ConvertHeader;
        try {
          h = decodeConvertHeader(withInner(Buffer.from(bytes))).header;
        } catch (e) {
          assert.ok(isSrError(e) && e.code.startsWith('CONVERT_'), String(e));
          return;
        }
        srhForPath([h.sid, ...h.segments, h.server.address].map((a) => parseAddress(a)), { tlvs: h.srhTlvs ?? [] });
      }),
      { numRuns: 2000 },
    );
  });
});
