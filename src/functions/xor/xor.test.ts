import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { xorInPlace } from './xor.js';
import { xor } from './index.js';
import { pino } from 'pino';

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

test('xor function: key is the low 8 bits of the argument, both directions', () => {
  const ctx = {
    flowId: 1, functionId: 2, argument: 0x1234n, sid: 'fc00:a::2:0:1234',
    client: { address: 'fc00:1::2', port: 1 }, server: { address: 'fc00:2::2', port: 80 },
    path: ['fc00:a::2:0:1234', 'fc00:2::2'], position: 0, log: pino({ level: 'silent' }),
  };
  const opts = xor.options.parse({ passes: 1 });
  const t = xor.spawn(ctx, opts);
  const out = t.upstream.data(Buffer.from([0x00, 0xff]));
  assert.deepEqual(out, Buffer.from([0x34, 0xcb]));
  assert.deepEqual(t.downstream.data(Buffer.from([0x34])), Buffer.from([0x00]));
});

test('xor options: passes defaults to 1, rejects negatives and unknown fields', () => {
  assert.equal(xor.options.parse({}).passes, 1);
  assert.equal(xor.options.safeParse({ passes: -1 }).success, false);
  assert.equal(xor.options.safeParse({ pases: 2 }).success, false);
});
