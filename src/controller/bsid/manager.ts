/**
 * Binding SIDs, the controller's side. One BSID per key — (client, policy, function chain, destination
 * network) — allocated from the client's access router's BSID prefix by a stable hash of the key
 * (linear probing on a clash), so a client that asks again gets the same BSID, also after a
 * controller restart (installed BSIDs carry their key and are adopted).
 *
 *   bind()     allocates or refreshes, and resolves only once the agent has installed the route:
 *              the DNS answer waits for it. A refresh with the same path installs nothing: the agent
 *              is asked for twice the lifetime (at most 7 days) and asked again only once less than
 *              one lifetime of that is left — at most one install per key and lifetime, whatever the
 *              query rate. A new key is refused (BSID_LIMIT) when its client holds `perClient`
 *              BSIDs, when `max` are bound in all, or when the client's network asks for new ones
 *              faster than `rate` (issue 12, item 11);
 *   lookup()   what proxies ask: the segments behind a BSID;
 *   repoint()  after a health change: recomputes every binding, re-installs the changed ones and
 *              removes those that have no path left;
 *   sweep()    removes the expired ones (the agents expire them too).
 *
 * With a shared `store` (store/etcd.ts: several controller instances), allocation goes through it:
 * a key already bound there keeps its BSID, a new one is created only where neither the key nor the
 * BSID is bound (the next slot otherwise), re-installs and re-pointings update it, and the local
 * maps are this instance's cache of it. Expiry is then the store's: a record lives as long as its
 * route (`installedUntil`), and an instance whose cached copy times out only forgets it. follow()
 * keeps the cache in step with the store (another instance's bindings, re-pointings and removals,
 * lease expiry), up to `max` bindings; repointAll() is the elected instance's re-pointing: every
 * record in the store, recomputed from the path spec it carries, each changed one installed on its
 * access router and updated in the store once, `concurrency` at a time.
 */
import type { Logger } from 'pino';
import { isSrError, SrError } from '../../core/errors.js';
import { formatAddress, formatPrefix, maskBuffer, parseAddress, type Prefix6 } from '../../net/ip6.js';
import type { AccessRouterAgent, BsidPolicy } from '../../access-router/api.js';
import type { BsidStore, RecordChange, StoredBinding } from '../store/types.js';

export interface RouterEntry {
  agent: AccessRouterAgent;
  prefix: Prefix6;
}

/** What the binding's path was computed from, so that it can be recomputed after a failure. */
export interface PathSpec {
  from: string;
  to: string;
  destination: string;
  functions: { name: string; argument: bigint }[];
  tieKey: string;
  /** kbit/s the client asked for (option 65002): links with less capacity are not used */
  bandwidthKbps?: number;
  /** ms the client allows (option 65003): the path with the least latency, if within it */
  maxLatencyMs?: number;
}

export interface BindRequest {
  /** the access router (node name) */
  router: string;
  /** the client's address: the BSID is installed for it alone (/128) */
  client: string;
  key: string;
  /** function SIDs, travel order (the destination is not part of it: it stays in the client's packet) */
  segments: string[];
  spec: PathSpec;
}

export interface Binding {
  bsid: string;
  router: string;
  client: string;
  key: string;
  segments: string[];
  expiresAt: number;
  /** until when the agent keeps the route (it expires it itself) */
  installedUntil: number;
  /** absent for a binding adopted from a router: it is recomputed once its client asks again */
  spec?: PathSpec;
}

export interface BsidManagerOptions {
  lifetimeMs: number;
  log: Logger;
  now?: () => number;
  /** BSIDs one client address may hold (default 16) */
  perClient?: number;
  /** BSIDs in all (default 10 000) */
  max?: number;
  /** may this client allocate a new BSID now? (a rate limiter; default: always) */
  mayAllocate?: (client: string) => boolean;
  /** the state shared with other controller instances (default: none, this process's maps alone) */
  store?: BsidStore;
}

