import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isSrError } from '../errors.js';
import { parseAddress } from '../net/ip6.js';
import { argumentBits, decodeSid, encodeSid, formatSid, sidLayout } from './sid.js';

test("the paper's layout: /80 locator, 16 function bits, 32 argument bits", () => {
  const l = sidLayout('fc00:a::/80');
  assert.equal(argumentBits(l), 32);
  assert.equal(formatSid(l, 1, 0), 'fc00:a::1:0:0');
  assert.equal(formatSid(l, 2, 0x5a), 'fc00:a::2:0:5a');
  const b = encodeSid(l, 0xbeef, 0xdeadbeefn);
  assert.equal(b.readUInt16BE(10), 0xbeef, 'function = bytes 10-11');
  assert.equal(b.readUInt32BE(12), 0xdeadbeef, 'argument = bytes 12-15');
  assert.deepEqual(decodeSid(l, b), { fn: 0xbeef, arg: 0xdeadbeefn });
  assert.deepEqual(decodeSid(l, parseAddress('fc00:a::3:1:2')), { fn: 3, arg: 0x10002n });
});

test('outside the locator → null; offsets are honoured', () => {
  const l = sidLayout('fc00:a::/80');
  assert.equal(decodeSid(l, parseAddress('fc00:b::1:0:0')), null);
  assert.equal(decodeSid(l, parseAddress('fc00:a:0:0:1::')), null, 'bits 64-79 differ');
  const buf = Buffer.concat([Buffer.alloc(5), encodeSid(l, 9, 9)]);
  assert.deepEqual(decodeSid(l, buf, 5), { fn: 9, arg: 9n });
});

test('non-byte-aligned layouts: /52 locator with 12 function bits; /61 with 7', () => {
  const l = sidLayout('fc00:abcd:1230::/52', 12);
  assert.equal(argumentBits(l), 64);
  const b = encodeSid(l, 0xabc, 0x0123456789abcdefn);
  assert.equal(b.toString('hex'), 'fc00abcd1230' + '0abc' + '0123456789abcdef');
  assert.deepEqual(decodeSid(l, b), { fn: 0xabc, arg: 0x0123456789abcdefn });
  const m = sidLayout('fc00::/61', 7);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 127 }), fc.bigInt({ min: 0n, max: (1n << 60n) - 1n }), (fn, arg) => {
      assert.deepEqual(decodeSid(m, encodeSid(m, fn, arg)), { fn, arg });
    }),
  );
});

test('0 argument bits and 112 argument bits', () => {
  const full = sidLayout('fc00:1:2:3:4:5:6::/112', 16);
  assert.equal(argumentBits(full), 0);
  assert.deepEqual(decodeSid(full, encodeSid(full, 0xffff)), { fn: 0xffff, arg: 0n });
  const wide = sidLayout('fc00::/16', 1);
  assert.equal(argumentBits(wide), 111);
  const top = sidLayout('fc00::/8', 8);
  assert.equal(argumentBits(top), 112);
  const max = (1n << 112n) - 1n;
  assert.deepEqual(decodeSid(top, encodeSid(top, 255, max)), { fn: 255, arg: max });
});

test('range and layout errors', () => {
  const l = sidLayout('fc00:a::/80');
  assert.throws(() => encodeSid(l, 0x10000), (e) => isSrError(e, 'SID_FIELD_RANGE'));
  assert.throws(() => encodeSid(l, -1), (e) => isSrError(e, 'SID_FIELD_RANGE'));
  assert.throws(() => encodeSid(l, 1, 1n << 32n), (e) => isSrError(e, 'SID_FIELD_RANGE'));
  assert.throws(() => sidLayout('fc00::/120', 16), (e) => isSrError(e, 'SID_BAD_LAYOUT'));
  assert.throws(() => sidLayout('fc00::/64', 0), (e) => isSrError(e, 'SID_BAD_LAYOUT'));
  assert.throws(() => sidLayout('fc00::/64', 33), (e) => isSrError(e, 'SID_BAD_LAYOUT'));
  assert.throws(() => sidLayout('fc00::'), (e) => isSrError(e, 'BAD_PREFIX'));
});
