/**
 * A Flow (sdk/flow.ts) over real loopback sockets with the native relay as its pair relay: the flow's
 * meaning (bytes, half-close, resets, idle timeout, counters, its end) holds after the handover; flows
 * of xor, meter, ratelimit and chains of native parts are carried natively, and a flow with a part that
 * needs JavaScript keeps the JavaScript relay.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { BUILTINS } from '../functions/registry.js';
import { NativeRelay } from '../native/relay.js';
import { expireIdle, Flow, type FlowCounters } from '../sdk/flow.js';
import { flowEndLabel } from '../sdk/flow-end.js';
import { loadFunction, type PartSpec } from '../sdk/loader.js';
import { MemoryMetrics } from '../sdk/metrics-memory.js';
import { IDENTITY, type FlowTransforms } from '../sdk/types.js';
import { SOCKET_OPS } from './flow.js';
import { nativePairRelay } from './native-relay.js';
import { receiveSha as receive, sendFilled as send, waitFor } from '../native/test-streams.js';

const FACTS = { flowId: 1, functionId: 1, argument: 0n, sid: 'fc00:a::1:0:0', client: { address: '::1', port: 1 }, server: { address: '::1', port: 2 }, path: ['fc00:a::1:0:0', '::1'], position: 0 };

interface Rig {
  client: net.Socket;
  server: net.Socket;
  flow: Flow;
  counters: FlowCounters;
  closed: Promise<Flow>;
  clock: { now: number };
  close(): void;
}

async function rig(relay: NativeRelay, transforms: () => FlowTransforms = () => ({ upstream: IDENTITY, downstream: IDENTITY })): Promise<Rig> {
  const backend = net.createServer({ allowHalfOpen: true });
  const front = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  backend.listen(0, '::1');
  front.listen(0, '::1');
  await Promise.all([once(backend, 'listening'), once(front, 'listening')]);
  const serverP = once(backend, 'connection') as Promise<[net.Socket]>;
  const acceptedP = once(front, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ host: '::1', port: (front.address() as net.AddressInfo).port, allowHalfOpen: true });
  client.on('error', () => undefined);
  const [inbound] = await acceptedP;
  const counters: FlowCounters = { flowsTotal: 0, flowsActive: 0, bytesUp: 0, bytesDown: 0, endings: {} };
  const clock = { now: 1000 };
  let done!: (f: Flow) => void;
  const closed = new Promise<Flow>((r) => (done = r));
  const flow = new Flow(inbound, {
    log: pino({ level: 'silent' }),
    facts: FACTS,
    counters,
    connectTimeoutMs: 5000,
    now: () => clock.now,
    ops: SOCKET_OPS,
    pairRelay: nativePairRelay(relay),
    spawn: transforms,
    outbound: () => {
      const socket = new net.Socket({ allowHalfOpen: true });
      return { stream: socket, connect: () => socket.connect({ host: '::1', port: (backend.address() as net.AddressInfo).port }) };
    },
    onClosed: (f) => done(f),
  });
  flow.start();
  const [server] = await serverP;
  server.on('error', () => undefined);
  await waitFor(() => flow.state === 'open', 'the flow to open');
  return {
    client,
    server,
    flow,
    counters,
    closed,
    clock,
    close: () => {
      client.destroy();
      server.destroy();
      backend.close();
      front.close();
    },
  };
}

const MB = 1024 * 1024;

test('a copy flow handed to the native relay: 20 MB each way intact, counted, ends ok', async () => {
  const relay = new NativeRelay();
  const r = await rig(relay);
  try {
    assert.equal(relay.size, 1, 'handed over');
    assert.equal(r.flow.progress(1000).relay, 'native');
    const [up, down, atServer, atClient] = await Promise.all([send(r.client, 20 * MB, 1), send(r.server, 20 * MB, 2), receive(r.server), receive(r.client)]);
    assert.equal(atServer, up);
    assert.equal(atClient, down);
    const f = await r.closed;
    assert.equal(flowEndLabel(f.end!), 'ok');
    assert.deepEqual([r.counters.bytesUp, r.counters.bytesDown, r.counters.flowsActive], [20 * MB, 20 * MB, 0]);
    assert.equal(r.counters.endings.ok, 1);
    assert.equal(f.up.ended && f.down.ended, true);
  } finally {
    r.close();
    relay.close();
  }
});

test('native: half-close — the client FIN reaches the server, whose large reply still arrives', async () => {
  const relay = new NativeRelay();
  const r = await rig(relay);
  try {
    const reply = receive(r.client);
    const request = receive(r.server);
    r.client.end('request');
    await request;
    const sent = await send(r.server, 8 * MB, 5);
    assert.equal(await reply, sent);
    assert.equal(flowEndLabel((await r.closed).end!), 'ok');
    assert.equal(r.counters.bytesDown, 8 * MB);
  } finally {
    r.close();
    relay.close();
  }
});

test('native: a client reset resets the server (client_reset), a server reset the client (server_reset)', async () => {
  for (const [who, other, label] of [
    ['client', 'server', 'client_reset'],
    ['server', 'client', 'server_reset'],
  ] as const) {
    const relay = new NativeRelay();
    const r = await rig(relay);
    try {
      r.client.write('x');
      await once(r.server, 'data');
      const seen = new Promise<string | undefined>((res) => r[other].once('error', (e: NodeJS.ErrnoException) => res(e.code)));
      r[who].resetAndDestroy();
      assert.equal(await seen, 'ECONNRESET');
      assert.equal(flowEndLabel((await r.closed).end!), label);
      assert.equal(r.counters.endings[label], 1);
    } finally {
      r.close();
      relay.close();
    }
  }
});

test('native: the idle rule still ends a handed-over flow (idle_timeout), both sides reset; bytes move the idle clock', async () => {
  const relay = new NativeRelay({ reportMs: 10 });
  const r = await rig(relay);
  try {
    r.clock.now = 5000;
    r.client.write('ping');
    await once(r.server, 'data');
    await waitFor(() => r.flow.lastActivity === 5000, 'the bytes event');
    assert.equal(r.flow.progress(5000).bytesUp, 4);
    assert.equal(expireIdle([r.flow], 5500, 1000), 0);
    const c = new Promise<string | undefined>((res) => r.client.once('error', (e: NodeJS.ErrnoException) => res(e.code)));
    const s = new Promise<string | undefined>((res) => r.server.once('error', (e: NodeJS.ErrnoException) => res(e.code)));
    assert.equal(expireIdle([r.flow], 7000, 1000), 1);
    assert.deepEqual(await Promise.all([c, s]), ['ECONNRESET', 'ECONNRESET']);
    assert.equal(flowEndLabel((await r.closed).end!), 'idle_timeout');
  } finally {
    r.close();
    relay.close();
  }
});

test('a flow whose transforms are not the identity keeps the JavaScript relay', async () => {
  const relay = new NativeRelay();
  const upper = { data: (b: Buffer) => Buffer.from(b.toString().toUpperCase()) };
  const r = await rig(relay, () => ({ upstream: upper, downstream: IDENTITY }));
  try {
    assert.equal(relay.size, 0);
    assert.equal(r.flow.progress(1000).relay, undefined);
    const got = new Promise<string>((res) => r.server.once('data', (b: Buffer) => res(b.toString())));
    r.client.write('hello');
    assert.equal(await got, 'HELLO');
    r.client.end();
    r.server.end();
    assert.equal(flowEndLabel((await r.closed).end!), 'ok');
  } finally {
    r.close();
    relay.close();
  }
});

// ---- issue 14: xor, meter, ratelimit and their chains in the native relay ----

/** A loaded function (a chain when several parts) spawned for the rig's flow, with its metrics. */
async function loaded(parts: PartSpec[], argument: bigint): Promise<{ transforms: () => FlowTransforms; metrics: MemoryMetrics }> {
  const metrics = new MemoryMetrics();
  const f = await loadFunction({ id: 1, chain: parts.length > 1, parts }, { registry: BUILTINS, baseDir: '.', log: pino({ level: 'silent' }), metricsFor: () => metrics }, 1, 'functions[0]');
  const deps = { log: pino({ level: 'silent' }), signal: new AbortController().signal, reset: () => undefined };
  return { transforms: () => f.spawn({ ...FACTS, argument }, deps), metrics };
}

