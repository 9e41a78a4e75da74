import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { xorInPlace } from './xor.js';
import { xor } from './index.js';
import { initFunction, runFunction } from '../../sdk/testing.js';

function reference(buf: Uint8Array, key: number, passes: number): Buffer {
  const out = Buffer.from(buf);
  for (let p = 0; p < passes; p++) for (let i = 0; i < out.length; i++) out[i] = out[i]! ^ key;
  return out;
}

test('xorInPlace matches a byte loop for every alignment and length', () => {
  const base = randomBytes(300);
  for (let off = 0; off < 8; off++) {
    for (const len of [0, 1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 255]) {
      const view = Buffer.from(base).subarray(off, off + len);
      const want = reference(view, 0xa5, 1);
      xorInPlace(view, 0xa5, 1);
      assert.deepEqual(Buffer.from(view), want, `offset ${off} length ${len}`);
    }
  }
});

test('xorInPlace with even passes is the identity, odd passes equal one pass', () => {
  const data = randomBytes(4097);
  const two = Buffer.from(data);
  xorInPlace(two, 0x3c, 2);
  assert.deepEqual(two, data);
  const three = Buffer.from(data);
  xorInPlace(three, 0x3c, 3);
  assert.deepEqual(three, reference(data, 0x3c, 1));
});

test('xor function: key is the low 8 bits of the argument, both directions', async () => {
  const r = await runFunction(xor, { argument: 0x1234n, upstream: Buffer.from([0x00, 0xff]), downstream: Buffer.from([0x34]) });
  assert.equal(r.reset, undefined);
  assert.deepEqual(r.upstream, Buffer.from([0x34, 0xcb]));
  assert.deepEqual(r.downstream, Buffer.from([0x00]));
});

test('xor options: passes defaults to 1, rejects negatives and unknown fields', async () => {
  assert.equal((await initFunction(xor, {})).options.passes, 1);
  await assert.rejects(initFunction(xor, { passes: -1 }), /options\.passes/);
  await assert.rejects(initFunction(xor, { pases: 2 }), /CONFIG_INVALID|pases|Unrecognized/);
});
