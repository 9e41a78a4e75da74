/**
 * The native relay (src/native/relay.ts) as a flow's pair relay: a flow whose two transforms both say
 * what they do in native terms (`native`, sdk/types.ts: `copy`'s identity, `xor`, `meter`,
 * `ratelimit`, and chains made only of those) and that uses the transparent outbound socket (no
 * function carrier), with nothing held in JavaScript on either socket, is handed over; any other flow
 * declines (the JavaScript relay runs). The relay thread runs the byte ops (xor, ratelimit); `count`
 * ops (meter) are fed from the relay's byte reports. Events map onto the flow's: bytes (totals), EOF
 * per direction, a side's reset, the end.
 *
 * Two ways in: `nativePairRelay` takes both sockets once the onward one is connected (net.Socket);
 * `nativePairConnect` (config nativeRelay.connect) takes the client socket before there is any onward
 * net.Socket: the onward socket is a bare descriptor whose non-blocking connect the relay thread
 * completes before it relays; `nativeAcceptConnect` (config nativeRelay.accept) takes a connection the
 * relay thread accepted itself (no net.Socket on either side): one native call makes the onward socket,
 * connects it and adds the pair.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { isSrError } from '../core/errors.js';
import { onwardSrh, type OnwardPath } from '../codec/srh.js';
import { canAdopt, resetFd, sameOnward, type AdoptOptions, type EarlyOnward, type NativeRelay, type PairBytes, type PairEvents, type RelayOp, type RelayPair } from '../native/relay.js';
import { connectingFd, type OutboundOptions } from '../native/sockets.js';
import type { PairConnectEvents, PairRelay, PairRelayEvents, PairRelayHandle } from '../sdk/flow.js';
import { nativeOf } from '../sdk/native-ops.js';
import { isSyncTransform, type FlowTransforms, type NativeOp } from '../sdk/types.js';

const ignore = (): void => undefined;

/** How each native op is run: by the relay thread (an op of its own), or from its byte reports. */
const OPS: { [K in NativeOp['op']]: (op: Extract<NativeOp, { op: K }>, d: DirectionPlan) => void } = {
  xor: (op, d) => void d.relay.push({ op: 'xor', key: op.key, passes: op.passes }),
  ratelimit: (op, d) => void d.relay.push({ op: 'ratelimit', rate: op.rate, burst: op.burst }),
  count: (op, d) => void d.counts.push(op.count),
};

interface DirectionPlan {
  relay: RelayOp[];
  counts: ((bytes: number) => void)[];
}

function plan(ops: readonly NativeOp[]): DirectionPlan {
  const d: DirectionPlan = { relay: [], counts: [] };
  for (const op of ops) (OPS[op.op] as (op: NativeOp, d: DirectionPlan) => void)(op, d);
  return d;
}

/** Both directions' plans when the flow is native (ops both ways, no carrier), else undefined. */
function plans(t: FlowTransforms): { up: DirectionPlan; down: DirectionPlan } | undefined {
  const upOps = nativeOf(t.upstream);
  const downOps = nativeOf(t.downstream);
  if (!upOps || !downOps || t.carrier) return undefined;
  return { up: plan(upOps), down: plan(downOps) };
}

export interface NativePairRelayOptions {
  /** the inbound socket's TIME_WAIT after an active close is destroyed by the relay thread (tproxy interception; src/proxy/timewait.ts) */
  releaseTimeWait?: boolean;
  /** where a function's unrunnable native ops are reported (once per message) */
  log?: Logger;
}

/** The onward socket a flow would open: its options (SRH, transparent bind) and where it connects. */
export interface Onward {
  options: OutboundOptions;
  server: { address: string; port: number };
}

/**
 * The native onward connect (config nativeRelay.connect): for a flow the relay would take over
 * anyway, the onward socket is a bare descriptor (no net.Socket) whose non-blocking connect the relay
 * thread completes before relaying; the client side is handed over at once. Undefined: the flow is not
 * native (the carrier opens a net.Socket as before). `onward` is asked only for a native flow.
 */
export type PairConnect = (inbound: net.Socket, t: FlowTransforms, onward: () => Onward, events: PairConnectEvents) => PairRelayHandle | undefined;

/** The part of an accepted descriptor (flow.ts FdInbound) the relay takes over. */
export interface AcceptedFd {
  readonly fd: number;
  /** the descriptor is the relay's now (an early onward socket not taken before is reset) */
  take(): number;
  /** config nativeRelay.connectEarly: the onward socket the accept started, if any */
  readonly earlyOnward?: EarlyOnward | undefined;
  /** that socket's descriptor is the caller's now */
  takeEarly?(): number | undefined;
  /** the SYN's routing header when the decision depended on it alone: the accept may learn this flow's onward header */
  readonly syn?: Buffer | undefined;
  /** that decision, kept with what the accept learns (the next SYN with this header reuses it) */
  readonly decision?: unknown;
  /** the decision is the early socket's own (its memo): its onward SRH is that socket's */
  readonly fromMemo?: boolean;
}

/**
 * The native accept (config nativeRelay.accept): a connection the relay thread accepted, for a flow
 * the relay carries: the onward socket (transparent, from the client's address, the onward SRH) made,
 * connected and paired with it in one native call. Undefined: the flow is not native (the caller makes
 * a net.Socket of the descriptor and the JavaScript relay runs).
 */
export type AcceptConnect = (inbound: AcceptedFd, t: FlowTransforms, onward: OnwardPath, events: PairConnectEvents) => PairRelayHandle | undefined;

