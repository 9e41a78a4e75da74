/**
 * One intercepted flow, wired: the accepted (client-side) socket, the server side — the transparent
 * outbound socket from the client's address with the onward SRH (encoded here, once), or the
 * function's own carrier (the mptcp converter) —, the function's transforms (the flow's own function
 * upstream, the return path's downstream when it names another), SO_LINGER resets, the reply SRH,
 * TIME_WAIT release, and the function's accounting. The lifecycle itself is the SDK's `Flow`
 * (sdk/flow.ts), the same one srv6pipes/testing runs.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { onwardSrh } from '../codec/srh.js';
import { lingerOff, lingerZero, outboundSocket, setRoutingHeader } from '../native/sockets.js';
import { native } from '../native/addon.js';
import { resetFd, type EarlyOnward } from '../native/relay.js';
import { asymmetricTransforms } from '../sdk/compose.js';
import type { FlowFacts } from '../sdk/context.js';
import { Flow, type FlowDeps, type FlowProgress, type FunctionDeps, type Outbound, type PairConnectEvents, type PairRelay, type PairRelayHandle, type StreamOps } from '../sdk/flow.js';
import type { FlowEnd } from '../sdk/flow-end.js';
import type { LoadedFunction } from '../sdk/loader.js';
import { releaseTransforms, type FlowTransforms } from '../sdk/types.js';
import type { Accepted } from './classify.js';
import type { AcceptConnect, Onward, PairConnect } from './native-relay.js';
import type { FunctionStats } from './stats.js';
import { releaseTimeWaitOnClose } from './timewait.js';

export type { FlowState } from '../sdk/flow.js';

export interface FlowRecord extends FlowProgress {
  id: number;
  functionId: number;
  /** the function's name */
  function: string;
  version: number;
  argument: string;
  client: string;
  server: string;
  nextHop: string;
  /** return-path TLV: the SID the replies to the client-side go back through */
  replyVia?: string;
  /** return-path TLV: the function processing the downstream direction, when not the flow's own */
  downstreamFn?: number;
}

/** What every flow of a worker shares (one object per worker, not per flow). */
export interface ProxyFlowDeps {
  log: Logger;
  connectTimeoutMs: number;
  /** a coarse clock (ms), refreshed by the worker's sweep */
  now(): number;
  onClosed(flow: ProxyFlow): void;
  /** the server side is up (flow-metrics.ts: the connect time) */
  onOpen?(flow: ProxyFlow): void;
  /** false under sk_lookup interception: TCP itself lets a new SYN replace the TIME_WAIT (timewait.ts) */
  releaseTimeWait?: boolean;
  /** config nativeRelay: a relay that takes flows with native ops over (native-relay.ts) */
  pairRelay?: PairRelay;
  /** config nativeRelay.connect: the relay thread connects the onward socket of the flows it carries (native-relay.ts) */
  pairConnect?: PairConnect;
  /** config nativeRelay.accept: a connection the relay thread accepted, answered with its onward socket (native-relay.ts) */
  acceptConnect?: AcceptConnect;
}

/**
 * A connection the native relay accepted (config nativeRelay.accept), before anything else owns it:
 * its descriptor and addresses. It stands in for the client-side socket at the start of a flow
 * (sdk/flow.ts: the flow listens for its 'close' only, the one event it has): the relay takes the
 * descriptor over (`take`), or it becomes a net.Socket (`toSocket`) for a flow the JavaScript relay
 * carries, or it is reset (`destroy`: SO_LINGER 0 + close, 'close' on the next tick). Its address
 * fields are a net.Socket's names, so that logs and rejections read it as one.
 */
