/**
 * The conformance suite over real sockets, once per relay: a client socket ↔ the flow's inbound
 * (accepted on loopback), the flow's outbound ↔ a server socket, the proxy's own `Flow` between them
 * with a relay injected — the JavaScript relay, or a pair relay (the native relay thread) that takes
 * the sockets over or declines them (then the JavaScript relay runs: the fallback is checked too).
 *
 * The checks are one table (SOCKET_CHECKS): half-close in both orders with a large transfer after
 * the first FIN, back-pressure from a stalled reader in both directions (the writer is held back,
 * the relay holds at most its bound, nothing is lost once the reader resumes), a RST from either side
 * reaching the other mid-stream (never passed on as a FIN), the idle rule and the counters, and the
 * connect timeout. Which relays run is the caller's (src/proxy/conformance-relays.ts gives the
 * JavaScript one and the native one in each mode; src/proxy/conformance-sockets.test.ts runs it for the built-ins).
 *
 * What a function does to the bytes is taken from the in-memory run (testing.ts) of the same
 * instance: an identity must give its input back, a deterministic function what it gives in memory,
 * a tunnel end (a case with `inverse`) its input after the inverse.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { chunksOf, sampleData, type ConformanceCase } from './conformance.js';
import { expireIdle, Flow, type FlowCounters, type FlowDeps, type PairRelay, type StreamOps } from './flow.js';
import { flowEndLabel } from './flow-end.js';
import { MemoryMetrics } from './metrics-memory.js';
import { parseArgument, spawnPart } from './spawn.js';
import { initFunction, runFlow } from './testing.js';
import type { FunctionDescriptor } from './types.js';

/** One relay the suite runs on. */
export interface RelayVariant {
  /** shown in test names: 'javascript', 'native:splice', … */
  readonly name: string;
  /** set when this relay cannot run here (e.g. the native addon is not built): its tests are skipped with this reason */
  readonly skip?: string;
  /** what a flow does to its sockets beyond reading and writing (SO_LINGER resets) */
  readonly ops: StreamOps;
  /** a relay that may take both sockets over (undefined: the JavaScript relay alone) */
  readonly pairRelay?: PairRelay;
  /** the relay of one direction (default: the JavaScript relay, sdk/relay.ts) */
  readonly relay?: FlowDeps['relay'];
  /** most bytes the relay may hold in flight per direction (a flow's bufferedUp/bufferedDown) */
  readonly bound: number;
  /**
   * a pair-relay variant whose checks of a declined function are left to another variant (the same
   * relay in another mode: declining does not depend on the mode); only its first check runs, to see it decline
   */
  readonly fallbackElsewhere?: string;
  /**
   * a socket's TCP state (tcpi_state: 7 CLOSED, 8 CLOSE_WAIT…) through TCP_INFO, undefined when it
   * cannot be read; without it a reset is told from a FIN by a probe byte (weaker: see collect)
   */
  tcpState?(s: net.Socket): number | undefined;
  /** releases what the variant holds (the native relay's thread) */
  close?(): void;
}

/** A relay variant made when its tests start (a native relay thread only while they run). */
export interface RelayVariantFactory {
  readonly name: string;
  open(): RelayVariant;
}

type Dir = 'up' | 'down';
const KEY = { up: 'upstream', down: 'downstream' } as const;

/** An initialised function instance with what the socket checks need of it. */
export interface SocketSubject {
  readonly d: FunctionDescriptor;
  readonly c: ConformanceCase;
  readonly options: unknown;
  readonly state: unknown;
  /** what to send in `dir` so that the function sees `plain` (a tunnel end that takes ciphertext there gets it encoded) */
  send(dir: Dir, plain: Buffer): Promise<Buffer>;
  /** the bytes that arrived in `dir` match `plain` */
  check(dir: Dir, received: Buffer, plain: Buffer, what: string): Promise<void>;
  close(): Promise<void>;
}

