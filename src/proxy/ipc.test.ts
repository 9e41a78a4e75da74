import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dispatch, wireCode, type WorkerHandlers } from './ipc.js';

const stats = { functions: [], rejected: {}, accepted: 3 };

function fakeWorker(calls: string[]): WorkerHandlers {
  return {
    flows: () => [],
    stats: () => stats,
    metrics: async () => [],
    functions: () => [],
    load: ({ spec }) => (calls.push(`load ${spec.id}`), 2),
    unload: async ({ id, deadlineMs }) => (calls.push(`unload ${id} ${deadlineMs}`), { reset: 1 }),
    reload: ({ id }) => (calls.push(`reload ${id}`), 3),
    apply: () => ({ loaded: [1], unloaded: [], kept: [] }),
    drain: ({ deadlineMs }) => ({ remaining: deadlineMs > 0 ? 0 : 1 }),
    reopenLogs: () => (calls.push('reopenLogs'), null),
  };
}

test('dispatch runs the handler named by the op with its arguments, and answers what it returns', async () => {
  const calls: string[] = [];
  const h = fakeWorker(calls);
  assert.equal(await dispatch(h, 'load', { spec: { id: 7, parts: [{ function: 'copy' }], chain: false } }), 2);
  assert.deepEqual(await dispatch(h, 'unload', { id: 7, deadlineMs: 100 }), { reset: 1 });
  assert.equal(await dispatch(h, 'reload', { id: 7 }), 3);
  assert.deepEqual(await dispatch(h, 'stats', {}), stats);
  assert.deepEqual(await dispatch(h, 'drain', { deadlineMs: 0 }), { remaining: 1 });
  assert.deepEqual(calls, ['load 7', 'unload 7 100', 'reload 7']);
});

test('a handler that throws, synchronously or not, rejects the answer (the worker reports it, it does not crash)', async () => {
  const h = { ...fakeWorker([]), flows: () => { throw new Error('boom'); } } satisfies WorkerHandlers;
  await assert.rejects(dispatch(h, 'flows', {}), /boom/);
});

test('an error code from the wire is a known code or INTERNAL', () => {
  assert.equal(wireCode('FUNCTION_NOT_LOADED'), 'FUNCTION_NOT_LOADED');
  assert.equal(wireCode('NOT_A_CODE'), 'INTERNAL');
  assert.equal(wireCode('toString'), 'INTERNAL');
  assert.equal(wireCode(42), 'INTERNAL');
});