export class FdInbound {
  destroyed = false;
  /**
   * config nativeRelay.connectEarly: the SYN's routing header, set when the decision depended on it
   * alone (synchronous: no binding-SID lookup): a native flow started on this descriptor teaches the
   * accept its onward header (native-relay.ts)
   */
  syn: Buffer | undefined;
  /** with `syn`: the decision taken from it, kept with what the accept learns */
  decision: unknown;
  /** the decision is the early socket's memo (the SYN's header decided before, byte for byte) */
  fromMemo = false;
  readonly readableEnded = false;
  readonly writableFinished = false;
  readonly writableLength = 0;
  private onClose: (() => void) | undefined;

  constructor(
    readonly fd: number,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly localAddress: string,
    readonly localPort: number,
    /** config nativeRelay.connectEarly: the onward socket the accept started; reset unless taken (`takeEarly`) */
    private early?: EarlyOnward,
    /** counts what became of it */
    private readonly countEarly?: (result: 'adopted' | 'reset') => void,
  ) {}

  /** The early onward socket, if any (its descriptor is not taken: `takeEarly`). */
  get earlyOnward(): EarlyOnward | undefined {
    return this.early;
  }

  /** The early onward socket's descriptor is the caller's now. */
  takeEarly(): number | undefined {
    const e = this.early;
    this.early = undefined;
    if (e) this.countEarly?.('adopted');
    return e?.fd;
  }

  /** The early onward socket is reset (the next hop sees a reset); true when there was one. */
  dropEarly(): boolean {
    const e = this.early;
    if (!e) return false;
    this.early = undefined;
    this.countEarly?.('reset');
    resetFd(e.fd);
    return true;
  }

  /** Only 'close' is ever emitted; other listeners are not kept. */
  on(event: string, fn: () => void): this {
    if (event === 'close') this.onClose = fn;
    return this;
  }

  off(event: string, fn: () => void): this {
    if (event === 'close' && this.onClose === fn) this.onClose = undefined;
    return this;
  }

  /** The descriptor is someone else's now (the relay's, or a net.Socket's): nothing is emitted or closed here any more. */
  take(): number {
    this.destroyed = true;
    this.onClose = undefined;
    this.dropEarly();
    return this.fd;
  }

  /** A reset: SO_LINGER 0 and close; 'close' follows on the next tick. */
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    try {
      this.dropEarly();
      resetFd(this.fd);
    } finally {
      process.nextTick(() => this.onClose?.call(this));
    }
    return this;
  }

  /** The descriptor as a paused net.Socket (half-open allowed), for the JavaScript relay. */
  toSocket(): net.Socket {
    const s = new net.Socket({ fd: this.fd, allowHalfOpen: true, readable: true, writable: true, pauseOnCreate: true } as net.SocketConstructorOpts);
    this.take();
    return s;
  }
}

type Endpoint = { address: string; port: number };

/** Sockets: a reset is SO_LINGER 0 then close; a flow's sockets reset on close until both directions ended. */
export const SOCKET_OPS: StreamOps = {
  reset: (s) => resetSocket(s as net.Socket),
  abortive: (s) => {
    // an accepted descriptor is made abortive by the relay that takes it (or reset outright)
    if (s instanceof FdInbound) return;
    try {
      lingerZero(s as net.Socket);
    } catch {
      // no fd yet (a carrier's socket before connect): it has no peer to mislead
    }
  },
  orderly: (s) => {
    if (s instanceof FdInbound) return;
    try {
      lingerOff(s as net.Socket);
    } catch {
      // the fd is gone already
    }
  },
};

/** The function's transforms for a flow: its own, composed with the return path's function downstream. */
function spawnFor(d: Accepted<LoadedFunction>, facts: FlowFacts, deps: FunctionDeps): FlowTransforms {
  const forward = d.entry.spawn(facts, deps);
  const back = d.downstream;
  if (!back) return forward;
  try {
    return asymmetricTransforms(forward, back.entry.spawn({ ...facts, functionId: back.functionId, argument: back.argument, sid: back.sid }, deps));
  } catch (e) {
    releaseTransforms(forward);
    throw e;
  }
}