/** the agent's own expiry is at most this far ahead (its API's bound) */
const AGENT_MAX_TTL_MS = 7 * 86400 * 1000;

function hash64(text: string): bigint {
  // two FNV-1a 32-bit hashes with different offsets: plenty for spreading keys over a prefix
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x01000193) >>> 0;
  }
  return (BigInt(a) << 32n) | BigInt(b);
}

const toBig = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex')}`);
const fromBig = (v: bigint): string => formatAddress(Buffer.from(v.toString(16).padStart(32, '0'), 'hex'));

/** The BSID a key is given when its slot is free (a clash probes onwards): tests pick clashing keys with it. */
export function preferredBsid(prefix: Prefix6, key: string): string {
  const space = 1n << BigInt(Math.min(64, 128 - prefix.length));
  const slot = hash64(key) % space;
  return fromBig(toBig(maskBuffer(prefix.addr, prefix.length)) | (slot === 0n ? 1n : slot));
}

export class BsidManager {
  private readonly byBsid = new Map<string, Binding>();
  private readonly byKey = new Map<string, Binding>();
  /** one change per key at a time */
  private readonly pending = new Map<string, Promise<Binding>>();
  /** client → its keys, bound or being installed (the per-client cap counts these) */
  private readonly byClient = new Map<string, Set<string>>();
  /** keys being installed for the first time */
  private readonly reserved = new Set<string>();
  private readonly now: () => number;

