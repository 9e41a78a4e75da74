/**
 * One flow's lifecycle, apart from sockets: the client side (inbound), the server side (outbound,
 * opened through an injected carrier), the function's transforms between them (relayed by an injected
 * relay), and the rules that tie their lifetimes together: a FIN travels as a FIN, a reset as a reset,
 * a failed or slow connect resets the client, and the flow ends when both sides are closed.
 *
 * The proxy wires real sockets into it (src/proxy/flow.ts: the transparent outbound socket or a
 * function's own carrier, SO_LINGER resets); srv6pipes/testing wires in-memory streams (testing.ts).
 * Both run this same code.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { isSrError } from '../core/errors.js';
import type { FlowFacts } from './context.js';
import { flowEndFields, flowEndLabel, type FlowEnd } from './flow-end.js';
import { newDirectionStats, relay as defaultRelay, type DirectionStats, type RelayHooks } from './relay.js';
import { releaseTransforms, type FlowTransforms } from './types.js';

export type FlowState = 'connecting' | 'open' | 'closing' | 'closed';

/** The server side as the carrier opens it: a stream that emits 'connect' once it is up. */
export interface Outbound {
  readonly stream: Duplex;
  /** starts connecting (called once the flow listens to the stream) */
  connect(): void;
  /** once connected, before relaying: a preamble, socket options, the function's carrier hook (throwing is a function_error) */
  connected?(): void;
}

/** What a flow does to its streams beyond reading and writing (sockets: SO_LINGER; memory: nothing). */
export interface StreamOps {
  /** end with a reset (RST), now */
  reset(s: Duplex): void;
  /** from the start, a close is a reset (a dying process must not pass a truncated stream for a complete one) */
  abortive(s: Duplex): void;
  /** both directions ended cleanly: a close is orderly again */
  orderly(s: Duplex): void;
}

/** In-memory streams: a reset is a destroy. */
export const MEMORY_OPS: StreamOps = { reset: (s) => void s.destroy(), abortive: () => undefined, orderly: () => undefined };

/** What a flow counts into (a function's stats in the proxy). */
export interface FlowCounters {
  flowsTotal: number;
  flowsActive: number;
  bytesUp: number;
  bytesDown: number;
  /** flow endings by label (flow-end.ts) */
  endings: Record<string, number>;
}

/** What a pair relay reports of a flow it took over (totals, not deltas). */
export interface PairRelayEvents {
  bytes(up: number, down: number): void;
  /** a side's FIN went on to the other side (up: the client's) */
  eof(direction: 'up' | 'down'): void;
  /** `side` failed or was reset; the relay reset the other one */
  reset(side: 'client' | 'server', error: Error): void;
  /** both sides are closed */
  done(): void;
}

/** What a pair relay that opens the server side itself (FlowDeps.connectPair) reports besides. */
export interface PairConnectEvents extends PairRelayEvents {
  /** the server side is connected; bytes move from here (a failed connect is reset('server', error)) */
  connected(): void;
}

export interface PairRelayHandle {
  /** reset both sides now */
  abort(): void;
  /** bytes taken from one side and not yet accepted by the other */
  buffered(): { up: number; down: number };
}

/**
 * A relay of both directions that takes the two sides over (the native relay: src/proxy/native-relay.ts),
 * or declines (undefined: the per-direction relay runs). After a takeover the streams emit nothing
 * the flow listens to; the relay's events drive the flow's end.
 */
export type PairRelay = (inbound: Duplex, outbound: Duplex, t: FlowTransforms, events: PairRelayEvents) => PairRelayHandle | undefined;

