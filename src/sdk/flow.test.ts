import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { ERROR_CODES } from '../core/errors.js';
import { expireIdle, Flow, type FlowCounters, type FlowDeps, type Outbound } from './flow.js';
import { FLOW_ENDS, flowEndLabel, type FlowEnd } from './flow-end.js';
import { MemoryEnd } from './memory-stream.js';
import { relay } from './relay.js';
import { IDENTITY, type FlowTransforms } from './types.js';

const FACTS = { flowId: 7, functionId: 3, argument: 0n, sid: 'fc00:a::3:0:0', client: { address: 'fc00:1::2', port: 40000 }, server: { address: 'fc00:2::2', port: 80 }, path: ['fc00:a::3:0:0', 'fc00:2::2'], position: 0 };

interface Setup {
  client?: MemoryEnd;
  server?: MemoryEnd;
  /** 'now': the server side connects on the next tick; 'never': it does not */
  connect?: 'now' | 'never';
  transforms?: () => FlowTransforms;
  deps?: Partial<FlowDeps>;
  outbound?: Partial<Outbound>;
}

function counters(): FlowCounters {
  return { flowsTotal: 0, flowsActive: 0, bytesUp: 0, bytesDown: 0, endings: {} };
}

/** A flow over in-memory streams; records which sides the flow reset, its log lines and when it closes. */
function setup(o: Setup = {}) {
  const client = o.client ?? new MemoryEnd({ chunks: [Buffer.from('hello')] });
  const server = o.server ?? new MemoryEnd({ chunks: [Buffer.from('world')] });
  const resets: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const c = counters();
  let opened = 0;
  let clock = 1000;
  let done!: (f: Flow) => void;
  const closed = new Promise<Flow>((r) => (done = r));
  const flow = new Flow(client, {
    log,
    facts: FACTS,
    counters: c,
    connectTimeoutMs: 0,
    now: () => clock,
    // as resetSocket: a stream already gone (its peer reset it) is left alone
    ops: { reset: (s: Duplex) => void (!s.destroyed && (resets.push(s === client ? 'client' : 'server'), s.destroy())), abortive: () => undefined, orderly: () => undefined },
    spawn: () => (o.transforms ? o.transforms() : { upstream: IDENTITY, downstream: IDENTITY }),
    outbound: () => {
      opened++;
      return { stream: server, connect: () => (o.connect ?? 'now') === 'now' && process.nextTick(() => server.emit('connect')), ...o.outbound };
    },
    onClosed: (f) => done(f),
    ...o.deps,
  });
  return { flow, client, server, resets, lines, counters: c, closed, opened: () => opened, tick: (ms: number) => (clock += ms) };
}

const resetError = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
const label = (f: Flow): string => flowEndLabel(f.end!);

test('a flow whose both sides end in order: everything delivered, ok, counted', async () => {
  const s = setup();
  s.flow.start();
  assert.equal(s.counters.flowsActive, 1);
  const f = await s.closed;
  assert.equal(label(f), 'ok');
  assert.equal(f.state, 'closed');
  assert.equal(s.server.output.toString(), 'hello');
  assert.equal(s.client.output.toString(), 'world');
  assert.deepEqual(s.resets, []);
  assert.deepEqual(s.counters, { flowsTotal: 1, flowsActive: 0, bytesUp: 5, bytesDown: 5, endings: { ok: 1 } });
  assert.equal(f.progress(1000).end, 'ok');
});

test('half-close: the client’s FIN reaches the server while the server goes on sending', async () => {
  const server = new MemoryEnd({ holdOpen: true });
  const s = setup({ server });
  s.flow.start();
  await once(server, 'finish'); // the client's direction ended: the server side got its FIN
  assert.equal(server.output.toString(), 'hello');
  assert.equal(s.flow.state, 'open');
  server.send(Buffer.from('after the client’s FIN'));
  server.send();
  const f = await s.closed;
  assert.equal(label(f), 'ok');
  assert.equal(s.client.output.toString(), 'after the client’s FIN');
  assert.deepEqual(s.resets, []);
});

