import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isSrError, SrError } from '../errors.js';
import { parseAddress } from '../net/ip6.js';
import { decodeHmacTlv, decodeSrh, describeSrh, encodeSrh, hmacTlv, pathOf, srhForPath, TLV_HMAC, TLV_PAD1, TLV_PADN } from './srh.js';

const A = parseAddress('fc00:a::1:0:0');
const S = parseAddress('fc00:2::2');

test('a 2-segment SRH, byte by byte', () => {
  const b = srhForPath([A, S], { nextHeader: 6 });
  const want = Buffer.concat([
    Buffer.from([6, 4, 4, 1, 1, 0, 0, 0]), // NH=TCP, len 4 (40 bytes), type 4, SL 1, LE 1, flags, tag
    S, // segment list[0] = final destination
    A, // segment list[1] = first waypoint
  ]);
  assert.deepEqual(b, want);
  const d = decodeSrh(b);
  assert.equal(d.nextHeader, 6);
  assert.equal(d.segmentsLeft, 1);
  assert.equal(d.lastEntry, 1);
  assert.deepEqual(pathOf(d), [A, S]);
  assert.equal(describeSrh(d), 'SL=1 [fc00:2::2 ← fc00:a::1:0:0]');
});

test('TLVs round-trip: PadN, HMAC, unknown types kept as opaque bytes', () => {
  const unknown = { type: 0x7e, value: Buffer.from('opaque bytes') };
  const hmac = hmacTlv(7, Buffer.alloc(32, 0xab), true);
  const b = encodeSrh({ segments: [S, A], segmentsLeft: 0, flags: 0x08, tag: 0xbeef, tlvs: [{ type: TLV_PADN, value: Buffer.alloc(4) }, unknown, hmac] });
  assert.equal(b.length % 8, 0);
  const d = decodeSrh(b);
  assert.equal(d.flags, 0x08);
  assert.equal(d.tag, 0xbeef);
  assert.deepEqual(d.tlvs.slice(0, 3).map((t) => t.type), [TLV_PADN, 0x7e, TLV_HMAC]);
  assert.deepEqual(d.tlvs[1]!.value, unknown.value);
  const h = decodeHmacTlv(d.tlvs[2]!);
  assert.deepEqual([h.dFlag, h.keyId, h.hmac.length], [true, 7, 32]);
  assert.match(describeSrh(d), /tlvs=PadN\(4\),type126\(12\),HMAC\(key 7\)/);
});

test('padding: Pad1 for one byte per RFC 8754; Linux-compatible mode avoids Pad1 and keeps HMAC last', () => {
  const t21 = { type: 0x7e, value: Buffer.alloc(21) }; // 23 bytes of TLV → 1 byte of padding
  const rfc = decodeSrh(encodeSrh({ segments: [S], segmentsLeft: 0, tlvs: [t21] }));
  assert.equal(rfc.tlvs[rfc.tlvs.length - 1]!.type, TLV_PAD1);
  const linux = decodeSrh(encodeSrh({ segments: [S], segmentsLeft: 0, tlvs: [t21], linuxCompatible: true }));
  assert.ok(linux.tlvs.every((t) => t.type !== TLV_PAD1));
  const withHmac = decodeSrh(srhForPath([A, S], { tlvs: [t21, hmacTlv(1, Buffer.alloc(32))] }));
  assert.equal(withHmac.tlvs[withHmac.tlvs.length - 1]!.type, TLV_HMAC, 'HMAC stays the last TLV');
  const enc = srhForPath([A, S], { tlvs: [t21, hmacTlv(1, Buffer.alloc(32))] });
  assert.equal(enc[enc.length - 40], TLV_HMAC, 'the HMAC TLV is the last 40 bytes (where Linux looks)');
});

test('127 segments fill the 2048-byte maximum; 128 do not fit', () => {
  const segs = Array.from({ length: 127 }, (_, i) => parseAddress(`fc00::${i.toString(16)}`));
  const d = decodeSrh(encodeSrh({ segments: segs, segmentsLeft: 126 }));
  assert.equal(d.lastEntry, 126);
  assert.deepEqual(d.segments[100], segs[100]);
  assert.throws(() => encodeSrh({ segments: [...segs, S], segmentsLeft: 0 }), (e) => isSrError(e, 'SRH_TOO_LONG'));
  assert.throws(() => encodeSrh({ segments: [], segmentsLeft: 0 }), (e) => isSrError(e, 'SRH_TOO_LONG'));
});

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SrError, `not an SrError: ${String(e)}`);
    return e.code;
  }
  return 'no error';
}

