/**
 * One intercepted flow: the accepted (client-side) socket, the transparent outbound (server-side)
 * socket, the function's transforms, and the rules that tie their lifetimes together:
 * a FIN travels as a FIN, a reset as a reset, a failed or slow connect resets the client, and the
 * flow ends when both sockets are closed.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import { lingerOff, lingerZero, outboundSocket, setRoutingHeader } from '../native/sockets.js';
import { onwardSrh } from '../codec/srh.js';
import { asymmetricTransforms } from '../sdk/compose.js';
import type { LoadedFunction } from '../sdk/loader.js';
import { newDirectionStats, relay } from '../sdk/relay.js';
import { releaseTransforms, type FlowTransforms } from '../sdk/types.js';
import type { Accepted } from './classify.js';
import type { FunctionStats } from './stats.js';
import { releaseTimeWaitOnClose } from './timewait.js';

export type FlowState = 'connecting' | 'open' | 'closing' | 'closed';

export interface FlowRecord {
  id: number;
  functionId: number;
  vf: string;
  version: number;
  argument: string;
  client: string;
  server: string;
  nextHop: string;
  /** return-path TLV: the SID the replies to the client-side go back through */
  replyVia?: string;
  /** return-path TLV: the function processing the downstream direction, when not the flow's own */
  downstreamFn?: number;
  state: FlowState;
  ageMs: number;
  idleMs: number;
  bytesUp: number;
  bytesDown: number;
  /** bytes held in user space, waiting for the server side / client side to accept them */
  bufferedUp: number;
  bufferedDown: number;
}

export interface FlowDeps {
  log: Logger;
  stats: FunctionStats;
  connectTimeoutMs: number;
  /** a coarse clock (ms), refreshed by the worker's sweep */
  now(): number;
  onClosed(flow: Flow): void;
  /** false under sk_lookup interception: TCP itself lets a new SYN replace the TIME_WAIT (timewait.ts) */
  releaseTimeWait?: boolean;
}

function fmt(address: string, port: number): string {
  return `[${address}]:${port}`;
}

export class Flow {
  state: FlowState = 'connecting';
  readonly startedAt: number;
  lastActivity: number;
  private outbound: net.Socket | undefined;
  private transforms: FlowTransforms | undefined;
  private released = false;
  private readonly abort = new AbortController();
  private readonly up = newDirectionStats();
  private readonly down = newDirectionStats();
  private connectTimer: NodeJS.Timeout | undefined;
  private ending: string | undefined;
  private closedSockets = 0;

  constructor(
    readonly id: number,
    readonly inbound: net.Socket,
    readonly decision: Accepted<LoadedFunction>,
    readonly client: { address: string; port: number },
    readonly server: { address: string; port: number },
    private readonly deps: FlowDeps,
  ) {
    this.startedAt = deps.now();
    this.lastActivity = this.startedAt;
  }

  get fn(): LoadedFunction {
    return this.decision.entry;
  }

  /** Opens the transparent outbound connection; relaying starts once it is up. */
  start(): void {
    const { decision: d, deps } = this;
    deps.stats.flowsTotal++;
    deps.stats.flowsActive++;
    this.fn.attach(this);
    d.downstream?.entry.attach(this);
    this.inbound.on('error', (e) => this.fail('client_reset', e));
    this.inbound.on('close', () => this.socketClosed(this.inbound));
    abortiveClose(this.inbound);
    orderlyWhenDone(this.inbound);
    // an active close here leaves a TIME_WAIT that would drop the client's next SYN from this port
    if (deps.releaseTimeWait !== false) releaseTimeWaitOnClose(this.inbound, this.server, this.client, deps.log);
    if (d.replySrh) {
      // the return path: this socket's replies go back through the previous hop's return SID
      try {
        setRoutingHeader(this.inbound, d.replySrh);
      } catch (e) {
        this.fail('return_path_failed', e);
        return;
      }
    }
    const facts = {
      flowId: this.id,
      functionId: d.functionId,
      argument: d.argument,
      sid: d.sid,
      client: this.client,
      server: this.server,
      path: d.path,
      position: d.position,
    };
    const fnDeps = { log: this.deps.log.child({ flow: this.id }), signal: this.abort.signal, reset: (reason: string) => this.fail(reason) };
    try {
      const forward = this.fn.spawn(facts, fnDeps);
      const back = d.downstream;
      if (!back) this.transforms = forward;
      else {
        try {
          this.transforms = asymmetricTransforms(forward, back.entry.spawn({ ...facts, functionId: back.functionId, argument: back.argument, sid: back.sid }, fnDeps));
        } catch (e) {
          releaseTransforms(forward);
          throw e;
        }
      }
    } catch (e) {
      this.fail('function_error', e);
      return;
    }
    if (this.ending) {
      // the function reset the flow from inside spawn(): release what it returned, connect nowhere
      this.release();
      return;
    }
    // the function may carry the outbound side itself (the mptcp converter); else transparent TCP
    const carrier = this.transforms?.carrier;
    let out: net.Socket;
    let carried: ReturnType<NonNullable<typeof carrier>['open']> | undefined;
    try {
      carried = carrier?.open(d.onward);
      out = carried?.socket ?? outboundSocket({ srh: onwardSrh(d.onward), transparent: true }, { allowHalfOpen: true });
    } catch (e) {
      this.fail('connect_failed', e);
      return;
    }
    this.outbound = out;
    out.on('error', (e) => this.fail(this.state === 'connecting' ? 'connect_failed' : 'server_reset', e));
    out.on('close', () => this.socketClosed(out));
    abortiveClose(out);
    orderlyWhenDone(out);
    this.connectTimer = setTimeout(() => this.fail('connect_timeout'), deps.connectTimeoutMs);
    out.once('connect', () => {
      clearTimeout(this.connectTimer);
      if (this.ending || !this.transforms) return;
      this.state = 'open';
      out.setNoDelay(true);
      if (carried?.preamble) out.write(carried.preamble);
      try {
        carrier?.connected?.(out);
      } catch (e) {
        this.fail('function_error', e);
        return;
      }
      const hooks = {
        onTransformError: (e: unknown) => this.fail('function_error', e),
        onActivity: () => {
          this.lastActivity = deps.now();
        },
      };
      relay(this.inbound, out, this.transforms.upstream, this.up, hooks);
      relay(out, this.inbound, this.transforms.downstream, this.down, hooks);
      this.inbound.resume();
    });
    const to = carried?.connect ?? { host: this.server.address, port: this.server.port, localAddress: this.client.address };
    out.connect({ ...to, family: 6 });
  }

