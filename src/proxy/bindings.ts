/**
 * Binding SIDs, the proxy's side. A flow that reached this proxy through an access router's
 * End.B6.Encaps shows only the inner SRH, [BSID, server]: the outer segment list — with this proxy's
 * own segment in it — was consumed on the way. The proxy asks the controller what the BSID stands
 * for (a DNS query: TYPE 65281 for the BSID's ip6.arpa name, answered only to proxies), caches the
 * answer for its TTL, and then finds its own position in the expanded path.
 *
 * What remote input can make this do is bounded:
 * - only segments inside the access routers' BSID prefixes are candidates, at most `maxCandidates`
 *   per SYN (classify.ts asks `isCandidate`);
 * - one lookup per BSID at a time (concurrent flows share it), at most `maxInflight` lookups at a
 *   time: a flow that would start one more is refused (BSID_LOOKUP_BUSY);
 * - the cache holds at most `cacheSize` entries (the least recently used goes first), every entry
 *   expires — an answer after its TTL (at least 1 s, at most `maxCacheMs`), an unknown BSID or a
 *   refusal after `negativeCacheMs` —, and an expired entry is never used;
 * - the lookups go over TCP only (dns/exchange.ts), and the answer must repeat the question; the
 *   query and the answer's reading are the DNS protocol's (dns/query.ts: bsidLookupQuery, parseBsidAnswer).
 *
 * `expand()` is synchronous (the cache); `prefetch()` fills it for a flow's candidates.
 */
import { SrError } from '../core/errors.js';
import { parseAddress, prefixContains } from '../net/ip6.js';
import { bsidLookupQuery, parseBsidAnswer, parseController } from '../dns/query.js';
import { exchange as defaultExchange, type DnsServerAddress, type Exchange } from '../dns/exchange.js';
import type { BindingSids } from './classify.js';
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

export class BindingLookup implements BindingSids {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly server: DnsServerAddress;
  private readonly now: () => number;
  readonly maxCandidates: number;

  constructor(private readonly o: BindingLookupOptions) {
    this.server = parseController(o.controller);
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
      ({ answer } = await (this.o.exchange ?? defaultExchange)({ server: this.server, query: bsidLookupQuery(bsid), mode: 'tcp', timeoutMs: this.o.timeoutMs }));
    } catch (e) {
      // not cached: the next flow asks again (no more than maxInflight at a time)
      throw new SrError('BSID_LOOKUP_FAILED', `no answer from the controller ${this.o.controller} about ${bsid}: ${(e as Error).message}`);
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
