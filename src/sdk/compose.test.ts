import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { asymmetricTransforms, composeTransforms } from './compose.js';
import { nativeOf } from './native-ops.js';
import { IDENTITY, type FlowTransforms, type SyncTransform } from './types.js';

const tag = (t: string): SyncTransform => ({ data: (c) => Buffer.concat([Buffer.from(t), c]) });

test('asymmetric: the forward upstream and the backward function’s upstream; both released; the forward carrier kept', () => {
  const closed: string[] = [];
  const unusedStream = new PassThrough();
  const carrier = { open: () => { throw new Error('not here'); } };
  const forward: FlowTransforms = { upstream: tag('F>'), downstream: unusedStream, close: () => closed.push('forward'), carrier };
  const backward: FlowTransforms = { upstream: tag('B>'), downstream: tag('unused'), close: () => closed.push('backward') };
  const t = asymmetricTransforms(forward, backward);
  assert.equal((t.upstream as SyncTransform).data(Buffer.from('x'))!.toString(), 'F>x');
  assert.equal((t.downstream as SyncTransform).data(Buffer.from('y'))!.toString(), 'B>y', 'the function on the return path works on the bytes along it');
  assert.equal(t.carrier, carrier);
  t.close!();
  assert.deepEqual(closed, ['forward', 'backward']);
  assert.equal(unusedStream.destroyed, true, 'an unused stream direction is destroyed');
});

test('asymmetric: a close() that throws is reported after both are released', () => {
  const closed: string[] = [];
  const forward: FlowTransforms = { upstream: tag('F'), downstream: tag('F'), close: () => { throw new Error('boom'); } };
  const backward: FlowTransforms = { upstream: tag('B'), downstream: tag('B'), close: () => closed.push('backward') };
  assert.throws(() => asymmetricTransforms(forward, backward).close!(), /boom/);
  assert.deepEqual(closed, ['backward']);
});

test('a chain is native when every part is: the ops concatenated in order, sync or stream alike', () => {
  const a = { data: (c: Buffer) => c, native: [{ op: 'xor', key: 1, passes: 1 }] as const };
  const b = { data: (c: Buffer) => c, native: [{ op: 'xor', key: 2, passes: 3 }] as const };
  const limiter = Object.assign(new PassThrough(), { native: [{ op: 'ratelimit', rate: 10, burst: 5 }] as const });
  assert.deepEqual(nativeOf(composeTransforms([a, IDENTITY, b])), [...a.native, ...b.native]);
  const dispose = (d: unknown): void => void (d as PassThrough).on('error', () => undefined).destroy();
  const mixed = composeTransforms([a, limiter, b]);
  assert.deepEqual(nativeOf(mixed), [a.native[0], limiter.native[0], b.native[0]]);
  dispose(mixed);
  assert.equal(nativeOf(composeTransforms([a, { data: (c: Buffer) => c }])), undefined, 'a part without a native description: JavaScript');
  const js = composeTransforms([a, new PassThrough()]);
  assert.equal(nativeOf(js), undefined);
  dispose(js);
});