/**
 * The carrier: the function's own (it opens its socket and says where to connect), else the
 * transparent outbound socket from the client's address to the server, with the onward SRH.
 */
export function carrierFor(t: FlowTransforms, d: Accepted<LoadedFunction>, client: Endpoint, server: Endpoint): Outbound {
  if (t.carrier) {
    const carrier = t.carrier;
    const { socket, connect, preamble } = carrier.open(d.onward);
    return {
      stream: socket,
      connect: () => socket.connect({ ...connect, family: 6 }),
      connected: () => {
        socket.setNoDelay(true);
        if (preamble) socket.write(preamble);
        carrier.connected?.(socket);
      },
    };
  }
  // bound to the client's address (any port: the client's own collides with the previous flow's onward
  // connection when the client reuses its port: EADDRNOTAVAIL), TCP_NODELAY and the onward SRH, all before connect
  return new TransparentOutbound(outboundSocket(transparentOptions(d, client), { allowHalfOpen: true }), server);
}

/** The transparent outbound socket's options: bound to the client's address (any port), TCP_NODELAY, the onward SRH. */
function transparentOptions(d: Accepted<LoadedFunction>, client: Endpoint): Onward['options'] {
  return { srh: onwardSrh(d.onward), transparent: true, bind: { address: client.address, port: 0 }, noDelay: true };
}

/** The transparent outbound socket, already bound to the client's address: connecting is all that is left. */
class TransparentOutbound implements Outbound {
  constructor(
    readonly stream: net.Socket,
    private readonly server: Endpoint,
  ) {}

  connect(): void {
    this.stream.connect({ host: this.server.address, port: this.server.port, family: 6 });
  }
}

/**
 * A flow of the proxy. It is its own `Flow`'s deps (methods, not per-flow closures: a connection
 * costs as few JavaScript objects as it can); what all flows share comes from the worker (`host`).
 */
export class ProxyFlow implements FlowDeps {
  readonly flow: Flow;
  readonly facts: FlowFacts;
  readonly ops = SOCKET_OPS;
  /** performance.now() at the start, and the connect time once the server side is up (flow-metrics.ts) */
  readonly startedAt = performance.now();
  connectMs: number | undefined;

  constructor(
    readonly id: number,
    /** the accepted socket, or (nativeRelay.accept) its descriptor until the relay or a net.Socket takes it */
    public inbound: net.Socket | FdInbound,
    readonly decision: Accepted<LoadedFunction>,
    readonly client: Endpoint,
    readonly server: Endpoint,
    /** the function's counters */
    readonly counters: FunctionStats,
    private readonly host: ProxyFlowDeps,
    /** called once the flow has closed (the admission's release) */
    readonly released?: () => void,
  ) {
    const d = decision;
    this.facts = { flowId: id, functionId: d.functionId, argument: d.argument, sid: d.sid, client, server, path: d.path, position: d.position };
    this.flow = new Flow(inbound as unknown as Duplex, this);
  }

  get log(): Logger {
    return this.host.log;
  }

  /** config nativeRelay: the relay that may take this flow's sockets over (sdk/flow.ts handOver) */
  get pairRelay(): PairRelay | undefined {
    return this.host.pairRelay;
  }

  get connectTimeoutMs(): number {
    return this.host.connectTimeoutMs;
  }

  now(): number {
    return this.host.now();
  }

  prepareInbound(): void {
    const s = this.inbound;
    if (s instanceof FdInbound) {
      // the TIME_WAIT release is the relay thread's (or toSocket's, in inboundStream)
      if (this.decision.replySrh) {
        const n = native();
        n.setsockoptBuffer(s.fd, n.constants.IPPROTO_IPV6, n.constants.IPV6_RTHDR, this.decision.replySrh);
      }
      return;
    }
    // an active close here leaves a TIME_WAIT that would drop the client's next SYN from this port
    if (this.host.releaseTimeWait !== false) releaseTimeWaitOnClose(s, this.server, this.client, this.host.log);
    // the return path: this socket's replies go back through the previous hop's return SID
    if (this.decision.replySrh) setRoutingHeader(s, this.decision.replySrh);
  }

