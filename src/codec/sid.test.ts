import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCode as code } from '../../test/helpers/errors.js';
import fc from 'fast-check';
import { formatAddress, parseAddress, parsePrefix } from '../net/ip6.js';
import { argumentBits, decodeSid, encodeSid, formatSid, sidLayout, type SidLayout } from './sid.js';

/** A reference model: the SID as one 128-bit bigint, LOCATOR | FUNCTION | ARGUMENT. */
function model(layout: SidLayout, fn: number, arg: bigint): Buffer {
  const A = BigInt(argumentBits(layout));
  const v = BigInt(`0x${layout.locator.addr.toString('hex')}`) | (BigInt(fn) << A) | arg;
  return Buffer.from(v.toString(16).padStart(32, '0'), 'hex');
}

test("the paper's layout: /80 locator, 16 function bits (bytes 10–11), 32 argument bits (bytes 12–15)", () => {
  const l = sidLayout('fc00:a::/80');
  assert.equal(l.functionBits, 16);
  assert.equal(argumentBits(l), 32);
  assert.equal(formatSid(l, 1, 0), 'fc00:a::1:0:0');
  assert.equal(formatSid(l, 1), 'fc00:a::1:0:0');
  assert.equal(formatSid(l, 2, 0x5a), 'fc00:a::2:0:5a');
  const b = encodeSid(l, 0xbeef, 0xdeadbeefn);
  assert.equal(b.toString('hex'), 'fc00000a000000000000' + 'beef' + 'deadbeef');
  assert.deepEqual(decodeSid(l, b), { fn: 0xbeef, arg: 0xdeadbeefn });
  assert.deepEqual(decodeSid(l, parseAddress('fc00:a::3:1:2')), { fn: 3, arg: 0x10002n });
  assert.deepEqual(decodeSid(l, parseAddress('fc00:a::')), { fn: 0, arg: 0n });
  assert.deepEqual(decodeSid(l, parseAddress('fc00:a::ffff:ffff:ffff')), { fn: 0xffff, arg: 0xffffffffn });
  assert.deepEqual(encodeSid(l, 7, 9), encodeSid(l, 7, 9n), 'number and bigint arguments agree');
});

test('addresses outside the locator decode to null', () => {
  const l = sidLayout('fc00:a::/80');
  assert.equal(decodeSid(l, parseAddress('fc00:b::1:0:0')), null);
  assert.equal(decodeSid(l, parseAddress('fc00:a:0:0:1::')), null, 'bits 64–79 differ');
  assert.equal(decodeSid(l, parseAddress('fc00:a::1:0:0:0')), null, 'one group too far left: bit 79 set');
  const odd = sidLayout('fc00:abcd:1230::/52', 12);
  assert.equal(decodeSid(odd, parseAddress('fc00:abcd:1230:8000::')), null, 'bit 48 set: inside the /52');
  assert.equal(decodeSid(odd, parseAddress('fc00:abcd:1230:1000::')), null, 'bit 51 set: the last locator bit');
  assert.deepEqual(decodeSid(odd, parseAddress('fc00:abcd:1230:0fff::1')), { fn: 0xfff, arg: 1n }, 'bits 52+ are not locator bits');
});

test('offsets: the address may sit inside a larger buffer (e.g. an SRH); bad offsets throw', () => {
  const l = sidLayout('fc00:a::/80');
  const buf = Buffer.concat([Buffer.alloc(5, 0xff), encodeSid(l, 9, 9), Buffer.alloc(3, 0xff)]);
  assert.deepEqual(decodeSid(l, buf, 5), { fn: 9, arg: 9n });
  assert.equal(decodeSid(l, buf, 4), null);
  assert.equal(code(() => decodeSid(l, buf, 8)), 'no error', 'the last 16 bytes');
  assert.equal(code(() => decodeSid(l, buf, 9), /offset 9 of 24 bytes/), 'BAD_ADDRESS');
  assert.equal(code(() => decodeSid(l, buf.subarray(0, 15))), 'BAD_ADDRESS');
  assert.equal(code(() => decodeSid(l, buf, -1)), 'BAD_ADDRESS');
});

