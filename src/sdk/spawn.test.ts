import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { pino, type Logger } from 'pino';
import { isSrError } from '../core/errors.js';
import { checkDescriptor } from './context.js';
import { loadFunction, type FunctionRegistry, type LoaderContext } from './loader.js';
import { MemoryMetrics } from './metrics-memory.js';
import { runFunction } from './testing.js';
import { defineFunction, IDENTITY, type FunctionDescriptor, type FunctionRequirement } from './types.js';

/** a logger whose lines are kept */
function capture(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log: Logger = pino({ level: 'trace' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

function registryOf(...ds: FunctionDescriptor[]): FunctionRegistry {
  return { find: (n) => ds.find((d) => d.name === n) };
}

function ctxOf(registry: FunctionRegistry, extra: Partial<LoaderContext> = {}): LoaderContext {
  return { registry, baseDir: process.cwd(), log: pino({ level: 'silent' }), metricsFor: () => new MemoryMetrics(), ...extra };
}

const FACTS = { flowId: 1, functionId: 4, argument: 0n, sid: 'fc00:a::4:0:0', client: { address: 'fc00:1::2', port: 1 }, server: { address: 'fc00:2::2', port: 2 }, path: ['fc00:a::4:0:0', 'fc00:2::2'], position: 0 };

/** a function whose argument must be even; it counts its spawns and records what it got */
function evenOnly(name: string, spawned: { name: string; arg: unknown }[]) {
  return defineFunction({
    name,
    summary: 'a test function: even arguments only',
    options: z.object({ offset: z.number().default(0) }).strict(),
    init: (o) => ({ offset: o.offset }),
    argument: {
      description: 'an even number',
      parse: (argument, { options, state, reject }) => {
        assert.equal(options.offset, state.offset, 'parse sees the instance’s options and state');
        return argument % 2n === 0n ? Number(argument) + state.offset : reject('odd');
      },
    },
    resets: {},
    spawn(flow) {
      spawned.push({ name, arg: flow.arg });
      return { upstream: IDENTITY, downstream: IDENTITY };
    },
  });
}

test('a rejected argument: FLOW_BAD_ARGUMENT before any part of a chain is spawned, naming the function and why', async () => {
  const spawned: { name: string; arg: unknown }[] = [];
  const a = evenOnly('even-a', spawned);
  const b = evenOnly('even-b', spawned);
  const copyish = defineFunction({ name: 'plain', summary: 'a 0.1 descriptor (no argument parser)', options: z.object({}), spawn: (flow) => (spawned.push({ name: 'plain', arg: flow.arg }), { upstream: IDENTITY, downstream: IDENTITY }) });
  const f = await loadFunction({ id: 4, chain: true, parts: [{ function: 'plain' }, { function: 'even-a' }, { function: 'even-b', options: { offset: 1 } }] }, ctxOf(registryOf(a, b, copyish)), 1, 'functions[0]');
  const { log, lines } = capture();
  let resets = 0;
  const deps = { log, signal: new AbortController().signal, reset: () => void resets++ };
  assert.throws(
    () => f.spawn({ ...FACTS, argument: 3n }, deps),
    (e: unknown) => isSrError(e, 'FLOW_BAD_ARGUMENT') && /^even-a: argument 3: odd$/.test((e as Error).message),
  );
  assert.deepEqual(spawned, [], 'nothing was spawned, not even the parts before the one that rejected');
  assert.equal(resets, 0, 'the proxy, not the SDK, ends the flow');
  assert.ok(lines.some((l) => l['level'] === 40 && l['function'] === 'even-a' && l['error'] === 'odd'), 'the rejection is logged (warn) with the function name');

  // a good one: each part gets its own parse of the same bits in flow.arg; a 0.1 part gets the bigint
  const t = f.spawn({ ...FACTS, argument: 4n }, deps);
  assert.deepEqual(spawned, [
    { name: 'plain', arg: 4n },
    { name: 'even-a', arg: 4 },
    { name: 'even-b', arg: 5 },
  ]);
  t.close?.();
  await f.retire();
});

test('the test harness parses the argument as the proxy does', async () => {
  const spawned: { name: string; arg: unknown }[] = [];
  const d = evenOnly('even', spawned);
  const bad = await runFunction(d, { argument: 7, upstream: Buffer.from('x') });
  assert.equal(bad.reset, 'bad_argument');
  assert.ok(isSrError(bad.error, 'FLOW_BAD_ARGUMENT'));
  assert.equal(bad.upstream.length, 0);
  assert.deepEqual(spawned, []);
  const good = await runFunction(d, { argument: 8, upstream: Buffer.from('x') });
  assert.equal(good.reset, undefined);
  assert.deepEqual(spawned, [{ name: 'even', arg: 8 }]);
});

test('a parser that throws anything but a rejection is a bug in the function, not a bad argument', async () => {
  const d = defineFunction({
    name: 'buggy',
    summary: 'a test function whose parser throws',
    options: z.object({}),
    argument: {
      description: 'anything',
      parse: (): number => {
        throw new TypeError('boom');
      },
    },
    spawn: () => ({ upstream: IDENTITY, downstream: IDENTITY }),
  });
  const r = await runFunction(d, { argument: 1 });
  assert.equal(r.reset, 'function_error');
  assert.ok(r.error instanceof TypeError && !isSrError(r.error));
});

/** a function that resets each flow at once with the reason in options */
const resetter = defineFunction({
  name: 'resetter',
  summary: 'a test function: resets with options.reason',
  options: z.object({ reason: z.string() }).strict(),
  resets: { resetter_done: 'the test said so' },
  spawn(flow) {
    flow.reset(flow.options.reason);
    return { upstream: IDENTITY, downstream: IDENTITY };
  },
});

test('a reset with an undeclared reason still resets, and is logged at error level with the function name', async () => {
  const { log, lines } = capture();
  const r = await runFunction(resetter, { options: { reason: 'made_up' }, log });
  assert.equal(r.reset, 'made_up', 'the flow is still reset, with the reason given');
  const bug = lines.find((l) => l['level'] === 50);
  assert.ok(bug, 'an error line');
  assert.equal(bug['function'], 'resetter');
  assert.equal(bug['reason'], 'made_up');
  assert.match(String(bug['msg']), /function resetter reset a flow with an undeclared reason "made_up"/);

  const ok = capture();
  const declared = await runFunction(resetter, { options: { reason: 'resetter_done' }, log: ok.log });
  assert.equal(declared.reset, 'resetter_done');
  assert.equal(ok.lines.filter((l) => (l['level'] as number) >= 50).length, 0, 'a declared reason logs no error');

  // a 0.1 descriptor declares nothing: its reasons are not checked
  const old = { ...resetter, resets: undefined };
  const o = capture();
  assert.equal((await runFunction(old, { options: { reason: 'anything' }, log: o.log })).reset, 'anything');
  assert.equal(o.lines.filter((l) => (l['level'] as number) >= 50).length, 0);
});

test('the proxy path checks reset reasons too (LoadedFunction)', async () => {
  const f = await loadFunction({ id: 2, chain: false, parts: [{ function: 'resetter', options: { reason: 'nope' } }] }, ctxOf(registryOf(resetter)), 1, 'functions[0]');
  const { log, lines } = capture();
  const got: string[] = [];
  f.spawn(FACTS, { log, signal: new AbortController().signal, reset: (r) => void got.push(r) });
  assert.deepEqual(got, ['nope']);
  assert.ok(lines.some((l) => l['level'] === 50 && l['function'] === 'resetter' && l['reason'] === 'nope'));
  await f.retire();
});

test('declared requirements: a host that does not meet one refuses the function at load, naming the entry', async () => {
  const needy = defineFunction({ name: 'needy', summary: 'a test function that needs MPTCP', options: z.object({}), requires: ['mptcp-userspace'], spawn: () => ({ upstream: IDENTITY, downstream: IDENTITY }) });
  const asked: FunctionRequirement[] = [];
  const ctx = ctxOf(registryOf(needy), { unmet: (r) => (asked.push(r), 'not here') });
  await assert.rejects(loadFunction({ id: 1, chain: true, parts: [{ function: 'needy' }] }, ctx, 1, 'functions[3]'), (e: unknown) => {
    assert.ok(isSrError(e, 'CONFIG_INVALID'), String(e));
    assert.equal((e as Error).message, 'functions[3].chain[0].function: needy requires mptcp-userspace: not here');
    return true;
  });
  assert.deepEqual(asked, ['mptcp-userspace']);
  const met = await loadFunction({ id: 1, chain: false, parts: [{ function: 'needy' }] }, ctxOf(registryOf(needy), { unmet: () => undefined }), 1, 'functions[0]');
  await met.retire();
});

test('checkDescriptor: the table fields are optional (0.1 modules load) and checked when given', () => {
  const base = { name: 'ok', summary: 's', options: z.object({}), spawn: () => ({ upstream: IDENTITY, downstream: IDENTITY }) };
  checkDescriptor(base, 'old.mjs');
  checkDescriptor({ ...base, argument: { description: 'd', parse: () => 1 }, resets: { ok_done: 'd' }, requires: ['mptcp-userspace'] }, 'new.mjs');
  const bad: [object, RegExp][] = [
    [{ argument: { parse: () => 1 } }, /`argument` must be \{ description/],
    [{ argument: { description: 'd' } }, /`argument` must be/],
    [{ resets: ['a'] }, /`resets` must be an object/],
    [{ resets: { 'Bad Reason': 'd' } }, /reset reason "Bad Reason" must be snake_case/],
    [{ resets: { client_reset: 'd' } }, /reset reason "client_reset" must be .*none of the proxy.s own endings/],
    [{ resets: { fine: 3 } }, /reset reason "fine" needs a description/],
    [{ requires: ['teleport'] }, /unknown requirement "teleport" \(known: mptcp-userspace\)/],
    [{ requires: 'mptcp-userspace' }, /`requires` must be an array/],
  ];
  for (const [extra, re] of bad) {
    assert.throws(
      () => checkDescriptor({ ...base, ...extra }, 'm.mjs'),
      (e: unknown) => isSrError(e, 'BAD_FUNCTION_MODULE') && re.test((e as Error).message),
      JSON.stringify(extra),
    );
  }
});

test('a flow context reads the flow’s log and signal only when the function does; a spread copy still has both', async () => {
  let seen: Record<string, unknown> | undefined;
  const plain = defineFunction({
    name: 'plain',
    summary: 'a test function that keeps a spread copy of its context',
    options: z.object({}).strict(),
    spawn: (flow) => {
      seen = { ...flow };
      return { upstream: IDENTITY, downstream: IDENTITY };
    },
  });
  const quiet = defineFunction({ name: 'quiet', summary: 'a test function that reads nothing', options: z.object({}).strict(), spawn: () => ({ upstream: IDENTITY, downstream: IDENTITY }) });
  const { log } = capture();
  const signal = new AbortController().signal;
  const reads: string[] = [];
  const deps = {
    get log() {
      reads.push('log');
      return log;
    },
    get signal() {
      reads.push('signal');
      return signal;
    },
    reset: () => undefined,
  };
  const q = await loadFunction({ id: 1, chain: false, parts: [{ function: 'quiet' }] }, ctxOf(registryOf(quiet)), 1, 'functions[0]');
  q.spawn(FACTS, deps);
  assert.deepEqual(reads, [], 'a function that reads neither costs no logger and no signal');
  const p = await loadFunction({ id: 2, chain: false, parts: [{ function: 'plain' }] }, ctxOf(registryOf(plain)), 1, 'functions[1]');
  p.spawn(FACTS, deps);
  assert.equal(seen!['log'], log);
  assert.equal(seen!['signal'], signal);
  assert.equal(seen!['flowId'], FACTS.flowId);
  await q.retire();
  await p.retire();
});