/** The function's meaning from its in-memory run: identity, deterministic output, or a tunnel end's inverse. */
export async function socketSubject(d: FunctionDescriptor, c: ConformanceCase): Promise<SocketSubject> {
  const f = await initFunction(d, c.options, undefined, c.baseDir);
  const inv = c.inverse ? await initFunction(c.inverse.descriptor, c.inverse.options, undefined, c.baseDir) : undefined;
  const memory = (which: 'f' | 'inv', dir: Dir, data: Buffer): Promise<Buffer> => {
    const [desc, inst, argument] = which === 'f' ? [d, f, c.argument] : [c.inverse!.descriptor, inv!, c.inverse!.argument ?? c.argument];
    return runFlow(desc, inst.options, inst.state, { argument: argument ?? 0, [KEY[dir]]: [data] }).then((r) => {
      assert.equal(r.reset, undefined, `the in-memory reference run was reset: ${r.reset} ${String(r.error ?? '')}`);
      return r[KEY[dir]];
    });
  };
  // a tunnel end takes plaintext in one direction (upstream at a client end) and ciphertext in the other
  const plainDir: Dir = c.end === 'server' ? 'down' : 'up';
  const cache = new Map<string, Promise<Buffer>>();
  const cached = (key: string, make: () => Promise<Buffer>): Promise<Buffer> => {
    let p = cache.get(key);
    if (!p) cache.set(key, (p = make()));
    return p;
  };
  let n = 0;
  const ids = new WeakMap<Buffer, number>();
  const id = (b: Buffer): number => {
    let i = ids.get(b);
    if (i === undefined) ids.set(b, (i = n++));
    return i;
  };
  return {
    d,
    c,
    options: f.options,
    state: f.state,
    send: (dir, plain) => (inv && dir !== plainDir ? cached(`send ${dir} ${id(plain)}`, () => memory('inv', dir, plain)) : Promise.resolve(plain)),
    check: async (dir, received, plain, what) => {
      let expected = plain;
      let got = received;
      if (inv && dir === plainDir) got = await memory('inv', dir, received);
      else if (!inv && !c.identity) expected = await cached(`expect ${dir} ${id(plain)}`, () => memory('f', dir, plain));
      assert.ok(got.length === expected.length && got.equals(expected), `${what}: ${got.length} bytes arrived (after the inverse, if any), ${expected.length} expected, or they differ`);
    },
    close: async () => {
      await f.deinit();
      await inv?.deinit();
    },
  };
}

const FACTS = { flowId: 1, functionId: 1, argument: 0n, sid: 'fc00:a::1:0:0', client: { address: '::1', port: 1 }, server: { address: '::1', port: 2 }, path: ['fc00:a::1:0:0', '::1'], position: 0 };

/** A flow between two loopback sockets: `client` talks to the flow's inbound, `server` is its outbound's peer. */
export interface SocketRig {
  client: net.Socket;
  server: net.Socket;
  flow: Flow;
  counters: FlowCounters;
  /** the flow's clock (ms), moved by the test */
  clock: { now: number };
  /** resolves once the flow has closed (onClosed) */
  closed: Promise<Flow>;
  /** whether the pair relay took the sockets over */
  native: boolean;
  close(): void;
}

export interface RigOptions {
  connectTimeoutMs?: number;
  /** the server side never comes up (connect timeout) */
  blackhole?: boolean;
}

/** Opens a flow of the subject's function over loopback sockets, with the variant's relay. */
export async function openSocketFlow(s: SocketSubject, v: RelayVariant, o: RigOptions = {}): Promise<SocketRig> {
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
  const log = pino({ level: 'silent' });
  const facts = { ...FACTS, argument: BigInt(s.c.argument ?? 0) };
  const part = { descriptor: s.d, options: s.options, state: s.state, metrics: new MemoryMetrics() };
  const flow = new Flow(inbound, {
    log,
    facts,
    counters,
    connectTimeoutMs: o.connectTimeoutMs ?? 20_000,
    now: () => clock.now,
    ops: v.ops,
    ...(v.pairRelay ? { pairRelay: v.pairRelay } : {}),
    ...(v.relay ? { relay: v.relay } : {}),
    spawn: (deps) => spawnPart(part, facts, parseArgument(part, facts.argument, { log }), deps),
    outbound: () => {
      const socket = new net.Socket({ allowHalfOpen: true });
      // a blackhole: a socket that is never connected (the 'connect' the flow waits for never comes)
      const connect = o.blackhole ? () => undefined : () => void socket.connect({ host: '::1', port: (backend.address() as net.AddressInfo).port });
      return { stream: socket, connect };
    },
    onClosed: (f) => done(f),
  });
  flow.start();
  const close = (): void => {
    client.destroy();
    backend.close();
    front.close();
  };
  if (o.blackhole) {
    return { client, server: new net.Socket(), flow, counters, clock, closed, native: false, close };
  }
  const [server] = await serverP;
  server.on('error', () => undefined);
  await waitFor(() => flow.state !== 'connecting', 'the flow to open');
  return {
    client,
    server,
    flow,
    counters,
    clock,
    closed,
    native: flow.progress(clock.now).relay === 'native',
    close: () => {
      close();
      server.destroy();
    },
  };
}