test('non-byte-aligned layouts: /52 + 12 function bits, /61 + 7, /77 + 5', () => {
  const l = sidLayout('fc00:abcd:1230::/52', 12);
  assert.equal(argumentBits(l), 64);
  const b = encodeSid(l, 0xabc, 0x0123456789abcdefn);
  assert.equal(b.toString('hex'), 'fc00abcd1230' + '0abc' + '0123456789abcdef');
  assert.deepEqual(decodeSid(l, b), { fn: 0xabc, arg: 0x0123456789abcdefn });
  const m = sidLayout('fc00::/61', 7); // function = bits 61..67, straddling bytes 7 and 8
  assert.equal(encodeSid(m, 0x7f).toString('hex'), 'fc00000000000007' + 'f0' + '00'.repeat(7));
  assert.equal(encodeSid(m, 1, 1).toString('hex'), 'fc00000000000000' + '10' + '00'.repeat(6) + '01');
  const n = sidLayout('2001:db8:0:0:0:8::/77', 5); // 46 argument bits: the A ≤ 53 path
  assert.equal(argumentBits(n), 46);
  assert.deepEqual(decodeSid(n, encodeSid(n, 31, (1n << 46n) - 1n)), { fn: 31, arg: (1n << 46n) - 1n });
});

test('property: every layout round-trips and matches a 128-bit bigint model', () => {
  const layoutArb = fc.integer({ min: 0, max: 127 }).chain((L) =>
    fc.record({
      L: fc.constant(L),
      F: fc.integer({ min: 1, max: Math.min(32, 128 - L) }),
      net: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    }),
  );
  const caseArb = layoutArb.chain(({ L, F, net }) =>
    fc.record({
      layout: fc.constant(sidLayout({ addr: Buffer.from(net), length: L }, F)),
      fn: fc.integer({ min: 0, max: 2 ** F - 1 }),
      arg: fc.bigInt({ min: 0n, max: (1n << BigInt(128 - L - F)) - 1n }),
      other: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    }),
  );
  fc.assert(
    fc.property(caseArb, ({ layout, fn, arg, other }) => {
      const b = encodeSid(layout, fn, arg);
      assert.deepEqual(b, model(layout, fn, arg));
      assert.deepEqual(decodeSid(layout, b), { fn, arg });
      assert.equal(formatSid(layout, fn, arg), formatAddress(b));
      // any address: inside the locator ⇔ decodes, and then re-encodes to itself
      const d = decodeSid(layout, other);
      const inside = parsePrefix(`${formatAddress(other)}/${layout.locator.length}`).addr.equals(layout.locator.addr);
      assert.equal(d !== null, inside);
      if (d) assert.deepEqual(encodeSid(layout, d.fn, d.arg), Buffer.from(other));
    }),
    { numRuns: 2000 },
  );
});

test('0 argument bits (/112 + 16) and 112 argument bits (/8 + 8, /0 + 16)', () => {
  const full = sidLayout('fc00:1:2:3:4:5:6::/112', 16);
  assert.equal(argumentBits(full), 0);
  assert.equal(formatSid(full, 0xffff), 'fc00:1:2:3:4:5:6:ffff');
  assert.deepEqual(decodeSid(full, encodeSid(full, 0xffff)), { fn: 0xffff, arg: 0n });
  assert.equal(code(() => encodeSid(full, 1, 1), /argument 1 does not fit in 0 bits/), 'SID_FIELD_RANGE');
  const max = (1n << 112n) - 1n;
  for (const l of [sidLayout('fc00::/8', 8), sidLayout('::/0', 16)]) {
    assert.equal(argumentBits(l), 112);
    assert.deepEqual(decodeSid(l, encodeSid(l, 255, max)), { fn: 255, arg: max });
    assert.deepEqual(decodeSid(l, encodeSid(l, 1, 1n << 111n)), { fn: 1, arg: 1n << 111n });
    assert.equal(code(() => encodeSid(l, 0, max + 1n)), 'SID_FIELD_RANGE');
  }
  assert.equal(formatSid(sidLayout('fc00::/8', 8), 0xab, 1), 'fcab::1');
  assert.equal(argumentBits(sidLayout('fc00::/16', 1)), 111);
  assert.equal(argumentBits(sidLayout('fc00:a::/96', 32)), 0);
});

