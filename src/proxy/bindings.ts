/**
 * Binding SIDs, the proxy's side. A flow that reached this proxy through an access router's
 * End.B6.Encaps shows only the inner SRH, [BSID, server]: the outer segment list — with this proxy's
 * own segment in it — was consumed on the way. The proxy asks the controller what the BSID stands
 * for (a DNS query: TYPE 65281 for the BSID's ip6.arpa name, answered only to proxies), caches the
 * answer for its TTL, and then finds its own position in the expanded path.
 *
 * What remote input can make this do is bounded:
 * - only segments inside the access routers' BSID prefixes are candidates, at most `maxCandidates`
 *   per SYN (`expandBindingSid` asks `isCandidate`);
 * - one lookup per BSID at a time (concurrent flows share it), at most `maxInflight` lookups at a
 *   time: a flow that would start one more is refused (BSID_LOOKUP_BUSY);
 * - the cache holds at most `cacheSize` entries (the least recently used goes first), every entry
 *   expires — an answer after its TTL (at least 1 s, at most `maxCacheMs`), an unknown BSID or a
 *   refusal after `negativeCacheMs` —, and an expired entry is never used;
 * - the lookups go over TCP only (dns/exchange.ts), and the answer must repeat the question; the
 *   query and the answer's reading are the DNS protocol's (dns/query.ts: bsidLookupQuery, parseBsidAnswer).
 *
 * `expandBindingSid` is the explicit async step a SYN takes, before classification, when no segment
 * of its path is this proxy's: the first candidate the controller knows is replaced by its segments.
 * `expand()` is synchronous (the cache); `prefetch()` fills it for a flow's candidates.
 */
import { SrError } from '../core/errors.js';
import { formatAddress, parseAddress, prefixContains } from '../net/ip6.js';
import { bsidLookupQuery, parseBsidAnswer } from '../dns/query.js';
import type { Exchange } from '../dns/exchange.js';
import { DnsServers } from '../dns/servers.js';
import type { BindingSidsConfig } from './config.js';

/** The `bindingSids` section (config.ts documents each field), plus what tests inject. */
export interface BindingLookupOptions extends BindingSidsConfig {
  now?: () => number;
  /** the exchange itself (tests) */
  exchange?: Exchange;
}

/** An answer lives at least this long: the flow that asked must still find it when it is placed again. */
const MIN_POSITIVE_MS = 1000;

type Entry =
  /** what the BSID stands for */
  | { segments: Buffer[]; error?: undefined; fetched: number; expires: number }
  /** unknown (segments null), or the controller refused / failed (error) */
  | { segments: null; error?: SrError; fetched: number; expires: number };

/** Binding SIDs, as far as a SYN's expansion needs them (BindingLookup: the controller's answers, cached). */
export interface BindingSids {
  /** whether a segment may be a binding SID (inside one of the access routers' BSID prefixes) */
  isCandidate(segment: Buffer): boolean;
  /** at most this many segments of one SYN are candidates (the first ones, in travel order) */
  readonly maxCandidates: number;
  /** the segments a binding SID stands for (travel order), when known (cached) */
  expand(segment: Buffer): Buffer[] | undefined;
  /** asks for the candidates not cached; rejects with BSID_LOOKUP_FAILED / BSID_LOOKUP_BUSY */
  prefetch(segments: readonly string[]): Promise<void>;
  /** a cached answer led nowhere (stale?): ask again next time */
  invalidate(segment: string): void;
}

/** What a path reached through a binding SID stands for. */
export type Expansion =
  /** no segment may be a binding SID: nothing to look up */
  | { kind: 'none' }
  /** the candidates (text) the controller knows nothing about */
  | { kind: 'unknown'; candidates: string[] }
  /** the path with the first known candidate replaced by its segments */
  | { kind: 'expanded'; path: Buffer[]; bsid: string; stands: Buffer[] };

/** The positions of the segments to look up: inside a BSID prefix, before the destination, the first `maxCandidates`. */
export function bindingCandidates(path: readonly Buffer[], bindings: Pick<BindingSids, 'isCandidate' | 'maxCandidates'>): number[] {
  const out: number[] = [];
  for (let i = 0; i < path.length - 1 && out.length < bindings.maxCandidates; i++) if (bindings.isCandidate(path[i]!)) out.push(i);
  return out;
}

/** The first candidate with a cached answer, expanded. */
function cachedExpansion(path: readonly Buffer[], at: readonly number[], bindings: BindingSids): Expansion | undefined {
  for (const i of at) {
    const stands = bindings.expand(path[i]!);
    if (stands) return { kind: 'expanded', path: [...path.slice(0, i), ...stands, ...path.slice(i + 1)], bsid: formatAddress(path[i]!), stands };
  }
  return undefined;
}

/**
 * The binding-SID step of a SYN whose path has no segment of this proxy (the socket saw only
 * [BSID, destination]): from the cache when it has an answer for a candidate, else after asking the
 * controller about the candidates. Rejects with the lookup's error (BSID_LOOKUP_FAILED, _BUSY).
 */
