/**
 * A Flow (sdk/flow.ts) over real loopback sockets with the native relay as its pair relay: the flow's
 * meaning (bytes, half-close, resets, idle timeout, counters, its end) holds after the handover, and a
 * flow that is not a plain copy keeps the JavaScript relay.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { NativeRelay } from '../native/relay.js';
import { expireIdle, Flow, type FlowCounters } from '../sdk/flow.js';
import { flowEndLabel } from '../sdk/flow-end.js';
import { IDENTITY, type FlowTransforms } from '../sdk/types.js';
import { SOCKET_OPS } from './flow.js';
import { nativePairRelay } from './native-relay.js';

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

async function waitFor(cond: () => boolean, what: string, ms = 20000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function send(s: net.Socket, total: number, fill: number): Promise<string> {
  const h = createHash('sha256');
  const chunk = Buffer.alloc(64 * 1024);
  for (let sent = 0, i = 0; sent < total; i++) {
    const b = Buffer.from(chunk.fill((fill + i) & 0xff).subarray(0, Math.min(chunk.length, total - sent)));
    h.update(b);
    sent += b.length;
    if (!s.write(b)) await once(s, 'drain');
  }
  s.end();
  return h.digest('hex');
}

function receive(s: net.Socket): Promise<string> {
  const h = createHash('sha256');
  s.on('data', (b: Buffer) => h.update(b));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(h.digest('hex')));
    s.once('error', reject);
  });
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