  /** Resets both sides and records why (the first reason wins). */
  fail(reason: string, err?: unknown): void {
    if (this.ending) return;
    this.ending = reason;
    this.state = 'closing';
    clearTimeout(this.connectTimer);
    const e = err as { code?: string; message?: string } | undefined;
    this.deps.log.info(
      { flow: this.id, fn: this.decision.functionId, client: fmt(this.client.address, this.client.port), server: fmt(this.server.address, this.server.port), reason, error: e?.code ?? e?.message },
      'flow reset',
    );
    if (reason === 'function_error') this.deps.log.error({ flow: this.id, fn: this.decision.functionId, err }, 'function failed');
    resetSocket(this.inbound);
    if (this.outbound) resetSocket(this.outbound);
    this.release();
  }

  /** Ends the function's part in the flow: abort signal, stream transforms destroyed, close(). */
  private release(): void {
    if (!this.abort.signal.aborted) this.abort.abort();
    const t = this.transforms;
    if (!t || this.released) return;
    this.released = true;
    const e = releaseTransforms(t);
    if (e !== undefined) this.deps.log.error({ flow: this.id, err: e }, 'function close() threw');
  }

  private socketClosed(sock: net.Socket): void {
    this.closedSockets++;
    const expected = this.outbound ? 2 : 1;
    if (this.closedSockets < expected) {
      if (this.state === 'connecting') this.fail('client_closed');
      // closed with both directions done: the other side has nothing left to do and closes on its own;
      // closed any other way (no 'error' seen), the other side would wait for nothing: reset it
      else if (!(sock.readableEnded && sock.writableFinished)) this.fail(sock === this.inbound ? 'client_reset' : 'server_reset');
      return;
    }
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.connectTimer);
    this.release();
    this.fn.detach(this);
    this.decision.downstream?.entry.detach(this);
    const s = this.deps.stats;
    s.flowsActive--;
    s.bytesUp += this.up.bytesOut;
    s.bytesDown += this.down.bytesOut;
    const reason = this.ending ?? 'ok';
    s.endings[reason] = (s.endings[reason] ?? 0) + 1;
    this.deps.log.debug({ flow: this.id, reason, up: this.up.bytesOut, down: this.down.bytesOut }, 'flow closed');
    this.deps.onClosed(this);
  }

  record(now: number): FlowRecord {
    return {
      id: this.id,
      functionId: this.decision.functionId,
      vf: this.fn.name,
      version: this.fn.version,
      argument: this.decision.argument.toString(),
      client: fmt(this.client.address, this.client.port),
      server: fmt(this.server.address, this.server.port),
      nextHop: this.decision.path[this.decision.position + 1] ?? this.server.address,
      ...(this.decision.replyVia ? { replyVia: this.decision.replyVia } : {}),
      ...(this.decision.downstream ? { downstreamFn: this.decision.downstream.functionId } : {}),
      state: this.state,
      ageMs: now - this.startedAt,
      idleMs: now - this.lastActivity,
      bytesUp: this.up.bytesOut,
      bytesDown: this.down.bytesOut,
      bufferedUp: this.outbound?.writableLength ?? 0,
      bufferedDown: this.inbound.writableLength,
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
export function resetSocket(s: net.Socket): void {
  if (s.destroyed) return;
  try {
    lingerZero(s);
  } catch {
    // no fd (yet): nothing was sent
  }
  s.destroy();
}

/** SO_LINGER 0 from the start (a dying worker resets its flows); best effort on exotic sockets. */
function abortiveClose(s: net.Socket): void {
  try {
    lingerZero(s);
  } catch {
    // no fd yet (a carrier's socket before connect): it has no peer to mislead
  }
}

/** Once both directions of a socket ended cleanly, its close is an orderly one again. */
function orderlyWhenDone(s: net.Socket): void {
  const done = (): void => {
    if (!s.readableEnded || !s.writableFinished || s.destroyed) return;
    try {
      lingerOff(s);
    } catch {
      // the fd is gone already
    }
  };
  // both fire before Node's autoDestroy closes the socket
  s.on('end', done);
  s.on('finish', done);
}