test('malformed SRHs: each fails with its own code', () => {
  const good = srhForPath([A, S]);
  const mut = (f: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(good);
    f(b);
    return b;
  };
  assert.equal(code(() => decodeSrh(good.subarray(0, 7))), 'SRH_TRUNCATED');
  assert.equal(code(() => decodeSrh(good.subarray(0, 39))), 'SRH_TRUNCATED');
  assert.equal(code(() => decodeSrh(mut((b) => (b[2] = 0)))), 'SRH_BAD_TYPE');
  assert.equal(code(() => decodeSrh(mut((b) => (b[4] = 2)))), 'SRH_BAD_LAST_ENTRY');
  assert.equal(code(() => decodeSrh(mut((b) => (b[3] = 2)))), 'SRH_BAD_SEGMENTS_LEFT');
  // a TLV whose length runs past the end
  const withTlv = srhForPath([A, S], { tlvs: [{ type: 0x7e, value: Buffer.alloc(6) }] });
  withTlv[41] = 200;
  assert.equal(code(() => decodeSrh(withTlv)), 'SRH_BAD_TLV');
  // a TLV with a type byte and no room for its length byte
  const tail = Buffer.from(withTlv);
  tail[41] = 4; // the 8-byte TLV area becomes type/len 4 + 4 bytes, then 2 bytes: type 0 (Pad1) 0 → fine
  assert.equal(code(() => decodeSrh(tail)), 'no error');
  assert.equal(code(() => decodeHmacTlv({ type: TLV_HMAC, value: Buffer.alloc(3) })), 'SRH_BAD_TLV');
  assert.equal(code(() => encodeSrh({ segments: [S], segmentsLeft: 1 })), 'SRH_BAD_SEGMENTS_LEFT');
  assert.equal(code(() => encodeSrh({ segments: [S.subarray(0, 8)], segmentsLeft: 0 })), 'BAD_ADDRESS');
  assert.equal(code(() => encodeSrh({ segments: [S], segmentsLeft: 0, tlvs: [{ type: 9, value: Buffer.alloc(256) }] })), 'SRH_BAD_TLV');
});

test('trailing bytes past the header are ignored', () => {
  const b = Buffer.concat([srhForPath([A, S]), Buffer.from('payload')]);
  assert.equal(decodeSrh(b).segments.length, 2);
});

const addr = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a));
const tlv = fc.oneof(
  fc.record({ type: fc.integer({ min: 1, max: 255 }), value: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) }),
  fc.constant({ type: TLV_PAD1, value: Buffer.alloc(0) }),
);

test('property: encode → decode is the identity (segments, fields, TLVs before padding)', () => {
  fc.assert(
    fc.property(fc.array(addr, { minLength: 1, maxLength: 20 }), fc.array(tlv, { maxLength: 5 }), fc.nat(255), fc.nat(0xffff), fc.boolean(), (segs, tlvs, flags, tag, linux) => {
      const sl = segs.length - 1;
      const d = decodeSrh(encodeSrh({ segments: segs, segmentsLeft: sl, flags, tag, tlvs, linuxCompatible: linux && !tlvs.some((t) => t.type === TLV_HMAC) }));
      assert.deepEqual(d.segments, segs);
      assert.equal(d.segmentsLeft, sl);
      assert.equal(d.flags, flags);
      assert.equal(d.tag, tag);
      const plain = (ts: { type: number; value: Buffer }[]) => ts.map((t) => ({ type: t.type, value: [...t.value] }));
      assert.deepEqual(plain(d.tlvs.slice(0, tlvs.length)), plain(tlvs));
      for (const extra of d.tlvs.slice(tlvs.length)) assert.ok(extra.type === TLV_PAD1 || extra.type === TLV_PADN);
    }),
  );
});

test('property: decoding random bytes either succeeds or throws an SrError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, asSrh) => {
      const b = Buffer.from(bytes);
      if (asSrh && b.length >= 3) b[2] = 4; // get past the type check more often
      try {
        decodeSrh(b);
      } catch (e) {
        assert.ok(e instanceof SrError, String(e));
        assert.equal(e.kind, 'input');
      }
    }),
    { numRuns: 5000 },
  );
});
