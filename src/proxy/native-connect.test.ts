/**
 * The native onward connect (nativeRelay.connect): a Flow whose connectPair is nativePairConnect over
 * real loopback sockets. The onward socket is a bare descriptor whose connect the relay thread
 * completes: the pair relays after it (bytes sent before it included), a refused connect is
 * connect_failed with its errno and resets the client, a connect that hangs meets the connect timeout
 * (connect_timeout, the client reset), a flow that is not a plain copy uses the carrier; the onward
 * descriptor carries the SRH it was given.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { srhForPath } from '../codec/srh.js';
import { native } from '../native/addon.js';
import { NativeRelay } from '../native/relay.js';
import { connectingFd, listenFd } from '../native/sockets.js';
import { parseAddress } from '../net/ip6.js';
import { Flow, type FlowCounters } from '../sdk/flow.js';
import { flowEndLabel } from '../sdk/flow-end.js';
import { IDENTITY, type FlowTransforms } from '../sdk/types.js';
import { SOCKET_OPS } from './flow.js';
import { nativePairConnect } from './native-relay.js';
import { receiveSha as receive, sendFilled as send, waitFor } from '../native/test-streams.js';

const FACTS = { flowId: 1, functionId: 1, argument: 0n, sid: 'fc00:a::1:0:0', client: { address: '::1', port: 1 }, server: { address: '::1', port: 2 }, path: ['fc00:a::1:0:0', '::1'], position: 0 };

interface Rig {
  client: net.Socket;
  flow: Flow;
  counters: FlowCounters;
  closed: Promise<Flow>;
  /** how many times the carrier (Node's onward socket) was asked for */
  carriers(): number;
  close(): void;
}

/** client -> [front listener | Flow with the native connect] -> port `to` on ::1 */
async function rig(relay: NativeRelay, to: number, o: { connectTimeoutMs?: number; transforms?: () => FlowTransforms } = {}): Promise<Rig> {
  const front = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  front.listen(0, '::1');
  await once(front, 'listening');
  const acceptedP = once(front, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ host: '::1', port: (front.address() as net.AddressInfo).port, allowHalfOpen: true });
  client.on('error', () => undefined);
  const [inbound] = await acceptedP;
  const counters: FlowCounters = { flowsTotal: 0, flowsActive: 0, bytesUp: 0, bytesDown: 0, endings: {} };
  let carriers = 0;
  let done!: (f: Flow) => void;
  const closed = new Promise<Flow>((r) => (done = r));
  const connect = nativePairConnect(relay);
  const flow = new Flow(inbound, {
    log: pino({ level: 'silent' }),
    facts: FACTS,
    counters,
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    now: () => Date.now(),
    ops: SOCKET_OPS,
    spawn: o.transforms ?? (() => ({ upstream: IDENTITY, downstream: IDENTITY })),
    connectPair: (t, ev) => connect(inbound, t, () => ({ options: { bind: { address: '::1', port: 0 }, noDelay: true }, server: { address: '::1', port: to } }), ev),
    outbound: () => {
      carriers++;
      const socket = new net.Socket({ allowHalfOpen: true });
      return { stream: socket, connect: () => socket.connect({ host: '::1', port: to }) };
    },
    onClosed: (f) => done(f),
  });
  flow.start();
  return {
    client,
    flow,
    counters,
    closed,
    carriers: () => carriers,
    close: () => {
      client.destroy();
      front.close();
    },
  };
}

function resetSeen(s: net.Socket): Promise<string | undefined> {
  return new Promise((res) => {
    s.once('error', (e: NodeJS.ErrnoException) => res(e.code));
    s.once('end', () => res('end'));
  });
}

/** a port free on ::1 (listened on, then released) */
async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '::1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, 'close');
  return port;
}

/**
 * A port on ::1 that refuses every connection, for as long as it is held: a TCP socket bound to it
 * that never listens (a SYN to it is answered with a reset). A port merely closed again could be
 * taken meanwhile — by another test, or as the ephemeral port of the very socket connecting to it
 * (bound to ::1 port 0), which then connects to itself (TCP simultaneous open) instead of being
 * refused: "round 30: no events" once in a loaded run.
 */
async function refusingPort(): Promise<{ port: number; release: () => void }> {
  const n = native();
  const c = n.constants;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const fd = n.socket(c.AF_INET6, c.SOCK_STREAM, c.IPPROTO_TCP);
    try {
      n.bind6(fd, parseAddress('::1'), port, 0);
      return { port, release: () => n.close(fd) };
    } catch (e) {
      n.close(fd);
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 20) throw e;
    }
  }
}

const MB = 1024 * 1024;

test('native connect: the relay thread connects the onward socket, then relays; bytes sent before the connect arrive; half-close; ok', async () => {
  const backend = net.createServer({ allowHalfOpen: true });
  backend.listen(0, '::1');
  await once(backend, 'listening');
  const serverP = once(backend, 'connection') as Promise<[net.Socket]>;
  const relay = new NativeRelay();
  const r = await rig(relay, (backend.address() as net.AddressInfo).port);
  try {
    assert.equal(r.flow.state, 'connecting');
    assert.equal(relay.size, 1, 'the pair exists from the connect on');
    assert.equal(r.flow.progress(Date.now()).relay, 'native');
    const [server] = await serverP;
    assert.equal(server.remoteAddress, '::1', 'bound where it was told');
    const atServer = receive(server);
    const atClient = receive(r.client);
    const up = await send(r.client, 4 * MB, 1);
    await waitFor(() => r.flow.state === 'open', 'the connected event');
    assert.equal(await atServer, up, 'the client’s bytes and FIN reached the server');
    const down = await send(server, 4 * MB, 2);
    assert.equal(await atClient, down);
    const f = await r.closed;
    assert.equal(flowEndLabel(f.end!), 'ok');
    assert.deepEqual([r.counters.bytesUp, r.counters.bytesDown, r.counters.flowsActive], [4 * MB, 4 * MB, 0]);
    assert.equal(r.carriers(), 0, 'no onward net.Socket');
  } finally {
    r.close();
    relay.close();
    backend.close();
  }
});