  constructor(
    private routers: Map<string, RouterEntry>,
    private readonly o: BsidManagerOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  /** After a config reload: the new routers (bindings on a router that is gone are dropped). */
  setRouters(routers: Map<string, RouterEntry>): void {
    this.routers = routers;
    for (const b of [...this.byBsid.values()]) if (!routers.has(b.router)) this.forget(b);
  }

  hasRouter(name: string): boolean {
    return this.routers.has(name);
  }

  /** Installed BSIDs with their key are taken over (a restarted controller); others are left to expire. */
  async adopt(): Promise<number> {
    let n = 0;
    for (const [router, r] of this.routers) {
      let list: BsidPolicy[];
      try {
        list = await r.agent.list();
      } catch (e) {
        this.o.log.warn({ router, err: (e as Error).message }, 'cannot list the router’s BSIDs');
        continue;
      }
      for (const p of list) {
        if (p.key === undefined || this.byKey.has(p.key)) continue;
        const b: Binding = { bsid: p.bsid, router, client: p.source.prefix, key: p.key, segments: p.segments, expiresAt: p.expiresAt, installedUntil: p.expiresAt };
        this.remember(b);
        n++;
      }
    }
    return n;
  }

  /** A restarted (or new) instance takes over the store's records of its routers. */
  async load(): Promise<number> {
    const store = this.o.store;
    if (!store) return 0;
    let n = 0;
    for (const s of await store.list()) {
      if (!this.routers.has(s.router) || this.byKey.has(s.key)) continue;
      this.remember(this.fromStore(s));
      n++;
    }
    return n;
  }

  private fromStore(s: StoredBinding): Binding {
    return { bsid: s.bsid, router: s.router, client: s.client, key: s.key, segments: s.segments, expiresAt: Math.min(s.installedUntil, this.now() + this.o.lifetimeMs), installedUntil: s.installedUntil, ...(s.spec ? { spec: s.spec } : {}) };
  }

  /**
   * With a store: keeps this instance's cache in step with it until `signal` aborts — a record
   * another instance bound, refreshed or re-pointed replaces the cached copy (a new one is cached
   * while fewer than `max` are; beyond, lookups fetch it), a removed or expired one is forgotten.
   */
  async follow(signal: AbortSignal): Promise<void> {
    const store = this.o.store;
    if (!store) return;
    await store.follow(
      (records) => {
        for (const s of records) this.applyChange({ key: s.key, record: s });
      },
      (changes) => {
        for (const c of changes) this.applyChange(c);
      },
      signal,
    );
  }

  private applyChange(c: RecordChange): void {
    const cached = this.byKey.get(c.key);
    const s = c.record;
    if (!s || !this.routers.has(s.router) || s.installedUntil <= this.now()) {
      if (cached) this.forget(cached);
      return;
    }
    if (!cached && this.byKey.size >= (this.o.max ?? 10_000)) return;
    if (cached && cached.bsid === s.bsid && cached.client === s.client && cached.router === s.router && cached.installedUntil === s.installedUntil && cached.segments.join(',') === s.segments.join(',')) return;
    const b = this.fromStore(s);
    if (cached) {
      b.expiresAt = Math.min(b.installedUntil, Math.max(b.expiresAt, cached.expiresAt));
      if (!b.spec && cached.spec) b.spec = cached.spec;
      if (cached.bsid !== b.bsid || cached.client !== b.client) this.forget(cached);
    }
    this.remember(b);
  }

  /** With a store: a BSID this instance has not seen (bound by another one) is fetched into the cache, for lookup(). */
  async fetch(bsid: string): Promise<void> {
    const store = this.o.store;
    if (!store || this.lookup(bsid)) return;
    let key: string;
    try {
      key = formatAddress(parseAddress(bsid));
    } catch {
      return;
    }
    const s = await store.getByBsid(key);
    if (s && this.routers.has(s.router) && s.installedUntil > this.now() && (this.byKey.has(s.key) || this.byKey.size < (this.o.max ?? 10_000))) this.remember(this.fromStore(s));
  }

  private allocate(r: RouterEntry, key: string, skip?: Set<string>): string {
    const hostBits = 128 - r.prefix.length;
    if (hostBits < 8) throw new SrError('CONFIG_INVALID', `BSID prefix ${formatPrefix(r.prefix)} is too long: leave at least 8 host bits`);
    const base = toBig(maskBuffer(r.prefix.addr, r.prefix.length));
    const bits = BigInt(Math.min(64, hostBits));
    const space = 1n << bits;
    let slot = hash64(key) % space;
    for (let i = 0n; i < space; i++) {
      const s = (slot + i) % space;
      if (s === 0n) continue; // the prefix's own address is the router's anycast: never a BSID
      const bsid = fromBig(base | s);
      const taken = this.byBsid.get(bsid);
      if (skip?.has(bsid)) continue;
      if (!taken || taken.key === key) return bsid;
    }
    throw new SrError('COMMAND_FAILED', `BSID prefix ${formatPrefix(r.prefix)} is full`);
  }

  bind(req: BindRequest): Promise<Binding> {
    const prev = this.pending.get(req.key) ?? Promise.resolve(undefined);
    const p = prev.catch(() => undefined).then(() => this.bindNow(req));
    this.pending.set(req.key, p);
    const clear = (): void => {
      if (this.pending.get(req.key) === p) this.pending.delete(req.key);
    };
    p.then(clear, (e: unknown) => {
      clear();
      // the DNS answer may have gone already (bindingSids.answerWithin): the cause is logged here
      if (!isSrError(e, 'BSID_LIMIT')) this.o.log.warn({ router: req.router, client: req.client, key: req.key, code: e instanceof SrError ? e.code : 'INTERNAL', err: (e as Error).message }, 'binding SID not bound');
    });
    return p;
  }

  private async bindNow(req: BindRequest): Promise<Binding> {
    const r = this.routers.get(req.router);
    if (!r) throw new SrError('CONFIG_INVALID', `access router "${req.router}" has no agent`);
    const now = this.now();
    const store = this.o.store;
    let old = this.byKey.get(req.key);
    if (!old && store) {
      // bound by another instance (or by this one before a restart)?
      const s = await store.get(req.key);
      if (s && s.installedUntil > now) this.remember((old = this.fromStore(s)));
    }
    const expiresAt = now + this.o.lifetimeMs;
    const samePath = old !== undefined && old.router === req.router && old.client === req.client && old.segments.join(',') === req.segments.join(',');
    if (old && samePath && old.installedUntil >= expiresAt) {
      // nothing changed, and the agent keeps the route long enough: a refresh costs nothing
      const b: Binding = { ...old, expiresAt, spec: req.spec };
      this.remember(b);
      return b;
    }
    if (!old) this.reserve(req);
    const installedUntil = now + Math.min(2 * this.o.lifetimeMs, Math.max(this.o.lifetimeMs, AGENT_MAX_TTL_MS));
    let bsid: string;
    let created = false;
    try {
      if (old?.router === req.router) bsid = old.bsid;
      else if (store) ({ bsid, created } = await this.claim(r, req, installedUntil));
      else bsid = this.allocate(r, req.key);
      const b: Binding = { bsid, router: req.router, client: req.client, key: req.key, segments: req.segments, expiresAt, installedUntil, spec: req.spec };
      try {
        await r.agent.install(this.policyOf(b));
      } catch (e) {
        if (created) await store?.remove(b).catch(() => undefined);
        throw e;
      }
      if (store && !created) await store.update(this.stored(b), installedUntil - now);
      if (old && (old.bsid !== bsid || old.client !== b.client)) this.forget(old);
      this.remember(b);
      if (!samePath) this.o.log.info({ bsid, router: b.router, client: b.client, segments: b.segments, key: b.key }, 'BSID bound');
      return b;
    } finally {
      this.release(req);
    }
  }

  private stored(b: Binding): StoredBinding {
    return { key: b.key, bsid: b.bsid, router: b.router, client: b.client, segments: b.segments, installedUntil: b.installedUntil, ...(b.spec ? { spec: b.spec } : {}) };
  }

  /**
   * A BSID for a new key through the store: the key's own if another instance bound it meanwhile,
   * else the first free slot from the key's hash on that neither this instance nor the store holds.
   */
  private async claim(r: RouterEntry, req: BindRequest, installedUntil: number): Promise<{ bsid: string; created: boolean }> {
    const store = this.o.store!;
    const skip = new Set<string>();
    const ttl = installedUntil - this.now();
    for (let attempt = 0; attempt < 64; attempt++) {
      const bsid = this.allocate(r, req.key, skip);
      const res = await store.create({ key: req.key, bsid, router: req.router, client: req.client, segments: req.segments, installedUntil, spec: req.spec }, ttl);
      if (res.ok) return { bsid, created: true };
      if ('bsidTaken' in res) {
        skip.add(bsid);
        continue;
      }
      if (res.existing.router === req.router) return { bsid: res.existing.bsid, created: false };
      // the key was bound on another access router (the client moved): that binding goes
      await store.remove(res.existing);
    }
    throw new SrError('STORE_UNAVAILABLE', `store: no free BSID for ${req.client} after 64 attempts`, { hint: 'the BSID prefix is crowded, or the store keeps changing: widen bsidPrefix' });
  }

  /** The caps for a new key: per client, in all, and the allocation rate. Reserves the key for its client. */
  private reserve(req: BindRequest): void {
    const perClient = this.o.perClient ?? 16;
    const max = this.o.max ?? 10_000;
    const held = this.byClient.get(req.client)?.size ?? 0;
    if (held >= perClient) throw new SrError('BSID_LIMIT', `client ${req.client} holds ${held} binding SIDs (bindingSids.perClient: ${perClient})`);
    if (this.byKey.size + this.reserved.size >= max) throw new SrError('BSID_LIMIT', `${this.byKey.size + this.reserved.size} binding SIDs are bound (bindingSids.max: ${max})`);
    if (this.o.mayAllocate && !this.o.mayAllocate(req.client)) throw new SrError('BSID_LIMIT', `client ${req.client} asks for new binding SIDs too fast (bindingSids.rate)`);
    this.reserved.add(req.key);
    this.clientKeys(req.client).add(req.key);
  }

  /** Ends a reservation: a key that did not get bound no longer counts. */
  private release(req: BindRequest): void {
    if (!this.reserved.delete(req.key)) return;
    if (this.byKey.get(req.key)?.client !== req.client) this.dropClientKey(req.client, req.key);
  }

  private clientKeys(client: string): Set<string> {
    let set = this.byClient.get(client);
    if (!set) this.byClient.set(client, (set = new Set()));
    return set;
  }

  private dropClientKey(client: string, key: string): void {
    const set = this.byClient.get(client);
    if (!set) return;
    set.delete(key);
    if (set.size === 0) this.byClient.delete(client);
  }

  private remember(b: Binding): void {
    this.byBsid.set(b.bsid, b);
    this.byKey.set(b.key, b);
    this.clientKeys(b.client).add(b.key);
  }

  /** BSIDs held per client (for tests and logs). */
  heldBy(client: string): number {
    return this.byClient.get(client)?.size ?? 0;
  }

  private policyOf(b: Binding): BsidPolicy {
    return { bsid: b.bsid, source: { prefix: b.client, length: 128 }, segments: b.segments, expiresAt: b.installedUntil, key: b.key };
  }

  private forget(b: Binding): void {
    if (this.byBsid.get(b.bsid) === b) this.byBsid.delete(b.bsid);
    if (this.byKey.get(b.key) === b) {
      this.byKey.delete(b.key);
      if (!this.reserved.has(b.key)) this.dropClientKey(b.client, b.key);
    }
  }

  lookup(bsid: string): Binding | undefined {
    let key: string;
    try {
      key = formatAddress(parseAddress(bsid));
    } catch {
      return undefined;
    }
    const b = this.byBsid.get(key);
    return b && b.expiresAt > this.now() ? b : undefined;
  }

  list(): Binding[] {
    return [...this.byBsid.values()];
  }

  private async drop(b: Binding, why: string): Promise<void> {
    this.forget(b);
    if (this.o.store && why === 'expired') return; // the store's lease (and the agent) expire it: another instance may still refresh it
    await this.o.store?.remove(b).catch((e: Error) => this.o.log.error({ bsid: b.bsid, err: e.message }, 'store: BSID removal failed'));
    try {
      await this.routers.get(b.router)?.agent.remove(b.bsid);
    } catch (e) {
      this.o.log.error({ bsid: b.bsid, router: b.router, err: (e as Error).message }, 'BSID removal failed');
    }
    this.o.log.info({ bsid: b.bsid, router: b.router, client: b.client, why }, 'BSID removed');
  }

  async sweep(): Promise<void> {
    const now = this.now();
    for (const b of [...this.byBsid.values()]) if (b.expiresAt <= now) await this.drop(b, 'expired');
  }

  /**
   * Recomputes every binding with `compute` (segments, or a reason when no path is left) and
   * re-installs the ones that changed: clients keep their BSID, new connections take the new path.
   */
  async repoint(compute: (spec: PathSpec) => { segments: string[] } | { reason: string }, concurrency = 32): Promise<{ moved: number; removed: number }> {
    let moved = 0;
    let removed = 0;
    const list = [...this.byBsid.values()];
    let next = 0;
    // `concurrency` bindings at a time: the agents batch what arrives together (access-router/batch.ts)
    const worker = async (): Promise<void> => {
      while (next < list.length) {
        const b = list[next++]!;
        if (!b.spec) continue;
        const r = compute(b.spec);
        if ('reason' in r) {
          removed++;
          await this.drop(b, r.reason);
          continue;
        }
        if (r.segments.join(',') === b.segments.join(',')) continue;
        const nb: Binding = { ...b, segments: r.segments };
        try {
          await this.routers.get(b.router)?.agent.install(this.policyOf(nb));
          await this.o.store?.update(this.stored(nb), nb.installedUntil - this.now());
          this.remember(nb);
          moved++;
          this.o.log.info({ bsid: b.bsid, from: b.segments, to: r.segments }, 'BSID re-pointed');
        } catch (e) {
          this.o.log.error({ bsid: b.bsid, err: (e as Error).message }, 're-pointing failed: the old path stays');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, list.length)) }, worker));
    return { moved, removed };
  }

  /**
   * The elected instance's re-pointing, with a store: every record in it (not only this instance's
   * cache) is recomputed from its path spec; each changed one is installed on its access router and
   * written to the store — once, by this instance alone — and one with no path left is removed.
   * `concurrency` records at a time; the store writes go `batch` records to one transaction (a
   * batch that fails — a record expired meanwhile — is written record by record). Records without a
   * spec (written before specs were stored) are left: they are recomputed when their client asks
   * again. Without a store: repoint().
   */
  async repointAll(compute: (spec: PathSpec) => { segments: string[] } | { reason: string }, concurrency = 32, batch = 64): Promise<{ moved: number; removed: number; failed: number; records: number }> {
    const store = this.o.store;
    if (!store) return { ...(await this.repoint(compute, concurrency)), failed: 0, records: this.byBsid.size };
    const records = await store.list();
    const counts = { moved: 0, removed: 0, failed: 0, records: records.length };
    const pending: Moved[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < records.length) {
        const m = await this.repointRecord(records[next++]!, compute, counts);
        if (m) pending.push(m);
        if (pending.length >= batch) await this.writeMoved(pending.splice(0), counts);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, records.length)) }, worker));
    if (pending.length) await this.writeMoved(pending.splice(0), counts);
    return counts;
  }

  /** Recomputes one record: removes it (no path left), or installs its new path and returns it to be written. */
  private async repointRecord(s: StoredBinding, compute: (spec: PathSpec) => { segments: string[] } | { reason: string }, counts: { moved: number; removed: number; failed: number }): Promise<Moved | undefined> {
    const store = this.o.store!;
    const r = this.routers.get(s.router);
    if (!s.spec || !r || s.installedUntil <= this.now()) return undefined;
    const c = compute(s.spec);
    try {
      if ('reason' in c) {
        const cached = this.byKey.get(s.key);
        if (cached) this.forget(cached);
        await store.remove(s);
        await r.agent.remove(s.bsid);
        counts.removed++;
        this.o.log.info({ bsid: s.bsid, router: s.router, client: s.client, why: c.reason }, 'BSID removed');
        return undefined;
      }
      if (c.segments.join(',') === s.segments.join(',')) return undefined;
      await r.agent.install({ bsid: s.bsid, source: { prefix: s.client, length: 128 }, segments: c.segments, expiresAt: s.installedUntil, key: s.key });
      return { from: s, to: { ...s, segments: c.segments } };
    } catch (e) {
      counts.failed++;
      this.o.log.error({ bsid: s.bsid, router: s.router, err: (e as Error).message }, 're-pointing failed: the old path stays');
      return undefined;
    }
  }

  /** The installed re-pointings into the store: one transaction, or one by one when it fails. */
  private async writeMoved(items: Moved[], counts: { moved: number; failed: number }): Promise<void> {
    const store = this.o.store!;
    try {
      await store.repath(items.map((m) => m.to));
    } catch (e) {
      if (items.length > 1) {
        for (const m of items) await this.writeMoved([m], counts);
        return;
      }
      counts.failed++;
      this.o.log.error({ bsid: items[0]!.to.bsid, router: items[0]!.to.router, err: (e as Error).message }, 're-pointing: the route is re-pointed, its record could not be written (gone meanwhile?)');
      return;
    }
    for (const { from, to } of items) {
      this.applyChange({ key: to.key, record: to });
      counts.moved++;
      this.o.log.info({ bsid: to.bsid, router: to.router, from: from.segments, to: to.segments }, 'BSID re-pointed');
    }
  }
}

/** A binding re-pointed on its router, to be written to the store. */
interface Moved {
  from: StoredBinding;
  to: StoredBinding;
}