function xorRef(b: Buffer, key: number): Buffer {
  return Buffer.from(b.map((x) => x ^ key));
}

async function exchange(r: Rig, up: Buffer, down: Buffer): Promise<{ atServer: Buffer; atClient: Buffer }> {
  const all = (s: net.Socket): Promise<Buffer> => {
    const parts: Buffer[] = [];
    s.on('data', (b: Buffer) => parts.push(b));
    return new Promise((res) => s.once('end', () => res(Buffer.concat(parts))));
  };
  const [atServer, atClient] = await Promise.all([all(r.server), all(r.client), r.client.end(up), r.server.end(down)]);
  return { atServer, atClient };
}

test('an xor flow runs in the native relay: both directions XORed, counted, the row says native', async () => {
  const relay = new NativeRelay();
  const { transforms } = await loaded([{ function: 'xor', options: { passes: 3 } }], 0x15an);
  const r = await rig(relay, transforms);
  try {
    assert.equal(relay.size, 1);
    assert.equal(r.flow.progress(1000).relay, 'native');
    const up = randomBytes(300_001);
    const down = randomBytes(70_003);
    const { atServer, atClient } = await exchange(r, up, down);
    assert.ok(atServer.equals(xorRef(up, 0x5a)));
    assert.ok(atClient.equals(xorRef(down, 0x5a)));
    assert.equal(flowEndLabel((await r.closed).end!), 'ok');
    assert.deepEqual([r.counters.bytesUp, r.counters.bytesDown], [300_001, 70_003]);
  } finally {
    r.close();
    relay.close();
  }
});