test('native connect refused: connect_failed with ECONNREFUSED, the client reset', async () => {
  const relay = new NativeRelay();
  const refusing = await refusingPort();
  const r = await rig(relay, refusing.port);
  try {
    const seen = resetSeen(r.client);
    const f = await r.closed;
    assert.equal(flowEndLabel(f.end!), 'connect_failed');
    assert.equal((f.end as { error?: { code?: string } }).error?.code, 'ECONNREFUSED');
    assert.equal(await seen, 'ECONNRESET');
    assert.equal(r.counters.endings['connect_failed'], 1);
    assert.equal(relay.size, 0);
  } finally {
    r.close();
    relay.close();
    refusing.release();
  }
});

test('native connect that does not complete: the connect timeout aborts it (connect_timeout), the client reset', async () => {
  // a listener nobody accepts on, backlog 0, its queue filled by one connection: further SYNs are dropped
  const port = await freePort();
  const fd = listenFd({ address: '::1', port, backlog: 0 });
  const filler = net.connect({ host: '::1', port });
  filler.on('error', () => undefined);
  await once(filler, 'connect');
  const relay = new NativeRelay();
  const r = await rig(relay, port, { connectTimeoutMs: 300 });
  try {
    const seen = resetSeen(r.client);
    const f = await r.closed;
    assert.equal(flowEndLabel(f.end!), 'connect_timeout');
    assert.equal(await seen, 'ECONNRESET');
    assert.equal(relay.size, 0);
  } finally {
    r.close();
    relay.close();
    filler.destroy();
    native().close(fd);
  }
});

test('native connect: a flow that is not a plain copy is not taken (the carrier connects it)', async () => {
  const backend = net.createServer({ allowHalfOpen: true });
  backend.listen(0, '::1');
  await once(backend, 'listening');
  const serverP = once(backend, 'connection') as Promise<[net.Socket]>;
  const relay = new NativeRelay();
  const upper = { data: (b: Buffer) => Buffer.from(b.toString().toUpperCase()) };
  const r = await rig(relay, (backend.address() as net.AddressInfo).port, { transforms: () => ({ upstream: upper, downstream: IDENTITY }) });
  try {
    const [server] = await serverP;
    assert.equal(r.carriers(), 1);
    assert.equal(relay.size, 0);
    const got = new Promise<string>((res) => server.once('data', (b: Buffer) => res(b.toString())));
    r.client.write('hello');
    assert.equal(await got, 'HELLO');
    server.destroy();
  } finally {
    r.close();
    relay.close();
    backend.close();
  }
});

test('connectingFd: the SRH is set on the onward descriptor before its connect; a failed connect throws its errno and leaks no descriptor', async () => {
  const backend = net.createServer();
  backend.listen(0, '::1');
  await once(backend, 'listening');
  const srh = srhForPath([parseAddress('fc00:a::1:0:0'), parseAddress('::1')]);
  const n = native();
  const fd = connectingFd({ srh, noDelay: true }, { address: '::1', port: (backend.address() as net.AddressInfo).port });
  try {
    assert.deepEqual(n.getsockoptBuffer(fd, n.constants.IPPROTO_IPV6, n.constants.IPV6_RTHDR, 4096), srh);
    assert.equal(n.getsockoptInt(fd, n.constants.IPPROTO_TCP, n.constants.TCP_NODELAY), 1);
  } finally {
    n.close(fd);
    backend.close();
  }
  const fds = readdirSync('/proc/self/fd').length;
  // a multicast destination: connect() refuses it at once (ENETUNREACH), no handshake
  assert.throws(() => connectingFd({}, { address: 'ff02::1', port: 80 }), (e: unknown) => typeof (e as NodeJS.ErrnoException).code === 'string');
  assert.equal(readdirSync('/proc/self/fd').length, fds);
});

test('native connect refused at once, 40 times: every pair reports its reset and end (relayAdd returns the id it posted, not one read from a pair the thread may have freed)', async () => {
  const relay = new NativeRelay();
  const front = net.createServer({ pauseOnConnect: true });
  front.listen(0, '::1');
  await once(front, 'listening');
  const { port, release } = await refusingPort();
  try {
    for (let i = 0; i < 40; i++) {
      const acceptedP = once(front, 'connection') as Promise<[net.Socket]>;
      const client = net.connect({ host: '::1', port: (front.address() as net.AddressInfo).port });
      client.on('error', () => undefined);
      const [inbound] = await acceptedP;
      const fd = connectingFd({ bind: { address: '::1', port: 0 } }, { address: '::1', port });
      const seen = await new Promise<string[]>((resolve, reject) => {
        const got: string[] = [];
        const timer = setTimeout(() => reject(new Error(`round ${i}: no events (got ${got.join(', ')})`)), 5000);
        relay.adoptConnecting(inbound, fd, {
          onReset: (side, code) => got.push(`${side}:${code}`),
          onDone: (end) => {
            clearTimeout(timer);
            got.push(end);
            resolve(got);
          },
        });
      });
      assert.deepEqual(seen, ['b:ECONNREFUSED', 'reset'], `round ${i}`);
      client.destroy();
    }
    assert.equal(relay.size, 0);
  } finally {
    relay.close();
    front.close();
    release();
  }
});
