/**
 * The access router's reconciler: makes the agent's BSID routes match the route index the
 * controllers keep in etcd (`<prefix>/route/<router>/<bsid>` → the binding record, on the binding's
 * lease; controller/store/etcd.ts). A full sync lists the agent's routes, then the index, and
 * installs what is missing or differs (segments, source, expiry) and removes what is not desired
 * (withdrawn, expired); a watch from the listed revision then applies each change (PUT: install if
 * different; DELETE, a withdrawal or a lease that expired: remove). A full sync runs again after
 * every watch end (the member went away or lost its leader: re-list and watch on), after a
 * compaction, and every `resyncMs` (a route changed behind the store's back, e.g. removed through
 * the agent's API, comes back).
 *
 * Fail static: when etcd cannot be reached (no endpoint answers, or a probe finds the watch's member
 * silent) the reconciler says so once, keeps every route, and retries with a capped back-off. It
 * cannot confirm the desired state meanwhile, so it also holds routes whose own expiry passes: it
 * installs them again with a later expiry, for at most `holdMs` after the cut began (then they
 * expire as usual). On reconnecting, the full sync catches up: what was withdrawn or expired
 * meanwhile is removed, what was bound meanwhile installed, held routes get their record's expiry.
 * A value under the index that is not a record for this router is logged, skipped and counted.
 * Only `install`, `remove` and `list` of the agent are used.
 *
 * The reconciler knows the store only through `IndexSource` (what it needs of the etcd client) and
 * `decode` (the record codec): both are the controller's (controller/store/follow.ts wires them),
 * and this folder sits below the controller's.
 */
import type { Logger } from 'pino';
import type { AccessRouterAgent, BsidPolicy } from './api.js';

/** A key of the index as etcd gives it. */
export interface IndexKeyValue {
  key: string;
  value: string;
  modRevision: string;
}

/** What the reconciler needs of the etcd client (controller/store/etcd-client.ts's EtcdClient). */
export interface IndexSource {
  listAt(prefix: string): Promise<{ kvs: IndexKeyValue[]; revision: string }>;
  /** resolves when the watch ends (stream broken, no leader, compacted, aborted) */
  watch(prefix: string, after: string, onEvents: (events: { type: 'PUT' | 'DELETE'; kv: IndexKeyValue }[], revision: string) => void, signal?: AbortSignal): Promise<{ revision: string; compacted: boolean; reason: string }>;
  get(key: string): Promise<IndexKeyValue | undefined>;
}

/** A binding record as the index holds it (controller/store/types.ts's StoredBinding). */
export interface IndexRecord {
  key: string;
  bsid: string;
  router: string;
  client: string;
  segments: string[];
  /** until when the access router keeps the route (ms since the epoch) */
  installedUntil: number;
}