export interface FlowDeps {
  log: Logger;
  /** the flow's facts (id, function, argument, path, endpoints), as its function sees them */
  facts: FlowFacts;
  /**
   * the function's transforms for this flow (the loader's spawn, or a descriptor's). `log` (the flow's
   * child logger) and `signal` are made on first read: a function that reads neither costs no logger
   * and no AbortController.
   */
  spawn(deps: FunctionDeps): FlowTransforms;
  /** before spawning: prepare the client side (the proxy: the reply SRH); throwing ends the flow as return_path_failed */
  prepareInbound?(): void;
  /** the carrier: opens the server side once the transforms are known (a function may carry it itself); throwing is connect_failed */
  outbound(transforms: FlowTransforms): Outbound;
  /** the relay of one direction (default: sdk/relay.ts) */
  relay?: typeof defaultRelay;
  /** tried first, when given: a relay that takes both sides over */
  pairRelay?: PairRelay;
  /**
   * tried before the carrier, when given: a pair relay that opens the server side itself and takes both
   * sides over from the start (the native onward connect: no server-side stream at all), under the same
   * connect timeout; undefined: it declines (the carrier runs). Throwing is connect_failed.
   */
  connectPair?(transforms: FlowTransforms, events: PairConnectEvents): PairRelayHandle | undefined;
  /**
   * when the flow started on a stand-in for the client side (the proxy's native accept: a bare
   * descriptor, src/proxy/flow.ts FdInbound) and connectPair declined: the client side as a stream,
   * which the flow uses from here (the stand-in is left alone); undefined: it already is one
   */
  inboundStream?(): Duplex | undefined;
  ops?: StreamOps;
  counters?: FlowCounters;
  /** the server side must be up within this (ms); 0: no limit */
  connectTimeoutMs: number;
  /** a clock (ms); the proxy's is coarse, refreshed by its sweep */
  now(): number;
  /** once, when the server side is up (the flow is open; the relay that carries it is known) */
  onOpen?(): void;
  /** once, when both sides are closed */
  onClosed?(flow: Flow): void;
}

/** The generic part of a `flows` row. */
export interface FlowProgress {
  state: FlowState;
  /** how the flow is ending (closing) or ended (closed): its label */
  end?: string;
  ageMs: number;
  idleMs: number;
  bytesUp: number;
  bytesDown: number;
  /** bytes held in user space, waiting for the server side / client side to accept them */
  bufferedUp: number;
  bufferedDown: number;
  /** 'native': a pair relay (the native relay thread) took the flow's sockets over */
  relay?: 'native';
}

function fmt(e: { address: string; port: number }): string {
  return `[${e.address}]:${e.port}`;
}

/** What a flow gives its function: its log, its abort signal (both made on first read), its reset. */
export interface FunctionDeps {
  readonly log: Logger;
  readonly signal: AbortSignal;
  reset(reason: string): void;
}

/** The flow a stream belongs to (set by `watch`): the listeners are shared functions, not per-flow closures. */
const FLOW = Symbol('srv6pipes.flow');
type Watched = Duplex & { [FLOW]?: Flow };

/** A flow's `FunctionDeps`: `log` and `signal` ask the flow, which makes them on first read. */
class FlowFunctionDeps implements FunctionDeps {
  readonly reset: (reason: string) => void;
  constructor(private readonly flow: Flow) {
    // a property, not a method: functions may call it detached
    this.reset = (reason: string) => flow.fail({ kind: 'function_reset', reason });
  }
  get log(): Logger {
    return this.flow.log;
  }
  get signal(): AbortSignal {
    return this.flow.signal;
  }
}

export class Flow implements RelayHooks {
  state: FlowState = 'connecting';
  readonly startedAt: number;
  lastActivity: number;
  /** how the flow ends (the first reason wins); 'ok' once closed without one */
  end: FlowEnd | undefined;
  /** what the transforms' close() threw, if anything */
  closeError: unknown;
  private outbound: Duplex | undefined;
  private transforms: FlowTransforms | undefined;
  private released = false;
  /** made on first read of `signal` (most functions never read it); `aborted` says whether the flow released its function */
  private abort: AbortController | undefined;
  private aborted = false;
  /** the flow's child logger, made on first read of `log` */
  private childLog: Logger | undefined;
  /** the carrier, from openOutbound until connected */
  private carrier: Outbound | undefined;
  readonly up: DirectionStats = newDirectionStats();
  readonly down: DirectionStats = newDirectionStats();
  private connectTimer: NodeJS.Timeout | undefined;
  private closedSides = 0;
  private readonly ops: StreamOps;
  /** the listeners watch() put on the sides, to take off when a pair relay takes them over */
  /** the pair relay that owns the sides, once it took them over (until they are closed) */
  private pair: PairRelayHandle | undefined;
  private handedOver = false;