test('SID_FIELD_RANGE: function or argument out of range, or not an integer', () => {
  const l = sidLayout('fc00:a::/80');
  assert.equal(code(() => encodeSid(l, 0x10000), /function 65536 does not fit in 16 bits/), 'SID_FIELD_RANGE');
  assert.equal(code(() => encodeSid(l, -1)), 'SID_FIELD_RANGE');
  assert.equal(code(() => encodeSid(l, 1.5)), 'SID_FIELD_RANGE');
  assert.equal(code(() => encodeSid(l, Number.NaN)), 'SID_FIELD_RANGE');
  assert.equal(code(() => encodeSid(l, 1, 1n << 32n), /argument 4294967296 does not fit in 32 bits/), 'SID_FIELD_RANGE');
  assert.equal(code(() => encodeSid(l, 1, -1n)), 'SID_FIELD_RANGE');
  assert.equal(code(() => encodeSid(l, 1, -1)), 'SID_FIELD_RANGE');
  assert.equal(code(() => encodeSid(l, 1, 0.5)), 'SID_FIELD_RANGE');
  assert.equal(code(() => encodeSid(l, 1, 2 ** 60)), 'SID_FIELD_RANGE');
  assert.equal(code(() => formatSid(l, 1, 2 ** 32)), 'SID_FIELD_RANGE');
  const wide = sidLayout('fc00::/64', 32);
  assert.equal(formatSid(wide, 0xffffffff, 0xffffffff), 'fc00::ffff:ffff:ffff:ffff');
  assert.equal(code(() => encodeSid(wide, 2 ** 32)), 'SID_FIELD_RANGE');
});

test('SID_BAD_LAYOUT and BAD_PREFIX; a Prefix6 is validated and its host bits cleared', () => {
  assert.equal(code(() => sidLayout('fc00::/120', 16), /\/120 \+ 16 function bits = 136 bits/), 'SID_BAD_LAYOUT');
  assert.equal(code(() => sidLayout('fc00::/128', 1)), 'SID_BAD_LAYOUT');
  assert.equal(code(() => sidLayout('fc00::/64', 0), /1\.\.32, not 0/), 'SID_BAD_LAYOUT');
  assert.equal(code(() => sidLayout('fc00::/64', 33)), 'SID_BAD_LAYOUT');
  assert.equal(code(() => sidLayout('fc00::/64', 8.5)), 'SID_BAD_LAYOUT');
  assert.equal(code(() => sidLayout('fc00::/112', 16)), 'no error');
  assert.equal(code(() => sidLayout('fc00::')), 'BAD_PREFIX');
  assert.equal(code(() => sidLayout('nope/64')), 'BAD_PREFIX');
  assert.equal(code(() => sidLayout({ addr: Buffer.alloc(4), length: 64 })), 'BAD_PREFIX');
  assert.equal(code(() => sidLayout({ addr: Buffer.alloc(16), length: 129 })), 'BAD_PREFIX');
  const raw = parseAddress('fc00:a::1:2:3');
  const l = sidLayout({ addr: raw, length: 80 });
  assert.equal(formatAddress(l.locator.addr), 'fc00:a::');
  assert.equal(formatAddress(raw), 'fc00:a::1:2:3', "the caller's buffer is not modified");
  assert.equal(formatSid(l, 1, 0), 'fc00:a::1:0:0');
  assert.deepEqual(decodeSid(l, raw), { fn: 1, arg: 0x20003n });
});
