/**
 * Binding SIDs, the controller's decisions — beside the resolver, apart from the wire format:
 *   answerPaths()  a path query's answer: the resolver's paths, each hidden behind a binding SID when
 *                  binding SIDs are on and the client sits behind an access router that has an agent
 *                  (the first node of the walk); the key the BSID is allocated for; the TTLs;
 *   lookupBinding()  a proxy's question "what does this BSID stand for?", its TTL clamped to what
 *                  is left of the binding.
 * Who may ask the lookup is access.ts's decision; allocation and installs are bsid/manager.ts's.
 * The DNS layer (dns/message.ts) only encodes what these return.
 */
import { isSrError, SrError } from '../core/errors.js';
import type { BsidRecord } from '../dns/records.js';
import type { BsidManager } from './bsid/manager.js';
import type { Question, Resolver, Route } from './resolver.js';

/** What a path query's answer shows of one address's path. */
export interface AnsweredPath {
  destination: string;
  /** travel order: the function SIDs, then the destination */
  segments: string[];
  /** with a policy's `returnPath` (not with a binding SID) */
  returnPath?: string[];
  /** set when the path is hidden behind a binding SID: the record and its TTL (s) */
  bsid?: { record: BsidRecord; ttl: number };
}

export type PathAnswer =
  /** `ttl` (s) is for the addresses and the SRH records */
  | { rcode: 'NOERROR'; ttl: number; a: string[]; aaaa: string[]; paths: AnsweredPath[]; note?: string }
  | { rcode: 'NXDOMAIN' | 'REFUSED' | 'SERVFAIL'; reason: string }
  /** a name outside every zone, and an upstream resolver is configured */
  | { rcode: 'FORWARD'; reason: string };

/** The key a binding SID is allocated for: same client, policy, function chain, destination network and hint classes → same BSID. */
export function bindingKey(client: string, route: Route): string {
  const { spec } = route;
  return `${client}|${route.path.policy ?? '-'}|${spec.functions.map((f) => `${f.name}:${f.argument}`).join(',')}|${spec.to}|${spec.bandwidthKbps ?? ''}|${spec.maxLatencyMs ?? ''}`;
}

/** The access router a route's client sits behind, when its path is to be bound there: binding SIDs on, and the router has an agent. */
export function bindingRouter(resolver: Resolver, bsids: BsidManager | undefined, route: Route): string | undefined {
  if (!bsids || !resolver.config.bindingSids) return undefined;
  const first = route.path.nodes[1];
  if (first === undefined || !resolver.config.accessRouters.some((a) => a.name === first)) return undefined;
  return bsids.hasRouter(first) ? first : undefined;
}

/** A path query's answer (the BSIDs installed before it returns). A BSID cap → REFUSED, an agent failure → SERVFAIL. */
export async function answerPaths(resolver: Resolver, bsids: BsidManager | undefined, q: Question): Promise<PathAnswer> {
  const res = resolver.resolve(q);
  if (res.rcode !== 'NOERROR') return res;
  const cfg = resolver.config;
  const paths: AnsweredPath[] = [];
  for (const route of res.routes) {
    const { path } = route;
    const router = bindingRouter(resolver, bsids, route);
    if (router === undefined || !bsids || !cfg.bindingSids) {
      paths.push({ destination: path.destination, segments: path.segments, ...(path.returnPath?.length ? { returnPath: path.returnPath } : {}) });
      continue;
    }
    let bsid: string;
    try {
      const bound = bsids.bind({ router, client: q.client, key: bindingKey(q.client, route), segments: path.segments.slice(0, -1), spec: route.spec });
      ({ bsid } = await within(bound, cfg.bindingSids.answerWithinMs, `the binding for ${q.client}`));
    } catch (e) {
      return { rcode: isSrError(e, 'BSID_LIMIT') ? 'REFUSED' : 'SERVFAIL', reason: `binding SID on ${router}: ${(e as Error).message}` };
    }
    const ttl = Math.min(cfg.ttl, Math.floor(cfg.bindingSids.lifetimeMs / 1000));
    paths.push({ destination: path.destination, segments: path.segments, bsid: { record: { priority: cfg.bindingSids.priority, source: q.client, prefixLength: 128, bsid }, ttl } });
  }
  return { rcode: 'NOERROR', ttl: cfg.ttl, a: res.a, aaaa: res.aaaa, paths, ...(res.note ? { note: res.note } : {}) };
}

/**
 * `p`, or BSID_NOT_READY after `ms`: a DNS answer does not wait on a slow store or agent for longer
 * than a client waits for it. The work behind `p` goes on (its outcome is then only logged by whoever
 * awaits it next: the client's retry finds the binding made, or the same failure).
 */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SrError('BSID_NOT_READY', `${what} was not ready within ${ms} ms (bindingSids.answerWithin)`)), ms);
  });
  p.catch(() => undefined); // a failure after the deadline is nobody's unhandled rejection
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export type BindingLookup = { rcode: 'NOERROR'; bsid: string; segments: string[]; ttl: number } | { rcode: 'REFUSED' | 'NXDOMAIN'; reason: string };

/** What a binding SID stands for (the caller has checked who asks), with a TTL of at least 1 s, at most the zone TTL and what is left of the binding. */
export function lookupBinding(resolver: Resolver, bsids: BsidManager | undefined, bsid: string, now = Date.now()): BindingLookup {
  const cfg = resolver.config;
  if (!bsids || !cfg.bindingSids) return { rcode: 'REFUSED', reason: 'binding SIDs are off' };
  const b = bsids.lookup(bsid);
  if (!b) return { rcode: 'NXDOMAIN', reason: `no binding SID ${bsid}` };
  return { rcode: 'NOERROR', bsid: b.bsid, segments: b.segments, ttl: Math.max(1, Math.min(cfg.ttl, Math.floor((b.expiresAt - now) / 1000))) };
}