export async function expandBindingSid(path: readonly Buffer[], bindings: BindingSids): Promise<Expansion> {
  const at = bindingCandidates(path, bindings);
  if (at.length === 0) return { kind: 'none' };
  const cached = cachedExpansion(path, at, bindings);
  if (cached) return cached;
  const candidates = at.map((i) => formatAddress(path[i]!));
  await bindings.prefetch(candidates);
  return cachedExpansion(path, at, bindings) ?? { kind: 'unknown', candidates };
}

export class BindingLookup implements BindingSids {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly servers: DnsServers;
  private readonly now: () => number;
  readonly maxCandidates: number;

  constructor(private readonly o: BindingLookupOptions) {
    this.servers = DnsServers.parse(o.controllers, o.exchange);
    this.now = o.now ?? Date.now;
    this.maxCandidates = o.maxCandidates;
  }

  /** Cached entries (expired ones included until they are touched or pushed out). */
  get size(): number {
    return this.cache.size;
  }

  /** Lookups in flight. */
  get pending(): number {
    return this.inflight.size;
  }

  isCandidate(segment: Buffer): boolean {
    return this.o.prefixes.some((p) => prefixContains(p, segment));
  }

  /** The cached segments behind a BSID (travel order), or undefined (unknown, or not looked up yet). */
  expand(segment: Buffer): Buffer[] | undefined {
    return this.fresh(segment.toString('hex'))?.segments ?? undefined;
  }

  /**
   * Looks up the segments that are not cached (at most `maxCandidates`). Rejects with
   * BSID_LOOKUP_FAILED when the controller does not answer or refuses, BSID_LOOKUP_BUSY when
   * `maxInflight` lookups are already under way.
   */
  async prefetch(segments: readonly string[]): Promise<void> {
    await Promise.all(segments.slice(0, this.maxCandidates).map((s) => this.lookup(s)));
  }

  /**
   * The path a cached answer gave does not contain this proxy: it may be stale (a re-pointed BSID),
   * so it is asked again — but not more often than every `negativeCacheMs`, whatever the SYNs.
   */
  invalidate(segment: string): void {
    const key = parseAddress(segment).toString('hex');
    const e = this.cache.get(key);
    if (e && this.now() - e.fetched >= this.o.negativeCacheMs) this.cache.delete(key);
  }

  private lookup(bsid: string): Promise<void> {
    const key = parseAddress(bsid).toString('hex');
    const e = this.fresh(key);
    if (e) return e.error ? Promise.reject(e.error) : Promise.resolve();
    let p = this.inflight.get(key);
    if (p) return p;
    if (this.inflight.size >= this.o.maxInflight) {
      return Promise.reject(new SrError('BSID_LOOKUP_BUSY', `${this.inflight.size} binding-SID lookups are in flight (bindingSids.maxInflight): ${bsid} not looked up`));
    }
    p = this.fetch(bsid, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** The entry if it has not expired (and marked as recently used); an expired one is dropped. */
  private fresh(key: string): Entry | undefined {
    const e = this.cache.get(key);
    if (!e) return undefined;
    this.cache.delete(key);
    if (e.expires <= this.now()) return undefined;
    this.cache.set(key, e);
    return e;
  }

  private remember(key: string, entry: Entry): void {
    this.cache.delete(key);
    this.cache.set(key, entry);
    // a Map iterates in insertion order: the first keys are the least recently used
    for (const k of this.cache.keys()) {
      if (this.cache.size <= this.o.cacheSize) break;
      this.cache.delete(k);
    }
  }

  private negative(key: string, error?: SrError): void {
    const now = this.now();
    this.remember(key, { segments: null, ...(error ? { error } : {}), fetched: now, expires: now + this.o.negativeCacheMs });
  }

  private async fetch(bsid: string, key: string): Promise<void> {
    let answer: Buffer;
    try {
      ({ answer } = await this.servers.exchange({ query: bsidLookupQuery(bsid), mode: 'tcp', timeoutMs: this.o.timeoutMs }));
    } catch (e) {
      // not cached: the next flow asks again (no more than maxInflight at a time)
      throw new SrError('BSID_LOOKUP_FAILED', `no answer from the controller ${this.servers.toString()} about ${bsid}: ${(e as Error).message}`);
    }
    let parsed: ReturnType<typeof parseBsidAnswer>;
    try {
      parsed = parseBsidAnswer(answer, bsid);
    } catch (e) {
      const error = new SrError('BSID_LOOKUP_FAILED', `the controller's answer about ${bsid} does not parse: ${(e as Error).message}`);
      this.negative(key, error);
      throw error;
    }
    const { rcode, segments, ttl } = parsed;
    if (rcode !== 'NOERROR' && rcode !== 'NXDOMAIN') {
      const error =
        rcode === 'REFUSED'
          ? new SrError('BSID_LOOKUP_FAILED', `the controller refused to say what ${bsid} stands for`, { hint: 'add this proxy to the controller’s bindingSids.lookupFrom' })
          : new SrError('BSID_LOOKUP_FAILED', `the controller answered ${rcode} about ${bsid}`);
      this.negative(key, error);
      throw error;
    }
    if (!segments) {
      this.negative(key);
      return;
    }
    const now = this.now();
    const ttlMs = Math.max(MIN_POSITIVE_MS, Math.min(this.o.maxCacheMs, ttl * 1000));
    this.remember(key, { segments: segments.map((s) => parseAddress(s)), fetched: now, expires: now + ttlMs });
  }
}
