/**
 * The native relay (src/native/relay.ts) as a flow's pair relay: a `copy` flow — identity both ways,
 * the transparent outbound socket (no function carrier) — whose two sockets hold nothing in
 * JavaScript is handed over; any other flow declines (the JavaScript relay runs). Events map onto
 * the flow's: bytes (totals), EOF per direction, a side's reset, the end.
 */
import net from 'node:net';
import { canAdopt, type NativeRelay, type PairBytes, type PairEvents } from '../native/relay.js';
import { connectingFd, type OutboundOptions } from '../native/sockets.js';
import type { PairConnectEvents, PairRelay, PairRelayEvents, PairRelayHandle } from '../sdk/flow.js';
import { IDENTITY, type FlowTransforms } from '../sdk/types.js';

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

/** A flow the native relay carries: identity both ways, the transparent outbound socket (no carrier). */
function isNative(t: FlowTransforms): boolean {
  return t.upstream === IDENTITY && t.downstream === IDENTITY && !t.carrier;
}

export function nativePairConnect(relay: NativeRelay): PairConnect {
  return (inbound, t, onward, ev) => {
    if (!isNative(t) || !canAdopt(inbound)) return undefined;
    const o = onward();
    const fd = connectingFd(o.options, o.server);
    return handleOf(relay.adoptConnecting(inbound, fd, { ...pairEvents(ev), onConnected: () => ev.connected() }));
  };
}

export function nativePairRelay(relay: NativeRelay): PairRelay {
  return (inbound, outbound, t, ev) => {
    if (!isNative(t)) return undefined;
    if (!(inbound instanceof net.Socket) || !(outbound instanceof net.Socket) || !canAdopt(inbound) || !canAdopt(outbound)) return undefined;
    return handleOf(relay.adopt(inbound, outbound, pairEvents(ev)));
  };
}

/** The relay's events as the flow's (a = the client side). */
function pairEvents(ev: PairRelayEvents): PairEvents {
  const bytes = (b: PairBytes): void => ev.bytes(b.aToB, b.bToA);
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

function handleOf(pair: { abort(): boolean; stats(): { queuedAToB: number; queuedBToA: number } | null }): PairRelayHandle {
  return {
    abort: () => void pair.abort(),
    buffered: () => {
      const s = pair.stats();
      return { up: s?.queuedAToB ?? 0, down: s?.queuedBToA ?? 0 };
    },
  };
}