  /** A flow on an accepted descriptor that the relay did not take: its net.Socket, made now (sdk/flow.ts inboundStream). */
  inboundStream(): net.Socket | undefined {
    const s = this.inbound;
    if (!(s instanceof FdInbound)) return undefined;
    const socket = s.toSocket();
    this.inbound = socket;
    if (this.host.releaseTimeWait !== false) releaseTimeWaitOnClose(socket, this.server, this.client, this.host.log);
    return socket;
  }

  spawn(fnDeps: FunctionDeps): FlowTransforms {
    return spawnFor(this.decision, this.facts, fnDeps);
  }

  /** config nativeRelay.connect: the relay thread opens the server side of a flow it carries (sdk/flow.ts connectOver) */
  connectPair(t: FlowTransforms, events: PairConnectEvents): PairRelayHandle | undefined {
    const s = this.inbound;
    if (s instanceof FdInbound) return this.host.acceptConnect?.(s, t, this.decision.onward, events);
    return this.host.pairConnect?.(s, t, () => ({ options: transparentOptions(this.decision, this.client), server: this.server }), events);
  }

  outbound(t: FlowTransforms): Outbound {
    return carrierFor(t, this.decision, this.client, this.server);
  }

  onOpen(): void {
    this.host.onOpen?.(this);
  }

  onClosed(): void {
    const d = this.decision;
    d.entry.detach(this);
    d.downstream?.entry.detach(this);
    this.released?.();
    this.host.onClosed(this);
  }

  get fn(): LoadedFunction {
    return this.decision.entry;
  }

  get state(): Flow['state'] {
    return this.flow.state;
  }

  get lastActivity(): number {
    return this.flow.lastActivity;
  }

  /** The function counts the flow (unload waits for it), then the flow starts (sdk/flow.ts). */
  start(): void {
    this.fn.attach(this);
    this.decision.downstream?.entry.attach(this);
    this.flow.start();
  }

  fail(end: FlowEnd): void {
    this.flow.fail(end);
  }

  record(now: number): FlowRecord {
    const d = this.decision;
    return {
      id: this.id,
      functionId: d.functionId,
      function: this.fn.name,
      version: this.fn.version,
      argument: d.argument.toString(),
      client: `[${this.client.address}]:${this.client.port}`,
      server: `[${this.server.address}]:${this.server.port}`,
      nextHop: d.path[d.position + 1] ?? this.server.address,
      ...(d.replyVia ? { replyVia: d.replyVia } : {}),
      ...(d.downstream ? { downstreamFn: d.downstream.functionId } : {}),
      ...this.flow.progress(now),
    };
  }
}

/**
 * Sends a RST (SO_LINGER 0, then close) and destroys; harmless on an already destroyed socket.
 *
 * Not Node's resetAndDestroy(): on a socket whose shutdown is still queued (the relay has just
 * forwarded a FIN with end(), and libuv runs the shutdown() on the next loop turn), libuv refuses the
 * reset (uv_tcp_close_reset: EINVAL), and Node then emits 'error' and drops the handle without ever
 * closing it: no 'close' event, the descriptor leaks, and the flow stays in `closing` for good
 * (issue 12 item 20). Setting SO_LINGER ourselves and closing the handle has no such case; it also
 * covers a socket still connecting (Node would defer the reset until 'connect').
 */
export function resetSocket(s: net.Socket | FdInbound): void {
  if (s.destroyed) return;
  if (s instanceof FdInbound) {
    s.destroy();
    return;
  }
  try {
    lingerZero(s);
  } catch {
    // no fd (yet): nothing was sent
  }
  s.destroy();
}