test('a client reset resets the server side: client_reset', async () => {
  const client = new MemoryEnd({ holdOpen: true });
  const server = new MemoryEnd({ holdOpen: true });
  const s = setup({ client, server });
  s.flow.start();
  await once(server, 'connect');
  await new Promise((r) => setImmediate(r));
  assert.equal(s.flow.state, 'open');
  client.destroy(resetError());
  const f = await s.closed;
  assert.equal(label(f), 'client_reset');
  assert.deepEqual(s.resets, ['server']);
  assert.equal(s.counters.endings['client_reset'], 1);
  const line = s.lines.find((l) => l['msg'] === 'flow reset')!;
  assert.deepEqual([line['reason'], line['by'], line['error']], ['client_reset', 'client', 'ECONNRESET']);
});

test('a server reset resets the client side: server_reset; before connecting it is connect_failed', async () => {
  const server = new MemoryEnd({ holdOpen: true });
  const s = setup({ client: new MemoryEnd({ holdOpen: true }), server });
  s.flow.start();
  await once(server, 'connect');
  await new Promise((r) => setImmediate(r));
  server.destroy(resetError());
  assert.equal(label(await s.closed), 'server_reset');
  assert.deepEqual(s.resets, ['client']);

  const refused = new MemoryEnd();
  const t = setup({ server: refused, connect: 'never' });
  t.flow.start();
  refused.destroy(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  assert.equal(label(await t.closed), 'connect_failed');
  assert.equal(t.lines.find((l) => l['msg'] === 'flow reset')!['code'], 'FLOW_CONNECT_FAILED');
});

test('a server side not up within connectTimeoutMs: connect_timeout, both sides reset', async () => {
  const s = setup({ connect: 'never', deps: { connectTimeoutMs: 20 } });
  s.flow.start();
  const f = await s.closed;
  assert.equal(label(f), 'connect_timeout');
  assert.deepEqual(s.resets.sort(), ['client', 'server']);
  assert.equal(s.client.output.length + s.server.output.length, 0, 'nothing relayed');
});

test('back-pressure: a slow server side pauses the client side, and gets every byte', async () => {
  const data = Buffer.alloc(1 << 20, 7);
  const chunks = Array.from({ length: 16 }, (_, i) => data.subarray(i << 16, (i + 1) << 16));
  const client = new MemoryEnd({ chunks });
  let pauses = 0;
  client.on('pause', () => !client.readableEnded && pauses++);
  const s = setup({ client, server: new MemoryEnd({ slow: true }) });
  s.flow.start();
  await s.closed;
  assert.ok(pauses > 0, 'the client side was paused');
  assert.ok(s.server.output.equals(data));
  assert.equal(s.counters.bytesUp, data.length);
});

test('idle timeout: an open flow with no byte moved past the limit ends as idle_timeout (FLOW_TIMEOUT); a connecting one does not', async () => {
  const server = new MemoryEnd({ holdOpen: true });
  const s = setup({ client: new MemoryEnd({ holdOpen: true }), server });
  s.flow.start();
  await once(server, 'connect');
  await new Promise((r) => setImmediate(r));
  const waiting = setup({ connect: 'never' });
  waiting.flow.start();
  assert.equal(expireIdle([s.flow, waiting.flow], 1000 + 50, 100), 0, 'not idle long enough');
  assert.equal(expireIdle([s.flow, waiting.flow], 1000 + 101, 100), 1);
  const f = await s.closed;
  assert.equal(label(f), 'idle_timeout');
  assert.equal(s.lines.find((l) => l['msg'] === 'flow reset')!['code'], 'FLOW_TIMEOUT');
  assert.equal(waiting.flow.state, 'connecting');
  waiting.flow.fail({ kind: 'drain_deadline' });
  await waiting.closed;
});

test('activity moves the idle clock', async () => {
  const client = new MemoryEnd({ holdOpen: true });
  const server = new MemoryEnd({ holdOpen: true });
  const s = setup({ client, server });
  s.flow.start();
  await once(server, 'connect');
  await new Promise((r) => setImmediate(r));
  s.tick(500);
  client.send(Buffer.from('x'));
  while (server.received.length === 0) await new Promise((r) => setImmediate(r));
  assert.equal(s.flow.lastActivity, 1500);
  assert.equal(expireIdle([s.flow], 1550, 100), 0);
  s.flow.fail({ kind: 'drain_deadline' });
  await s.closed;
});

test('drain: the deadline resets both sides, counted as drain_deadline; the first reason wins', async () => {
  const server = new MemoryEnd({ holdOpen: true });
  const s = setup({ client: new MemoryEnd({ holdOpen: true }), server });
  s.flow.start();
  await once(server, 'connect');
  s.flow.fail({ kind: 'drain_deadline' });
  s.flow.fail({ kind: 'worker_exit' });
  const f = await s.closed;
  assert.equal(label(f), 'drain_deadline');
  assert.deepEqual(s.resets.sort(), ['client', 'server']);
  assert.deepEqual(s.counters.endings, { drain_deadline: 1 });
  assert.equal(s.counters.flowsActive, 0);
});

test('a function that resets from inside spawn: nothing is opened, the flow ends labelled with its reason', async () => {
  let flowRef: Flow | undefined;
  const s = setup({
    deps: {
      spawn: (d) => {
        d.reset('ids_blocked');
        return { upstream: IDENTITY, downstream: IDENTITY, close: () => void (flowRef = s.flow) };
      },
    },
  });
  s.flow.start();
  const f = await s.closed;
  assert.deepEqual(f.end, { kind: 'function_reset', reason: 'ids_blocked' });
  assert.equal(label(f), 'ids_blocked');
  assert.equal(s.opened(), 0, 'no server side');
  assert.ok(flowRef, 'the transforms were released');
  assert.deepEqual(s.counters.endings, { ids_blocked: 1 });
});

test('a transform that throws ends its flow as function_error (logged); a failing carrier hook too', async () => {
  const s = setup({ transforms: () => ({ upstream: { data: () => { throw new Error('boom'); } }, downstream: IDENTITY }) });
  s.flow.start();
  const f = await s.closed;
  assert.equal(label(f), 'function_error');
  assert.ok(s.lines.some((l) => l['msg'] === 'function failed' && l['level'] === 50));
  const t = setup({ outbound: { connected: () => { throw new Error('carrier'); } } });
  t.flow.start();
  assert.equal(label(await t.closed), 'function_error');
});

test('a refused reply SRH ends the flow as return_path_failed (RETURN_PATH_REFUSED); a carrier that cannot open: connect_failed', async () => {
  const s = setup({ deps: { prepareInbound: () => { throw new Error('EINVAL'); } } });
  s.flow.start();
  assert.equal(label(await s.closed), 'return_path_failed');
  assert.equal(s.lines.find((l) => l['msg'] === 'flow reset')!['code'], 'RETURN_PATH_REFUSED');
  assert.equal(s.opened(), 0);
  const t = setup({ deps: { outbound: () => { throw new Error('EMFILE'); } } });
  t.flow.start();
  assert.equal(label(await t.closed), 'connect_failed');
});

test('the relay is injected: both directions go through it', async () => {
  const calls: string[] = [];
  const s = setup({ deps: { relay: (src, dst, tr, st, hooks) => (calls.push(src === s.client ? 'up' : 'down'), relay(src, dst, tr, st, hooks)) } });
  s.flow.start();
  await s.closed;
  assert.deepEqual(calls, ['up', 'down']);
});

test('endings: one table, labels as operators see them, codes that exist, function reasons that cannot pass for the proxy’s own', () => {
  for (const [k, row] of Object.entries(FLOW_ENDS)) {
    assert.match(k, /^[a-z][a-z_]*$/);
    if ('code' in row) assert.ok(Object.hasOwn(ERROR_CODES, row.code), `${k}: ${row.code}`);
  }
  const cases: [FlowEnd, string][] = [
    [{ kind: 'ok' }, 'ok'],
    [{ kind: 'rejected', code: 'PROXY_DRAINING', reason: 'stopping' }, 'PROXY_DRAINING'],
    [{ kind: 'function_reset', reason: 'mptcp_bad_policy' }, 'mptcp_bad_policy'],
    [{ kind: 'function_reset', reason: 'ok' }, 'function_reset'],
    [{ kind: 'function_reset', reason: 'Not A Label!' }, 'function_reset'],
    [{ kind: 'function_reset', reason: 'x'.repeat(100) }, 'function_reset'],
  ];
  for (const [e, l] of cases) assert.equal(flowEndLabel(e), l, JSON.stringify(e));
});

test('a function that reads neither log nor signal costs the flow no child logger and no AbortController', async () => {
  let children = 0;
  const s = setup({ deps: { spawn: () => ({ upstream: IDENTITY, downstream: IDENTITY }) } });
  const log = (s.flow as unknown as { deps: FlowDeps }).deps.log;
  const child = log.child.bind(log);
  log.child = ((...a: Parameters<typeof child>) => (children++, child(...a))) as typeof log.child;
  s.flow.start();
  const f = await s.closed;
  assert.equal(label(f), 'ok');
  assert.equal(children, 0, 'no log.child() for a flow whose function never logged');
  assert.equal((f as unknown as { abort: unknown }).abort, undefined, 'no AbortController for a flow whose function never read its signal');
});

test('the signal and log a function reads: the flow’s own (flow id), aborted when the flow ends, aborted at once when first read after it', async () => {
  let signal: AbortSignal | undefined;
  let fnLog: FlowDeps['log'] | undefined;
  let late: { readonly signal: AbortSignal } | undefined;
  const s = setup({
    deps: {
      spawn: (d) => {
        signal = d.signal;
        fnLog = d.log;
        late = d;
        return { upstream: IDENTITY, downstream: IDENTITY };
      },
    },
  });
  s.flow.start();
  assert.equal(signal!.aborted, false);
  const aborted = once(signal!, 'abort');
  fnLog!.info('from the function');
  await s.closed;
  await aborted;
  assert.equal(signal!.aborted, true);
  assert.equal(signal!.reason.name, 'AbortError');
  assert.equal(s.lines.find((l) => l['msg'] === 'from the function')!['flow'], FACTS.flowId);
  // a second read gives the same signal
  assert.equal(late!.signal, signal);
  // a flow that released before its signal was first read
  let reader: { readonly signal: AbortSignal } | undefined;
  const t = setup({ deps: { spawn: (d) => ((reader = d), { upstream: IDENTITY, downstream: IDENTITY }) } });
  t.flow.start();
  await t.closed;
  assert.equal(reader!.signal.aborted, true);
});

test('per flow, no closures for the stream listeners: two flows share the same listener functions; no connect timer kept after connect', async () => {
  const a = setup({ deps: { connectTimeoutMs: 60_000 } });
  const b = setup({ deps: { connectTimeoutMs: 60_000 } });
  a.flow.start();
  b.flow.start();
  for (const ev of ['error', 'close', 'end', 'finish']) {
    assert.equal(a.client.listeners(ev).at(-1), b.client.listeners(ev).at(-1), `client '${ev}' listener`);
    assert.equal(a.server.listeners(ev).at(-1), b.server.listeners(ev).at(-1), `server '${ev}' listener`);
  }
  await once(a.server, 'connect');
  await new Promise((r) => setImmediate(r));
  assert.equal((a.flow as unknown as { connectTimer: unknown }).connectTimer, undefined, 'the cleared connect timer is not kept');
  await Promise.all([a.closed, b.closed]);
});