export async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** What a socket receives until its end or error: the bytes, and which of the two came. */
interface Received {
  readonly data: () => Buffer;
  /**
   * 'end' (a FIN) or 'error' (a RST), as TCP saw it. Node's first event is not enough: libuv reports
   * EOF for a RST that comes after a partial read (POLLHUP: uv__stream_io), so a reader that does not
   * write sees 'end' for a reset. With `ms` > 0, an 'end' is looked at for up to `ms`: a connection
   * that was reset is CLOSED (TCP_INFO: the variant's tcpState), one that got a FIN stays in CLOSE_WAIT.
   * Without tcpState, one byte is written instead: a reset connection refuses it with an error (a
   * weaker probe: a peer that closes after its FIN refuses it too). `ms` 0: the first event, no probe.
   */
  outcome(ms?: number): Promise<{ how: 'end' | 'error'; code?: string }>;
}

const TCP_CLOSE = 7;

function collect(s: net.Socket, tcpState: (s: net.Socket) => number | undefined = () => undefined): Received {
  const parts: Buffer[] = [];
  s.on('data', (b: Buffer) => parts.push(b));
  let error: NodeJS.ErrnoException | undefined;
  let ended = false;
  const ends: Array<() => void> = [];
  s.once('error', (e: NodeJS.ErrnoException) => {
    error = e;
    for (const f of ends.splice(0)) f();
  });
  s.once('end', () => {
    ended = true;
    for (const f of ends.splice(0)) f();
  });
  s.once('close', () => {
    for (const f of ends.splice(0)) f();
  });
  const result = () => (error ? { how: 'error' as const, ...(error.code ? { code: error.code } : {}) } : { how: 'end' as const });
  return {
    data: () => Buffer.concat(parts),
    outcome: async (ms = 2000) => {
      while (!error && !ended && !s.destroyed) await new Promise<void>((r) => ends.push(r));
      if (ms > 0 && !error && !s.destroyed) {
        const state = tcpState(s);
        if (state === undefined) {
          // no addon: probe with a byte (a reset connection refuses it), wait for the error or the close
          if (s.writable) s.write(Buffer.alloc(1));
          await Promise.race([new Promise<void>((r) => ends.push(r)), delay(ms)]);
        } else {
          for (const until = Date.now() + ms; !error && Date.now() < until; await delay(10)) if (tcpState(s) === TCP_CLOSE) return { how: 'error' as const, code: 'ECONNRESET' };
        }
      }
      return result();
    },
  };
}