/** The relay's events as the flow's (a = the client side), with meter's counters fed from the byte reports. */
function pairEvents(ev: PairRelayEvents, p: { up: DirectionPlan; down: DirectionPlan }): PairEvents {
  let seenUp = 0;
  let seenDown = 0;
  const bytes = (b: PairBytes): void => {
    // meter's counters: what moved since the last report (ops keep lengths: what went out came in)
    if (b.aToB > seenUp) for (const c of p.up.counts) c(b.aToB - seenUp);
    if (b.bToA > seenDown) for (const c of p.down.counts) c(b.bToA - seenDown);
    seenUp = Math.max(seenUp, b.aToB);
    seenDown = Math.max(seenDown, b.bToA);
    ev.bytes(b.aToB, b.bToA);
  };
  return {
    onBytes: bytes,
    onEof: (d, b) => {
      bytes(b);
      ev.eof(d === 'aToB' ? 'up' : 'down');
    },
    onReset: (side, code, b) => {
      bytes(b);
      ev.reset(side === 'a' ? 'client' : 'server', Object.assign(new Error(`${side === 'a' ? 'client' : 'server'} side: ${code}`), { code }));
    },
    onDone: (_end, b) => {
      bytes(b);
      ev.done();
    },
  };
}

function handleOf(pair: RelayPair): PairRelayHandle {
  return {
    abort: () => void pair.abort(),
    buffered: () => {
      const s = pair.stats();
      return { up: s?.queuedAToB ?? 0, down: s?.queuedBToA ?? 0 };
    },
  };
}

/**
 * Hands the flow over (`take`), or returns undefined when the relay refuses the functions' ops
 * (RELAY_OPS: a bug in a function's native description, reported once per message): the JavaScript
 * relay carries the flow then.
 */
function handOver(t: FlowTransforms, take: () => RelayPair, reported: Set<string>, log: Logger | undefined): PairRelayHandle | undefined {
  let pair: RelayPair;
  try {
    pair = take();
  } catch (e) {
    if (!isSrError(e, 'RELAY_OPS')) throw e;
    if (!reported.has(e.message)) {
      reported.add(e.message);
      log?.error({ err: e }, 'a function declared native ops the relay cannot run: its flows keep the JavaScript relay');
    }
    return undefined;
  }
  // the transforms' own code never runs now; a stream one (a RateLimiter, a composed chain) is only
  // destroyed at the flow's end, and what it emits then (AbortError) concerns nobody
  for (const dir of [t.upstream, t.downstream]) if (!isSyncTransform(dir)) dir.on('error', ignore);
  return handleOf(pair);
}

export function nativePairRelay(relay: NativeRelay, options: NativePairRelayOptions = {}): PairRelay {
  const { log, releaseTimeWait = false } = options;
  const reported = new Set<string>();
  return (inbound, outbound, t, ev) => {
    const p = plans(t);
    if (!p) return undefined;
    if (!(inbound instanceof net.Socket) || !(outbound instanceof net.Socket) || !canAdopt(inbound) || !canAdopt(outbound)) return undefined;
    const how: AdoptOptions = { aToB: p.up.relay, bToA: p.down.relay, releaseTimeWait };
    return handOver(t, () => relay.adopt(inbound, outbound, pairEvents(ev, p), how), reported, log);
  };
}

export function nativePairConnect(relay: NativeRelay, options: NativePairRelayOptions = {}): PairConnect {
  const { log, releaseTimeWait = false } = options;
  const reported = new Set<string>();
  return (inbound, t, onward, ev) => {
    const p = plans(t);
    if (!p || !canAdopt(inbound)) return undefined;
    const how: AdoptOptions = { aToB: p.up.relay, bToA: p.down.relay, releaseTimeWait };
    return handOver(
      t,
      () => {
        const o = onward();
        const fd = connectingFd(o.options, o.server);
        return relay.adoptConnecting(inbound, fd, { ...pairEvents(ev, p), onConnected: () => ev.connected() }, how);
      },
      reported,
      log,
    );
  };
}

export function nativeAcceptConnect(relay: NativeRelay, options: NativePairRelayOptions = {}): AcceptConnect {
  const { log, releaseTimeWait = false } = options;
  const reported = new Set<string>();
  return (inbound, t, onward, ev) => {
    const p = plans(t);
    if (!p) return undefined;
    const how: AdoptOptions = { aToB: p.up.relay, bToA: p.down.relay, releaseTimeWait };
    return handOver(
      t,
      () => {
        const early = inbound.earlyOnward;
        // a decision reused from the early socket's memo encodes that socket's onward SRH
        const srh = inbound.fromMemo && early && early.srh !== undefined ? early.srh : onwardSrh(onward);
        const events = { ...pairEvents(ev, p), onConnected: () => ev.connected() };
        if (early && sameOnward(early, srh) && inbound.takeEarly) {
          // the accept started this very onward socket: adopted (a throw leaves both descriptors ours)
          const fb = inbound.takeEarly()!;
          let pair: RelayPair;
          try {
            pair = relay.acceptAdopt(inbound.fd, fb, events, how);
          } catch (e) {
            resetFd(fb);
            throw e;
          }
          inbound.take();
          return pair;
        }
        const pair = relay.acceptConnect(inbound.fd, srh, events, how);
        inbound.take(); // resets an early socket with another header (the functions changed since)
        if (inbound.syn) relay.earlyLearn(inbound.syn, srh, inbound.decision);
        return pair;
      },
      reported,
      log,
    );
  };
}
