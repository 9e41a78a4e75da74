import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { asymmetricTransforms } from './compose.js';
import type { FlowTransforms, SyncTransform } from './types.js';

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
