/**
 * The native relay (src/native/relay.ts) as a flow's pair relay: a `copy` flow — identity both ways,
 * the transparent outbound socket (no function carrier) — whose two sockets hold nothing in
 * JavaScript is handed over; any other flow declines (the JavaScript relay runs). Events map onto
 * the flow's: bytes (totals), EOF per direction, a side's reset, the end.
 */
import net from 'node:net';
import { canAdopt, type AdoptOptions, type NativeRelay, type PairBytes } from '../native/relay.js';
import type { PairRelay } from '../sdk/flow.js';
import { IDENTITY } from '../sdk/types.js';

/** `options.releaseTimeWait`: the inbound socket's TIME_WAIT after an active close is destroyed (tproxy interception; src/proxy/timewait.ts) */
export function nativePairRelay(relay: NativeRelay, options: AdoptOptions = {}): PairRelay {
  return (inbound, outbound, t, ev) => {
    if (t.upstream !== IDENTITY || t.downstream !== IDENTITY || t.carrier) return undefined;
    if (!(inbound instanceof net.Socket) || !(outbound instanceof net.Socket) || !canAdopt(inbound) || !canAdopt(outbound)) return undefined;
    const bytes = (b: PairBytes): void => ev.bytes(b.aToB, b.bToA);
    const pair = relay.adopt(inbound, outbound, {
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
    }, options);
    return {
      abort: () => void pair.abort(),
      buffered: () => {
        const s = pair.stats();
        return { up: s?.queuedAToB ?? 0, down: s?.queuedBToA ?? 0 };
      },
    };
  };
}
