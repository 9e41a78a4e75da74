import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import pino from 'pino';
import { SrError } from '../core/errors.js';
import type { FlowEnd } from '../sdk/flow-end.js';
import type { WorkerHandlers } from './ipc.js';
import { askLocal, EXIT_BUG, guardProcess, workerHandlers } from './worker-api.js';
import type { ProxyWorker } from './worker.js';

const log = pino({ level: 'silent' });

function handlers(over: Partial<WorkerHandlers> = {}): WorkerHandlers {
  return {
    flows: () => [],
    stats: () => ({ functions: [], rejected: {}, accepted: 5 }),
    metrics: async () => [],
    functions: () => [],
    load: () => 2,
    unload: () => ({ reset: 0 }),
    reload: () => 3,
    apply: () => ({ loaded: [], unloaded: [], kept: [] }),
    drain: () => ({ remaining: 0 }),
    reopenLogs: () => null,
    ...over,
  };
}

test('the handler table calls the worker: each op reaches the method that answers it', async () => {
  const calls: string[] = [];
  const fake = {
    flowTable: () => (calls.push('flowTable'), []),
    statsSnapshot: () => (calls.push('statsSnapshot'), { functions: [], rejected: {}, accepted: 1 }),
    metricsSnapshot: async () => (calls.push('metricsSnapshot'), []),
    listFunctions: () => (calls.push('listFunctions'), []),
    functions: {
      load: async (spec: { id: number }) => (calls.push(`load ${spec.id}`), { version: 4 }),
      unload: async (id: number, d: number) => (calls.push(`unload ${id} ${d}`), { reset: 2 }),
      reload: async (id: number) => (calls.push(`reload ${id}`), { version: 5 }),
    },
    applyFunctions: (specs: unknown[]) => (calls.push(`apply ${specs.length}`), { loaded: [], unloaded: [], kept: [] }),
    drain: async (d: number) => (calls.push(`drain ${d}`), { remaining: 0 }),
    reopenLogs: () => void calls.push('reopenLogs'),
  } as unknown as ProxyWorker;
  const h = workerHandlers(fake);
  assert.equal(await h.load({ spec: { id: 7, parts: [{ function: 'copy' }], chain: false } }), 4);
  assert.deepEqual(await h.unload({ id: 7, deadlineMs: 10 }), { reset: 2 });
  assert.equal(await h.reload({ id: 7 }), 5);
  await h.flows({});
  await h.stats({});
  await h.metrics({});
  await h.functions({});
  await h.apply({ specs: [] });
  await h.drain({ deadlineMs: 9 });
  await h.reopenLogs({});
  assert.deepEqual(calls, ['load 7', 'unload 7 10', 'reload 7', 'flowTable', 'statsSnapshot', 'metricsSnapshot', 'listFunctions', 'apply 0', 'drain 9', 'reopenLogs']);
});

test('askLocal answers what the handler returns', async () => {
  assert.deepEqual(await askLocal(handlers(), 'stats', {}, 1000, log), { functions: [], rejected: {}, accepted: 5 });
  assert.equal(await askLocal(handlers(), 'reload', { id: 1 }, 1000, log), 3);
});

test('askLocal: an SrError keeps its code; any other error becomes a plain Error with its message (as over IPC)', async () => {
  const notLoaded = handlers({ reload: () => { throw new SrError('FUNCTION_NOT_LOADED', 'no function 9'); } });
  await assert.rejects(askLocal(notLoaded, 'reload', { id: 9 }, 1000, log), (e: unknown) => e instanceof SrError && e.code === 'FUNCTION_NOT_LOADED' && e.message === 'no function 9');
  const bug = handlers({ flows: async () => { throw new TypeError('x is undefined'); } });
  await assert.rejects(askLocal(bug, 'flows', {}, 1000, log), (e: unknown) => e instanceof Error && !(e instanceof SrError) && e.constructor === Error && e.message === 'x is undefined');
});

test('askLocal: a handler that does not answer in time is INTERNAL "did not answer", as over IPC', async () => {
  const stuck = handlers({ drain: () => new Promise(() => undefined) });
  await assert.rejects(askLocal(stuck, 'drain', { deadlineMs: 0 }, 30, log, 0), (e: unknown) => e instanceof SrError && e.code === 'INTERNAL' && /worker 0 did not answer drain in 30 ms/.test(e.message));
});

function guarded(lastWords: () => Promise<void>, lastWordsMs = 1000) {
  const proc = new EventEmitter();
  const bugs: string[] = [];
  const resets: FlowEnd[] = [];
  const exits: number[] = [];
  let exited!: () => void;
  const exitedP = new Promise<void>((r) => (exited = r));
  const worker = { countBug: (k: string) => void bugs.push(k), resetAll: (end: FlowEnd) => void resets.push(end) };
  guardProcess(worker, log, { role: 'test', lastWords, lastWordsMs, exit: (c) => (exits.push(c), exited()) }, proc as unknown as NodeJS.Process);
  return { proc, bugs, resets, exits, exitedP };
}

test('guard: an unhandled rejection is counted and the process goes on', () => {
  let spoke = false;
  const g = guarded(async () => void (spoke = true));
  g.proc.emit('unhandledRejection', new Error('lost'));
  g.proc.emit('unhandledRejection', new Error('lost again'));
  assert.deepEqual(g.bugs, ['unhandledRejection', 'unhandledRejection']);
  assert.deepEqual([g.resets, g.exits, spoke], [[], [], false]);
});

test('guard: an uncaught exception counts, resets every flow, says its last words, then exits 70 (once)', async () => {
  const order: string[] = [];
  const g = guarded(async () => {
    order.push('last words');
  });
  g.proc.emit('uncaughtException', new Error('boom'), 'uncaughtException');
  g.proc.emit('uncaughtException', new Error('boom 2'), 'uncaughtException');
  await g.exitedP;
  order.push('exit');
  assert.deepEqual(g.bugs, ['uncaughtException']);
  assert.deepEqual(g.resets, [{ kind: 'worker_exit' }]);
  assert.deepEqual(g.exits, [EXIT_BUG]);
  assert.deepEqual(order, ['last words', 'exit']);
});

test('guard: last words that fail or hang do not keep the process from exiting 70', async () => {
  const failing = guarded(async () => {
    throw new Error('nft gone');
  });
  failing.proc.emit('uncaughtException', new Error('boom'), 'uncaughtException');
  await failing.exitedP;
  assert.deepEqual(failing.exits, [EXIT_BUG]);
  const hanging = guarded(() => new Promise(() => undefined), 20);
  hanging.proc.emit('uncaughtException', new Error('boom'), 'uncaughtException');
  await hanging.exitedP;
  assert.deepEqual(hanging.exits, [EXIT_BUG]);
  const throwing = guarded(() => {
    throw new Error('sync');
  });
  throwing.proc.emit('uncaughtException', new Error('boom'), 'uncaughtException');
  await throwing.exitedP;
  assert.deepEqual(throwing.exits, [EXIT_BUG]);
});