  constructor(
    /** the client side (a stand-in may be replaced by its stream once: FlowDeps.inboundStream) */
    public inbound: Duplex,
    private readonly deps: FlowDeps,
  ) {
    this.startedAt = deps.now();
    this.lastActivity = this.startedAt;
    this.ops = deps.ops ?? MEMORY_OPS;
  }

  get id(): number {
    return this.deps.facts.flowId;
  }

  /** The flow's logger (a child of the deps' with the flow id), made on first read. */
  get log(): Logger {
    return (this.childLog ??= this.deps.log.child({ flow: this.id }));
  }

  /** Aborted when the flow releases its function; made on first read (aborted already if it was released before). */
  get signal(): AbortSignal {
    if (!this.abort) {
      this.abort = new AbortController();
      if (this.aborted) this.abort.abort();
    }
    return this.abort.signal;
  }

  /** The steps of a flow's start; each one that fails ends the flow, and the rest do not run. */
  start(): void {
    this.count();
    this.watch(this.inbound, 'client');
    if (!this.prepareInbound()) return;
    if (!this.spawnTransforms()) return;
    this.openOutbound();
  }

  /** Counted as started (and active until closed). */
  private count(): void {
    const c = this.deps.counters;
    if (!c) return;
    c.flowsTotal++;
    c.flowsActive++;
  }

  /**
   * A side's errors end the flow; its close is counted; its close is a reset until both its directions
   * ended. The listeners are shared (the stream is their `this`, the flow its FLOW property).
   */
  private watch(s: Duplex, side: 'client' | 'server'): void {
    (s as Watched)[FLOW] = this;
    s.on('error', side === 'client' ? Flow.onClientError : Flow.onServerError);
    s.on('close', Flow.onSideClose);
    this.ops.abortive(s);
    // both fire before autoDestroy closes the stream
    s.on('end', Flow.onSideDone);
    s.on('finish', Flow.onSideDone);
  }

  /** Takes the side listeners off both streams (they were handed over to a pair relay). */
  private unwatchSides(): void {
    for (const s of [this.inbound, this.outbound]) {
      if (!s) continue;
      s.off('error', Flow.onClientError);
      s.off('error', Flow.onServerError);
      s.off('close', Flow.onSideClose);
      s.off('end', Flow.onSideDone);
      s.off('finish', Flow.onSideDone);
    }
  }

  private static onClientError(this: Watched, e: Error): void {
    this[FLOW]!.fail({ kind: 'client_reset', error: e });
  }

  private static onServerError(this: Watched, e: Error): void {
    const f = this[FLOW]!;
    f.fail({ kind: f.state === 'connecting' ? 'connect_failed' : 'server_reset', error: e });
  }

  private static onSideClose(this: Watched): void {
    this[FLOW]!.sideClosed(this);
  }

  private static onSideDone(this: Watched): void {
    if (this.readableEnded && this.writableFinished && !this.destroyed) this[FLOW]!.ops.orderly(this);
  }

  private static onConnect(this: Watched): void {
    this[FLOW]!.connected();
  }

  private static onConnectTimeout(f: Flow): void {
    f.connectTimer = undefined;
    f.fail({ kind: 'connect_timeout' });
  }

  /** The connect timer is dropped, not only cleared: a flow keeps no Timeout once its server side is up. */
  private stopConnectTimer(): void {
    if (this.connectTimer === undefined) return;
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  }

  private prepareInbound(): boolean {
    try {
      this.deps.prepareInbound?.();
      return true;
    } catch (e) {
      this.fail({ kind: 'return_path_failed', error: e });
      return false;
    }
  }

  /** The function's transforms; a reset from inside spawn() ends the flow before anything is opened. */
  private spawnTransforms(): boolean {
    try {
      this.transforms = this.deps.spawn(new FlowFunctionDeps(this));
    } catch (e) {
      this.fail({ kind: isSrError(e, 'FLOW_BAD_ARGUMENT') ? 'bad_argument' : 'function_error', error: e });
      return false;
    }
    if (this.end) {
      this.release();
      return false;
    }
    return true;
  }