test('meter in the native relay: its counters equal the bytes moved, flows and active flows as on the JavaScript relay', async () => {
  const relay = new NativeRelay({ reportMs: 5 });
  const { transforms, metrics } = await loaded([{ function: 'meter' }], 9n);
  const r = await rig(relay, transforms);
  const labels = { argument: '9', client_prefix: '::/64' };
  try {
    assert.equal(r.flow.progress(1000).relay, 'native');
    assert.equal(metrics.get('meter_active_flows', labels), 1);
    // counters move while the flow is open (from the relay's reports), not only at its end
    r.client.write(Buffer.alloc(1234));
    await waitFor(() => metrics.get('meter_bytes_total', { direction: 'up', ...labels }) === 1234, 'the up counter to reach 1234');
    await exchange(r, randomBytes(5 * MB + 1), randomBytes(777_777));
    await r.closed;
    assert.equal(metrics.get('meter_bytes_total', { direction: 'up', ...labels }), 1234 + 5 * MB + 1);
    assert.equal(metrics.get('meter_bytes_total', { direction: 'down', ...labels }), 777_777);
    assert.equal(metrics.get('meter_flows_total', labels), 1);
    assert.equal(metrics.get('meter_active_flows', labels), 0);
    assert.deepEqual([r.counters.bytesUp, r.counters.bytesDown], [1234 + 5 * MB + 1, 777_777]);
  } finally {
    r.close();
    relay.close();
  }
});

test('a chain of native parts (xor, meter, ratelimit, xor) is native and its ops compose: xor 1 pass then 3 passes is the identity', async () => {
  const relay = new NativeRelay();
  const { transforms, metrics } = await loaded(
    [{ function: 'xor', options: { passes: 1 } }, { function: 'meter' }, { function: 'ratelimit', options: { multiplier: 1000 } }, { function: 'copy' }, { function: 'xor', options: { passes: 3 } }],
    100_000n,
  );
  const r = await rig(relay, transforms);
  try {
    assert.equal(relay.size, 1, 'handed over');
    const up = randomBytes(1_000_003);
    const down = randomBytes(99_999);
    const { atServer, atClient } = await exchange(r, up, down);
    assert.ok(atServer.equals(up) && atClient.equals(down));
    await r.closed;
    assert.equal(metrics.get('meter_bytes_total', { direction: 'up', argument: '100000', client_prefix: '::/64' }), 1_000_003);
  } finally {
    r.close();
    relay.close();
  }
});

test('a chain with one part that needs JavaScript (compress) keeps the JavaScript relay, bytes intact', async () => {
  const relay = new NativeRelay();
  const { transforms } = await loaded([{ function: 'xor' }, { function: 'compress' }, { function: 'decompress' }, { function: 'xor' }], 7n);
  const r = await rig(relay, transforms);
  try {
    assert.equal(relay.size, 0);
    assert.equal(r.flow.progress(1000).relay, undefined);
    const up = randomBytes(200_000);
    const down = randomBytes(1000);
    const { atServer, atClient } = await exchange(r, up, down);
    assert.ok(atServer.equals(up) && atClient.equals(down));
    assert.equal(flowEndLabel((await r.closed).end!), 'ok');
  } finally {
    r.close();
    relay.close();
  }
});