/** Writes `data` in 64 KiB chunks with back-pressure; `end` after. */
async function write(s: net.Socket, data: Buffer, end: boolean): Promise<void> {
  for (const c of chunksOf(data, 64 * 1024)) {
    if (s.destroyed) return;
    if (!s.write(c)) await Promise.race([once(s, 'drain'), once(s, 'close')]);
  }
  if (end && !s.destroyed) s.end();
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

const samples = new Map<string, Buffer>();
/** sampleData, made once per size and seed (the same buffer each time: the subject caches by buffer) */
function sample(size: number, seed: number): Buffer {
  const key = `${size}/${seed}`;
  let b = samples.get(key);
  if (!b) samples.set(key, (b = sampleData(size, seed)));
  return b;
}

/** the two sides of a direction: who writes, who reads */
const SIDES = { up: { from: 'client', to: 'server' }, down: { from: 'server', to: 'client' } } as const;

interface CheckContext {
  s: SocketSubject;
  v: RelayVariant;
  /** a flow over sockets; asserts that it runs on the relay the variant is expected to give this function */
  open(o?: RigOptions): Promise<SocketRig>;
}

/** collect() with the variant's way to read a socket's TCP state */
const watch = (ctx: CheckContext, s: net.Socket): Received => collect(s, (x) => ctx.v.tcpState?.(x));

async function endsOk(r: SocketRig): Promise<Flow> {
  const f = await r.closed;
  assert.equal(flowEndLabel(f.end!), 'ok', `the flow ended ${flowEndLabel(f.end!)}: ${String((f.end as { error?: unknown }).error ?? '')}`);
  return f;
}

/** The counters of a flow that moved `up`/`down` bytes (as they arrived at the far sides) and ended `label`. */
function assertCounted(r: SocketRig, up: number, down: number, label: string): void {
  assert.deepEqual(
    { up: r.counters.bytesUp, down: r.counters.bytesDown, total: r.counters.flowsTotal, active: r.counters.flowsActive, endings: r.counters.endings },
    { up, down, total: 1, active: 0, endings: { [label]: 1 } },
    'per-flow and per-function counters',
  );
}

/** Half-close: `first` ends after a short message; the other direction then carries 4 MiB to its end. */
async function halfClose(ctx: CheckContext, first: Dir): Promise<void> {
  const second: Dir = first === 'up' ? 'down' : 'up';
  const short = sample(64 * 1024, 21);
  const large = sample(4 << 20, 22);
  const r = await ctx.open();
  try {
    const side = (d: Dir, end: 'from' | 'to') => r[SIDES[d][end]];
    const firstIn = watch(ctx, side(first, 'to'));
    const secondIn = watch(ctx, side(second, 'to'));
    await write(side(first, 'from'), await ctx.s.send(first, short), true);
    assert.equal((await firstIn.outcome(0)).how, 'end', `the ${first} FIN did not arrive as a FIN`);
    await ctx.s.check(first, firstIn.data(), short, `${first} before the FIN`);
    assert.notEqual(r.flow.state, 'closed', 'the flow closed after one direction ended');
    await write(side(second, 'from'), await ctx.s.send(second, large), true);
    assert.equal((await secondIn.outcome(0)).how, 'end', `the ${second} direction did not end with a FIN`);
    await ctx.s.check(second, secondIn.data(), large, `${second} after the ${first} FIN`);
    const f = await endsOk(r);
    assert.ok(f.up.ended && f.down.ended, 'both directions ended');
    const arrived = { [first]: firstIn.data().length, [second]: secondIn.data().length } as Record<Dir, number>;
    assertCounted(r, arrived.up, arrived.down, 'ok');
  } finally {
    r.close();
  }
}

/**
 * Back-pressure: the reader of `dir` stops reading; the writer writes up to 64 MiB and must be held
 * back (a write that does not drain) while the relay holds at most its bound; then the reader resumes
 * and every byte arrives.
 */
async function backPressure(ctx: CheckContext, dir: Dir): Promise<void> {
  let plain = sample(64 << 20, dir === 'up' ? 31 : 32);
  const data = await ctx.s.send(dir, plain);
  // the function takes these bytes as they are (not a tunnel end's encoded side): after the stall, 1 MiB more is enough
  const asIs = data === plain;
  const r = await ctx.open();
  try {
    const writer = r[SIDES[dir].from];
    const reader = r[SIDES[dir].to];
    reader.pause();
    const got = watch(ctx, reader);
    reader.pause(); // collect's 'data' listener resumed it
    let stalled = -1;
    let maxHeld = 0;
    const held = () => {
      const p = r.flow.progress(r.clock.now);
      return dir === 'up' ? p.bufferedUp : p.bufferedDown;
    };
    const chunks = chunksOf(data, 64 * 1024);
    let i = 0;
    for (; i < chunks.length && stalled < 0; i++) {
      if (writer.write(chunks[i]!)) continue;
      // held back until the reader reads: no 'drain' for a while (under load a slow relay may look stalled too: harmless)
      const drained = await Promise.race([once(writer, 'drain').then(() => true), delay(400).then(() => false)]);
      if (!drained) stalled = i + 1;
    }
    assert.ok(stalled > 0, `the writer was never held back: ${data.length} bytes accepted while the reader read nothing (unbounded buffering)`);
    for (let k = 0; k < 10; k++) {
      maxHeld = Math.max(maxHeld, held());
      await delay(20);
    }
    assert.ok(maxHeld <= ctx.v.bound, `the relay held ${maxHeld} bytes of a stalled ${dir} direction (bound ${ctx.v.bound})`);
    reader.resume();
    writer.resume();
    const rest = asIs ? chunks.slice(i, i + 16) : chunks.slice(i);
    if (asIs) plain = plain.subarray(0, Math.min(plain.length, (i + 16) * 64 * 1024));
    await write(writer, Buffer.concat(rest), true);
    assert.equal((await got.outcome(0)).how, 'end');
    await ctx.s.check(dir, got.data(), plain, `${dir} after the reader resumed`);
    // the other direction ends too: the flow ends ok
    r[SIDES[dir].to].end();
    await endsOk(r);
  } finally {
    r.close();
  }
}

/**
 * A RST from the writer's peer: `who` streams, its peer receives some bytes and then `resetter`
 * resets. The other side sees an error, never an end; the flow ends `<resetter>_reset`.
 */
async function resetPropagates(ctx: CheckContext, resetter: 'client' | 'server'): Promise<void> {
  const other = resetter === 'client' ? 'server' : 'client';
  const r = await ctx.open();
  try {
    const toReset = watch(ctx, r[resetter]);
    const toOther = watch(ctx, r[other]);
    // both directions carry bytes, neither ends: the resetter resets once it has received some
    const feeds = (['up', 'down'] as const).map(async (dir) => {
      const data = await ctx.s.send(dir, sample(8 << 20, dir === 'up' ? 41 : 42));
      await write(r[SIDES[dir].from], data, false).catch(() => undefined);
    });
    await waitFor(() => toReset.data().length >= 64 * 1024 || r.flow.state !== 'open', `64 KiB at the ${resetter}`);
    r[resetter].resetAndDestroy();
    const seen = await toOther.outcome();
    assert.equal(seen.how, 'error', `the ${other} saw an end (a FIN) where the ${resetter} reset: a truncated stream passed for a complete one`);
    const f = await r.closed;
    assert.equal(flowEndLabel(f.end!), `${resetter}_reset`);
    assert.equal(r.counters.endings[`${resetter}_reset`], 1);
    await Promise.all(feeds);
  } finally {
    r.close();
  }
}

/** The idle rule: bytes move the idle clock; past the limit with no byte the flow ends idle_timeout, both sides reset, counted. */
async function idleAndCounters(ctx: CheckContext): Promise<void> {
  const LIMIT = 60_000;
  const r = await ctx.open();
  try {
    const atServer = watch(ctx, r.server);
    const atClient = watch(ctx, r.client);
    const up = sample(256 * 1024, 51);
    const down = sample(300 * 1024, 52);
    r.clock.now = 50_000; // the bytes below move at this time
    await Promise.all([write(r.client, await ctx.s.send('up', up), false), write(r.server, await ctx.s.send('down', down), false)]);
    // what the function made of them so far has arrived, and the flow counted it (a function may hold a
    // tail until the end: an IDS its signature window, a compressor its block; so no content check here)
    const counted = () => r.flow.up.bytesOut === atServer.data().length && r.flow.down.bytesOut === atClient.data().length && atServer.data().length > 0 && atClient.data().length > 0;
    for (let stable = 0; stable < 20; stable = counted() ? stable + 1 : 0) await waitFor(counted, 'the bytes counted').then(() => delay(10));
    const p = r.flow.progress(r.clock.now);
    assert.deepEqual([p.bytesUp, p.bytesDown, p.state], [atServer.data().length, atClient.data().length, 'open'], 'the flows row');
    assert.equal(r.flow.lastActivity, 50_000, 'bytes did not move the idle clock');
    assert.equal(expireIdle([r.flow], 50_000 + LIMIT, LIMIT), 0, 'expired at the limit');
    assert.equal(expireIdle([r.flow], 50_000 + LIMIT + 1, LIMIT), 1, 'not expired past the limit');
    const [c, s] = await Promise.all([atClient.outcome(), atServer.outcome()]);
    assert.deepEqual([c.how, s.how], ['error', 'error'], 'an idle flow is reset on both sides');
    const f = await r.closed;
    assert.equal(flowEndLabel(f.end!), 'idle_timeout');
    assertCounted(r, atServer.data().length, atClient.data().length, 'idle_timeout');
  } finally {
    r.close();
  }
}

/** The connect timeout: a server side that never comes up ends the flow connect_timeout and resets the client. */
async function connectTimeout(ctx: CheckContext): Promise<void> {
  const r = await ctx.open({ blackhole: true, connectTimeoutMs: 150 });
  try {
    const atClient = watch(ctx, r.client);
    r.client.write('hello');
    const f = await r.closed;
    assert.equal(flowEndLabel(f.end!), 'connect_timeout');
    assert.equal((await atClient.outcome()).how, 'error', 'the client was not reset');
    assertCounted(r, 0, 0, 'connect_timeout');
  } finally {
    r.close();
  }
}

/** The checks every function passes on every relay (name → check). */
export const SOCKET_CHECKS: Readonly<Record<string, (ctx: CheckContext) => Promise<void>>> = {
  'half-close: the client ends first; a 4 MiB reply after its FIN arrives whole': (ctx) => halfClose(ctx, 'up'),
  'half-close: the server ends first; a 4 MiB upload after its FIN arrives whole': (ctx) => halfClose(ctx, 'down'),
  'back-pressure: a stalled server holds the client back, the relay within its bound; nothing lost after': (ctx) => backPressure(ctx, 'up'),
  'back-pressure: a stalled client holds the server back, the relay within its bound; nothing lost after': (ctx) => backPressure(ctx, 'down'),
  "reset: the client's RST mid-stream reaches the server (never a FIN); client_reset": (ctx) => resetPropagates(ctx, 'client'),
  "reset: the server's RST mid-stream reaches the client (never a FIN); server_reset": (ctx) => resetPropagates(ctx, 'server'),
  'idle: bytes move the idle clock; past the limit both sides are reset (idle_timeout); counters and flows row match': idleAndCounters,
  'connect timeout: a server side that never comes up resets the client (connect_timeout)': connectTimeout,
};

/**
 * Registers the socket checks of `d`'s cases on each relay. On a pair-relay variant, each case's
 * first flow says whether the relay takes this function: every later flow of the case must agree
 * (taken: it runs native; declined: the JavaScript relay runs, and the checks pass on it too).
 */
export function socketConformance(d: FunctionDescriptor, cases: ConformanceCase[], relays: readonly RelayVariantFactory[]): void {
  describe(`conformance over sockets: ${d.name}`, () => {
    for (const factory of relays) {
      describe(`relay ${factory.name}`, () => {
        let v: RelayVariant | undefined;
        before(() => {
          v = factory.open();
        });
        after(() => v?.close?.());
        for (const c of cases) {
          const label = c.name ? ` [${c.name}]` : '';
          let subject: Promise<SocketSubject> | undefined;
          /** whether the relay takes this case's flows (known after its first one) */
          let takes: boolean | undefined;
          after(async () => (await subject)?.close());
          for (const [name, check] of Object.entries(SOCKET_CHECKS)) {
            test(`${name}${label}`, async (t) => {
              if (v!.skip) return t.skip(v!.skip);
              if (takes === false && v!.fallbackElsewhere) return t.skip(`declined by the native relay: its JavaScript fallback is checked under ${v!.fallbackElsewhere}`);
              const s = await (subject ??= socketSubject(d, c));
              await check({
                s,
                v: v!,
                open: async (o) => {
                  const r = await openSocketFlow(s, v!, o);
                  if (o?.blackhole) return r;
                  if (!v!.pairRelay) assert.equal(r.native, false, 'a flow went native without a pair relay');
                  else if (takes === undefined) {
                    takes = r.native;
                    t.diagnostic(`${d.name}${label}: ${takes ? 'taken by the native relay' : 'declined by the native relay: the JavaScript relay runs'}`);
                  } else assert.equal(r.native, takes, 'the pair relay took some flows of the same function and declined others');
                  return r;
                },
              });
            });
          }
        }
      });
    }
  });
}