  /** The server side, through the carrier, under the connect timeout; relaying starts once it is up. */
  private openOutbound(): void {
    if (this.connectOver(this.transforms!)) return;
    if (!this.streamInbound()) return;
    let out: Outbound;
    try {
      out = this.deps.outbound(this.transforms!);
    } catch (e) {
      this.fail({ kind: 'connect_failed', error: e });
      return;
    }
    this.outbound = out.stream;
    this.carrier = out;
    this.watch(out.stream, 'server');
    if (this.deps.connectTimeoutMs > 0) this.connectTimer = setTimeout(Flow.onConnectTimeout, this.deps.connectTimeoutMs, this);
    out.stream.once('connect', Flow.onConnect);
    out.connect();
  }

  private connected(): void {
    this.stopConnectTimer();
    const out = this.carrier!;
    this.carrier = undefined;
    if (this.end || !this.transforms) return;
    this.state = 'open';
    try {
      out.connected?.();
    } catch (e) {
      this.fail({ kind: 'function_error', error: e });
      return;
    }
    this.startRelay(out.stream, this.transforms);
    this.deps.onOpen?.();
  }

  /** Both directions, each with its back-pressure and half-close; the client side was paused until now. The flow is the relay's hooks. */
  private startRelay(out: Duplex, t: FlowTransforms): void {
    if (this.handOver(out, t)) return;
    const relay = this.deps.relay ?? defaultRelay;
    relay(this.inbound, out, t.upstream, this.up, this);
    relay(out, this.inbound, t.downstream, this.down, this);
    this.inbound.resume();
  }

  /** Both sides to the pair relay, if there is one and it takes them; its events drive the rest. */
  private handOver(out: Duplex, t: FlowTransforms): boolean {
    const pairRelay = this.deps.pairRelay;
    if (!pairRelay) return false;
    const handle = pairRelay(this.inbound, out, t, this.pairEvents());
    if (!handle) return false;
    this.pair = handle;
    this.handedOver = true;
    // the streams' own close (they were handed over) means nothing to the flow any more
    this.unwatchSides();
    return true;
  }

  /**
   * The server side opened by the pair relay itself (deps.connectPair), which takes both sides over
   * now; the connect timeout runs as for a carrier. False when there is none or it declines.
   */
  private connectOver(t: FlowTransforms): boolean {
    if (!this.deps.connectPair) return false;
    let handle: PairRelayHandle | undefined;
    try {
      handle = this.deps.connectPair(t, this.pairEvents());
    } catch (e) {
      this.fail({ kind: 'connect_failed', error: e });
      return true;
    }
    if (!handle) return false;
    this.pair = handle;
    this.handedOver = true;
    this.unwatchSides();
    if (this.deps.connectTimeoutMs > 0) this.connectTimer = setTimeout(Flow.onConnectTimeout, this.deps.connectTimeoutMs, this);
    return true;
  }

  /** The client side as a stream when it was a stand-in (deps.inboundStream); false when that failed (the flow ended). */
  private streamInbound(): boolean {
    if (!this.deps.inboundStream) return true;
    let s: Duplex | undefined;
    try {
      s = this.deps.inboundStream();
    } catch (e) {
      this.fail({ kind: 'client_reset', error: e });
      return false;
    }
    if (!s || s === this.inbound) return true;
    const old = this.inbound;
    old.off('error', Flow.onClientError);
    old.off('close', Flow.onSideClose);
    old.off('end', Flow.onSideDone);
    old.off('finish', Flow.onSideDone);
    this.inbound = s;
    this.watch(s, 'client');
    return true;
  }

  /** A pair relay's events as the flow's: totals, FINs, resets (server's while connecting: connect_failed), the end. */
  private pairEvents(): PairConnectEvents {
    return {
      bytes: (up, down) => {
        if (up === this.up.bytesOut && down === this.down.bytesOut) return;
        this.up.bytesIn = this.up.bytesOut = up;
        this.down.bytesIn = this.down.bytesOut = down;
        this.lastActivity = this.deps.now();
      },
      eof: (direction) => {
        (direction === 'up' ? this.up : this.down).ended = true;
      },
      reset: (side, error) => this.fail({ kind: side === 'client' ? 'client_reset' : this.state === 'connecting' ? 'connect_failed' : 'server_reset', error }),
      done: () => {
        this.pair = undefined;
        this.closed();
      },
      connected: () => {
        this.stopConnectTimer();
        if (this.end) return;
        this.state = 'open';
        this.deps.onOpen?.();
      },
    };
  }

