import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { z } from 'zod';
import type { FunctionRegistry } from './loader.js';
import { MemoryMetrics } from './metrics-memory.js';
import { FunctionTable } from './table.js';
import { defineFunction, IDENTITY } from './types.js';

const plain = (name: string) => defineFunction({ name, summary: 'a test function', options: z.object({}), spawn: () => ({ upstream: IDENTITY, downstream: IDENTITY }) });
const FUNCTIONS = [plain('copy'), plain('xor')];
const registry: FunctionRegistry = { find: (n) => FUNCTIONS.find((d) => d.name === n) };
const ctx = () => ({ registry, baseDir: process.cwd(), log: pino({ level: 'silent' }), metricsFor: () => new MemoryMetrics() });

// what the native accept learnt (worker.ts: the early table and its decisions) is forgotten on each call
test('onChange: called whenever the entry new flows get changes — load, reload, unload, apply — and not when apply keeps everything', async () => {
  let changes = 0;
  const t = new FunctionTable(ctx(), () => void changes++);
  await t.load({ id: 1, chain: false, parts: [{ function: 'copy' }] });
  assert.equal(changes, 1, 'load');
  assert.equal(t.get(1)?.id, 1);
  await t.reload(1);
  assert.equal(changes, 2, 'reload');
  await t.unload(1, 1000);
  assert.equal(changes, 3, 'unload');
  assert.equal(t.get(1), undefined);
  await t.apply([{ id: 1, chain: false, parts: [{ function: 'copy' }] }, { id: 2, chain: false, parts: [{ function: 'xor' }] }], 1000);
  assert.equal(changes, 4, 'apply: two entries loaded, one call');
  await t.apply([{ id: 1, chain: false, parts: [{ function: 'copy' }] }, { id: 2, chain: false, parts: [{ function: 'xor' }] }], 1000);
  assert.equal(changes, 4, 'apply: nothing changed');
  await t.apply([{ id: 1, chain: false, parts: [{ function: 'copy' }] }], 1000);
  assert.equal(changes, 5, 'apply: id 2 unloaded');
  await assert.rejects(t.apply([{ id: 3, chain: false, parts: [{ function: 'no-such-function' }] }], 1000));
  assert.equal(changes, 5, 'a failed apply changes nothing');
  await t.close();
});
