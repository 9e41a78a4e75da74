/**
 * Binding SIDs, the proxy's side. A flow that reached this proxy through an access router's
 * End.B6.Encaps shows only the inner SRH, [BSID, server]: the outer segment list — with this proxy's
 * own segment in it — was consumed on the way. The proxy asks the controller what the BSID stands
 * for (a DNS query: TYPE 65281 for the BSID's ip6.arpa name, answered only to proxies), caches the
 * answer for its TTL, and then finds its own position in the expanded path.
 *
 * `expand()` is synchronous (the cache); `prefetch()` fills the cache for a flow's unknown segments
 * and dedupes concurrent lookups. Unknown BSIDs are cached as such for a second.
 */
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { SrError } from '../errors.js';
import { parseAddress } from '../net/ip6.js';
import { parseController, tcpExchange, udpExchange } from '../controller/client.js';
import { arpaName, decodeSrhRecord, TYPE_SRH_NAME } from '../controller/dns/records.js';

export interface BindingLookupOptions {
  /** the controller: ADDR, [ADDR]:PORT */
  controller: string;
  timeoutMs: number;
  /** an answer is kept at most this long (and never longer than its TTL) */
  maxCacheMs: number;
  now?: () => number;
  /** the exchange itself (tests) */
  exchange?: (query: Buffer, transport: 'udp' | 'tcp') => Promise<Buffer>;
}

interface Entry {
  segments: Buffer[] | null;
  expires: number;
}

const NEGATIVE_MS = 1000;

export class BindingLookup {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly server: { address: string; port: number };
  private readonly now: () => number;

  constructor(private readonly o: BindingLookupOptions) {
    this.server = parseController(o.controller);
    this.now = o.now ?? Date.now;
  }

  /** The cached segments behind a BSID (travel order), or undefined (unknown, or not looked up yet). */
  expand = (segment: Buffer): Buffer[] | undefined => {
    const key = segment.toString('hex');
    const e = this.cache.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.cache.delete(key);
      return undefined;
    }
    return e.segments ?? undefined;
  };

  /** Looks up every segment that is not cached; rejects with BSID_LOOKUP_FAILED when the controller does not answer. */
  async prefetch(segments: readonly string[]): Promise<void> {
    await Promise.all(
      segments.map((s) => {
        const bytes = parseAddress(s);
        const key = bytes.toString('hex');
        const e = this.cache.get(key);
        if (e && e.expires > this.now()) return Promise.resolve();
        let p = this.inflight.get(key);
        if (!p) {
          p = this.fetch(s, key).finally(() => this.inflight.delete(key));
          this.inflight.set(key, p);
        }
        return p;
      }),
    );
  }

  /** Drops a cached answer (the path it gave did not contain this proxy: it may be stale). */
  invalidate(segment: string): void {
    this.cache.delete(parseAddress(segment).toString('hex'));
  }

  private async exchange(query: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer> {
    if (this.o.exchange) return this.o.exchange(query, transport);
    return transport === 'udp' ? udpExchange(this.server, query, this.o.timeoutMs) : tcpExchange(this.server, query, this.o.timeoutMs);
  }

  private async fetch(bsid: string, key: string): Promise<void> {
    const name = arpaName(bsid);
    const query = dnsPacket.encode({ type: 'query', id: randomInt(0, 65536), flags: 0, questions: [{ type: TYPE_SRH_NAME as 'AAAA', name }] });
    let answer: Buffer;
    try {
      answer = await this.exchange(query, 'udp');
      if (answer.length >= 4 && answer.readUInt16BE(2) & 0x0200) answer = await this.exchange(query, 'tcp');
    } catch (e) {
      throw new SrError('BSID_LOOKUP_FAILED', `no answer from the controller ${this.o.controller} about ${bsid}: ${(e as Error).message}`);
    }
    let packet: dnsPacket.DecodedPacket;
    try {
      packet = dnsPacket.decode(answer);
    } catch (e) {
      throw new SrError('BSID_LOOKUP_FAILED', `the controller's answer about ${bsid} does not parse: ${(e as Error).message}`);
    }
    const rcode = (packet as { rcode?: string }).rcode ?? 'NOERROR';
    if (rcode === 'REFUSED') throw new SrError('BSID_LOOKUP_FAILED', `the controller refused to say what ${bsid} stands for`, { hint: 'add this proxy to the controller’s bindingSids.lookupFrom' });
    const rec = (packet.answers ?? []).find((a) => (a.type as string) === TYPE_SRH_NAME) as { ttl?: number; data?: unknown } | undefined;
    const segments = rec && Buffer.isBuffer(rec.data) ? decodeSrhRecord(rec.data) : null;
    if (rcode === 'NOERROR' && segments) {
      const ttlMs = Math.min(this.o.maxCacheMs, (rec?.ttl ?? 0) * 1000);
      this.cache.set(key, { segments: segments.map((s) => parseAddress(s)), expires: this.now() + Math.max(ttlMs, 1) });
    } else {
      this.cache.set(key, { segments: null, expires: this.now() + NEGATIVE_MS });
    }
  }
}