  /** Relay hook: a transform threw or emitted 'error'. */
  onTransformError(e: unknown): void {
    this.fail({ kind: 'function_error', error: e });
  }

  /** Relay hook: bytes moved (idle tracking). */
  onActivity(): void {
    this.lastActivity = this.deps.now();
  }

  /** Resets both sides and records why (the first reason wins). */
  fail(end: FlowEnd): void {
    if (this.end) return;
    this.end = end;
    this.state = 'closing';
    this.stopConnectTimer();
    const { facts, log } = this.deps;
    log.info({ flow: this.id, fn: facts.functionId, client: fmt(facts.client), server: fmt(facts.server), ...flowEndFields(end) }, 'flow reset');
    if (end.kind === 'function_error') log.error({ flow: this.id, fn: facts.functionId, err: end.error }, 'function failed');
    this.ops.reset(this.inbound);
    if (this.outbound) this.ops.reset(this.outbound);
    this.pair?.abort();
    this.release();
  }

  /** Ends the function's part in the flow: abort signal (if anyone asked for it), stream transforms destroyed, close(). */
  private release(): void {
    if (!this.aborted) {
      this.aborted = true;
      this.abort?.abort();
    }
    const t = this.transforms;
    if (!t || this.released) return;
    this.released = true;
    this.closeError = releaseTransforms(t);
    if (this.closeError !== undefined) this.deps.log.error({ flow: this.id, err: this.closeError }, 'function close() threw');
  }

  private sideClosed(s: Duplex): void {
    this.closedSides++;
    const expected = this.outbound ? 2 : 1;
    if (this.closedSides < expected) {
      if (this.state === 'connecting') this.fail({ kind: 'client_closed' });
      // closed with both directions done: the other side has nothing left to do and closes on its own;
      // closed any other way (no 'error' seen), the other side would wait for nothing: reset it
      else if (!(s.readableEnded && s.writableFinished)) this.fail({ kind: s === this.inbound ? 'client_reset' : 'server_reset' });
      return;
    }
    this.closed();
  }

  /** Both sides closed: counted, logged, reported once. */
  private closed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopConnectTimer();
    this.release();
    this.end ??= { kind: 'ok' };
    const label = flowEndLabel(this.end);
    const c = this.deps.counters;
    if (c) {
      c.flowsActive--;
      c.bytesUp += this.up.bytesOut;
      c.bytesDown += this.down.bytesOut;
      c.endings[label] = (c.endings[label] ?? 0) + 1;
    }
    // every flow's last line is debug: at the default level not even its fields are built
    const log = this.deps.log;
    if (log.isLevelEnabled('debug')) log.debug({ flow: this.id, reason: label, up: this.up.bytesOut, down: this.down.bytesOut }, 'flow closed');
    this.deps.onClosed?.(this);
  }

  /** Which relay carries the flow: the native relay thread (a pair relay took it over), or JavaScript. */
  get relayKind(): 'js' | 'native' {
    return this.handedOver ? 'native' : 'js';
  }

  /** The generic part of the flow's `flows` row. */
  progress(now: number): FlowProgress {
    return {
      state: this.state,
      ...(this.end ? { end: flowEndLabel(this.end) } : {}),
      ageMs: now - this.startedAt,
      idleMs: now - this.lastActivity,
      bytesUp: this.up.bytesOut,
      bytesDown: this.down.bytesOut,
      bufferedUp: this.pair ? this.pair.buffered().up : (this.outbound?.writableLength ?? 0),
      bufferedDown: this.pair ? this.pair.buffered().down : this.inbound.writableLength,
      ...(this.handedOver ? { relay: 'native' as const } : {}),
    };
  }
}

/**
 * The idle rule: an open flow with no byte moved for longer than `limitMs` ends as idle_timeout.
 * Returns how many were ended.
 */
export function expireIdle(flows: Iterable<Flow>, now: number, limitMs: number): number {
  let n = 0;
  for (const f of flows) {
    if (f.state === 'open' && now - f.lastActivity > limitMs) {
      f.fail({ kind: 'idle_timeout' });
      n++;
    }
  }
  return n;
}