/** The timings of the agent's config file `reconcile` (config-file.ts). */
export interface ReconcileSettings {
  resyncMs: number;
  probeMs: number;
  holdMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_RECONCILE: ReconcileSettings = { resyncMs: 60_000, probeMs: 5000, holdMs: 3_600_000, backoffMaxMs: 10_000 };

/** What the agent's daemon runs when it follows a store (built where the store is known: controller/store/follow.ts). */
export interface StoreFollower {
  /** for the logs and --dry-run: the endpoints and the watched prefix */
  readonly describe: string;
  /** starts reconciling `agent`; resolves after the first full sync was tried */
  start(agent: AccessRouterAgent, log: Logger): Promise<{ readonly stats: ReconcileStats; stop(): Promise<void> }>;
  /** releases the client (after stop, or when the agent does not start) */
  close(): void;
}

export interface ReconcileOptions {
  /** this router's name (the controller config's node name, the index's `<router>`) */
  router: string;
  /** the index's key prefix for this router: `<store prefix>/route/<router>/` */
  index: string;
  /** a value of the index as a record, or undefined when it is none */
  decode: (value: string) => IndexRecord | undefined;
  source: IndexSource;
  agent: AccessRouterAgent;
  log: Logger;
  /** a full sync this often while connected */
  resyncMs: number;
  /** a probe of etcd this often while watching: a silent member is noticed */
  probeMs: number;
  /** a probe slower than this (the client's request timeout) restarts the watch on another member */
  timeoutMs: number;
  /** how long past the cut routes are held beyond their own expiry */
  holdMs: number;
  /** the retry back-off, doubling from `min` up to `max` */
  backoff: { minMs: number; maxMs: number };
  now?: () => number;
}

export interface ReconcileStats {
  /** routes installed (missing or different) and removed (not desired) by the reconciler */
  installs: number;
  removes: number;
  /** installs or removals the agent refused or failed (retried at the next full sync) */
  failed: number;
  /** values under the index that are not a record for this router */
  corrupt: number;
  /** routes installed again with a later expiry while etcd was unreachable */
  held: number;
  connected: boolean;
  /** when the last full sync finished (ms since the epoch; 0: never) */
  lastFullSync: number;
}

/** The route a record asks for (as the controller's manager pushes it: the client alone, until installedUntil). */
export function policyOfRecord(b: IndexRecord): BsidPolicy {
  return { bsid: b.bsid, source: { prefix: b.client, length: 128 }, segments: b.segments, expiresAt: b.installedUntil, key: b.key };
}

function samePolicy(a: BsidPolicy, b: BsidPolicy): boolean {
  return a.source.prefix === b.source.prefix && a.source.length === b.source.length && a.expiresAt === b.expiresAt && a.segments.length === b.segments.length && a.segments.every((s, i) => s === b.segments[i]);
}

/** how much before its expiry a held route is installed again, and how far it is pushed each time */
const HOLD_TICK_MS = 500;
const HOLD_MARGIN_MS = 3000;
const HOLD_STEP_MS = 60_000;

export class Reconciler {
  readonly stats: ReconcileStats = { installs: 0, removes: 0, failed: 0, corrupt: 0, held: 0, connected: false, lastFullSync: 0 };
  private readonly index: string;
  private readonly stopper = new AbortController();
  private running: Promise<void> | undefined;
  /** serialises changes to the agent: watch batches and full syncs, in order */
  private chain: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  /** when etcd became unreachable (undefined: reachable, or not yet known) */
  private cutSince: number | undefined;
  private holdTimer: NodeJS.Timeout | undefined;
  private holdEnded = false;
  private holdQueued = false;
  /** the bad values seen (key → its mod revision): each is logged and counted once, not at every full sync */
  private readonly bad = new Map<string, string>();
  /** resolves the first full sync (or its first failure) */
  private firstSync: { promise: Promise<void>; resolve: () => void };

  constructor(private readonly o: ReconcileOptions) {
    this.index = o.index;
    this.now = o.now ?? Date.now;
    let resolve!: () => void;
    this.firstSync = { promise: new Promise<void>((r) => (resolve = r)), resolve };
  }

  /** Starts the loop; resolves after the first full sync was tried (done or failed: fail static). */
  start(): Promise<void> {
    this.running ??= this.loop();
    return this.firstSync.promise;
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    clearInterval(this.holdTimer);
    await this.running;
    await this.chain;
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn).catch((e: unknown) => this.o.log.error({ err: (e as Error).message }, 'reconcile: a change failed'));
    this.chain = next;
    return next;
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.stopper.signal;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async loop(): Promise<void> {
    let backoff = this.o.backoff.minMs;
    const signal = this.stopper.signal;
    while (!signal.aborted) {
      let revision: string;
      try {
        revision = await this.fullSync();
      } catch (e) {
        this.firstSync.resolve();
        this.unreachable((e as Error).message);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.o.backoff.maxMs);
        continue;
      }
      this.firstSync.resolve();
      this.reachable();
      const started = this.now();
      const { end, why } = await this.watch(revision);
      if (signal.aborted) break;
      if (why === 'resync') {
        backoff = this.o.backoff.minMs;
        continue;
      }
      if (end.compacted) {
        this.o.log.info({ reason: end.reason }, 'reconcile: etcd compacted the history: listing afresh');
        continue;
      }
      this.o.log.info({ reason: why ?? end.reason }, 'reconcile: the watch ended: listing again');
      // a watch that ends at once, again and again, must not spin
      if (this.now() - started < this.o.backoff.maxMs) {
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.o.backoff.maxMs);
      } else backoff = this.o.backoff.minMs;
    }
  }

  /** Watches from `revision` until the watch ends, the resync period passes, a probe fails, or stop. */
  private async watch(revision: string): Promise<{ end: { compacted: boolean; reason: string }; why?: string }> {
    const ac = new AbortController();
    let why: string | undefined;
    const abort = (reason: string): void => {
      why ??= reason;
      ac.abort();
    };
    const onStop = (): void => abort('stopped');
    this.stopper.signal.addEventListener('abort', onStop, { once: true });
    const resync = setTimeout(() => abort('resync'), this.o.resyncMs);
    let probing = false;
    const probe = setInterval(() => {
      if (probing) return;
      probing = true;
      const t0 = this.now();
      this.o.source.get(this.index).then(
        () => {
          probing = false;
          if (this.now() - t0 >= this.o.timeoutMs) abort('a probe took the request timeout: the watch’s member may be silent');
        },
        (e: unknown) => {
          probing = false;
          abort(`a probe failed: ${(e as Error).message}`);
        },
      );
    }, this.o.probeMs);
    try {
      const end = await this.o.source.watch(this.index, revision, (events) => void this.enqueue(() => this.apply(events)), ac.signal);
      await this.chain;
      return { end, ...(why !== undefined ? { why } : {}) };
    } finally {
      clearTimeout(resync);
      clearInterval(probe);
      this.stopper.signal.removeEventListener('abort', onStop);
    }
  }

  /** The record a key of the index holds, or undefined (counted and logged) when it is not one for this router. */
  private decode(kv: IndexKeyValue): IndexRecord | undefined {
    const b = this.o.decode(kv.value);
    if (b && b.router === this.o.router && this.index + b.bsid === kv.key) {
      this.bad.delete(kv.key);
      return b;
    }
    if (this.bad.get(kv.key) === kv.modRevision) return undefined;
    this.bad.set(kv.key, kv.modRevision);
    this.stats.corrupt++;
    this.o.log.warn({ key: kv.key, value: kv.value.slice(0, 80), corrupt: this.stats.corrupt }, 'reconcile: a value under the route index is not a binding record for this router: skipped');
    return undefined;
  }

  /** Lists the agent, then the index (a route pushed after the agent's list has its record already), and makes them match. */
  private fullSync(): Promise<string> {
    let revision = '0';
    let failure: Error | undefined;
    return this.enqueue(async () => {
      try {
        const installed = new Map((await this.o.agent.list()).map((p) => [p.bsid, p]));
        const listed = await this.o.source.listAt(this.index);
        revision = listed.revision;
        const now = this.now();
        const desired = new Map<string, BsidPolicy>();
        if (this.bad.size > 0) {
          const keys = new Set(listed.kvs.map((kv) => kv.key));
          for (const k of this.bad.keys()) if (!keys.has(k)) this.bad.delete(k);
        }
        for (const kv of listed.kvs) {
          const b = this.decode(kv);
          if (b && b.installedUntil > now) desired.set(b.bsid, policyOfRecord(b));
        }
        let installs = 0;
        let removes = 0;
        for (const bsid of installed.keys()) if (!desired.has(bsid) && (await this.remove(bsid, 'not in the store'))) removes++;
        for (const p of desired.values()) {
          const cur = installed.get(p.bsid);
          if ((!cur || !samePolicy(cur, p)) && (await this.install(p, cur ? 'differs from the store' : 'missing'))) installs++;
        }
        this.stats.lastFullSync = this.now();
        this.o.log.debug({ desired: desired.size, installed: installed.size, installs, removes, revision }, 'reconcile: full sync');
      } catch (e) {
        failure = e as Error;
      }
    }).then(() => {
      if (failure) throw failure;
      return revision;
    });
  }

  private async apply(events: { type: 'PUT' | 'DELETE'; kv: IndexKeyValue }[]): Promise<void> {
    const installed = new Map((await this.o.agent.list()).map((p) => [p.bsid, p]));
    for (const e of events) {
      if (!e.kv.key.startsWith(this.index)) continue;
      const bsid = e.kv.key.slice(this.index.length);
      if (e.type === 'DELETE') {
        this.bad.delete(e.kv.key);
        if (installed.has(bsid)) await this.remove(bsid, 'withdrawn or expired in the store');
        installed.delete(bsid);
        continue;
      }
      const b = this.decode(e.kv);
      if (!b || b.installedUntil <= this.now()) continue;
      const p = policyOfRecord(b);
      const cur = installed.get(bsid);
      if (cur && samePolicy(cur, p)) continue;
      if (await this.install(p, cur ? 'changed in the store' : 'bound in the store')) installed.set(bsid, p);
    }
  }

  private async install(p: BsidPolicy, why: string): Promise<boolean> {
    try {
      await this.o.agent.install(p);
      this.stats.installs++;
      this.o.log.info({ bsid: p.bsid, segments: p.segments, why }, 'reconcile: BSID installed');
      return true;
    } catch (e) {
      this.stats.failed++;
      this.o.log.warn({ bsid: p.bsid, err: (e as Error).message, why }, 'reconcile: install failed (retried at the next full sync)');
      return false;
    }
  }

  private async remove(bsid: string, why: string): Promise<boolean> {
    try {
      await this.o.agent.remove(bsid);
      this.stats.removes++;
      this.o.log.info({ bsid, why }, 'reconcile: BSID removed');
      return true;
    } catch (e) {
      this.stats.failed++;
      this.o.log.warn({ bsid, err: (e as Error).message, why }, 'reconcile: removal failed (retried at the next full sync)');
      return false;
    }
  }

  private reachable(): void {
    this.stats.connected = true;
    if (this.cutSince === undefined) return;
    this.o.log.info({ cutForMs: this.now() - this.cutSince, held: this.stats.held }, 'reconcile: etcd reachable again: caught up with the store');
    this.cutSince = undefined;
    clearInterval(this.holdTimer);
    this.holdTimer = undefined;
    this.holdEnded = false;
  }

  /** Fail static: said once per cut; routes are kept, and held past their expiry (up to holdMs). */
  private unreachable(reason: string): void {
    this.stats.connected = false;
    if (this.stopper.signal.aborted) return;
    if (this.cutSince !== undefined) {
      this.o.log.debug({ reason }, 'reconcile: etcd still unreachable');
      return;
    }
    this.cutSince = this.now();
    this.o.log.warn({ reason, holdMs: this.o.holdMs }, 'reconcile: etcd unreachable: keeping every route (fail static) until it answers again');
    const tick = (): void => {
      // one hold pass waiting at a time: a full sync stuck on timeouts must not pile them up
      if (this.holdQueued) return;
      this.holdQueued = true;
      void this.enqueue(() => {
        this.holdQueued = false;
        return this.hold();
      });
    };
    this.holdTimer = setInterval(tick, HOLD_TICK_MS);
    this.holdTimer.unref();
    tick();
  }

  /** Installs again, with a later expiry, the routes about to expire while etcd is unreachable. */
  private async hold(): Promise<void> {
    if (this.cutSince === undefined) return;
    const now = this.now();
    const until = this.cutSince + this.o.holdMs;
    if (now >= until) {
      if (!this.holdEnded) this.o.log.warn({ holdMs: this.o.holdMs }, 'reconcile: etcd unreachable for longer than the hold bound: routes expire on their own again');
      this.holdEnded = true;
      return;
    }
    for (const p of await this.o.agent.list()) {
      if (p.expiresAt > now + HOLD_MARGIN_MS || p.expiresAt >= until) continue;
      try {
        await this.o.agent.install({ ...p, expiresAt: Math.min(until, now + HOLD_STEP_MS) });
        this.stats.held++;
        this.o.log.info({ bsid: p.bsid, expiredAt: p.expiresAt }, 'reconcile: BSID held past its expiry while etcd is unreachable');
      } catch (e) {
        this.stats.failed++;
        this.o.log.warn({ bsid: p.bsid, err: (e as Error).message }, 'reconcile: holding a route failed');
      }
    }
  }
}
