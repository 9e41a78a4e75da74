/**
 * Binding SIDs, the controller's side. One BSID per key — (client, policy, function chain, destination
 * network) — allocated from the client's access router's BSID prefix by a stable hash of the key
 * (linear probing on a clash), so a client that asks again gets the same BSID, also after a
 * controller restart (installed BSIDs carry their key and are adopted).
 *
 *   bind()     allocates or refreshes, and resolves only once the agent has installed the route:
 *              the DNS answer waits for it;
 *   lookup()   what proxies ask: the segments behind a BSID;
 *   repoint()  after a health change: recomputes every binding, re-installs the changed ones and
 *              removes those that have no path left;
 *   sweep()    removes the expired ones (the agents expire them too).
 */
import type { Logger } from 'pino';
import { SrError } from '../../errors.js';
import { formatAddress, formatPrefix, maskBuffer, parseAddress, type Prefix6 } from '../../net/ip6.js';
import type { AccessRouterAgent, BsidPolicy } from '../access-router.js';

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
  /** absent for a binding adopted from a router: it is recomputed once its client asks again */
  spec?: PathSpec;
}

export interface BsidManagerOptions {
  lifetimeMs: number;
  log: Logger;
  now?: () => number;
}

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

export class BsidManager {
  private readonly byBsid = new Map<string, Binding>();
  private readonly byKey = new Map<string, Binding>();
  /** one change per key at a time */
  private readonly pending = new Map<string, Promise<Binding>>();
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
        const b: Binding = { bsid: p.bsid, router, client: p.source.prefix, key: p.key, segments: p.segments, expiresAt: p.expiresAt };
        this.byBsid.set(b.bsid, b);
        this.byKey.set(b.key, b);
        n++;
      }
    }
    return n;
  }

  private allocate(r: RouterEntry, key: string): string {
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
    p.then(clear, clear);
    return p;
  }

  private async bindNow(req: BindRequest): Promise<Binding> {
    const r = this.routers.get(req.router);
    if (!r) throw new SrError('CONFIG_INVALID', `access router "${req.router}" has no agent`);
    const old = this.byKey.get(req.key);
    const bsid = old?.router === req.router ? old.bsid : this.allocate(r, req.key);
    const b: Binding = { bsid, router: req.router, client: req.client, key: req.key, segments: req.segments, expiresAt: this.now() + this.o.lifetimeMs, spec: req.spec };
    await r.agent.install(this.policyOf(b));
    if (old && old.bsid !== bsid) this.forget(old);
    this.byBsid.set(bsid, b);
    this.byKey.set(req.key, b);
    if (!old || old.segments.join(',') !== b.segments.join(',')) this.o.log.info({ bsid, router: b.router, client: b.client, segments: b.segments, key: b.key }, 'BSID bound');
    return b;
  }

  private policyOf(b: Binding): BsidPolicy {
    return { bsid: b.bsid, source: { prefix: b.client, length: 128 }, segments: b.segments, expiresAt: b.expiresAt, key: b.key };
  }

  private forget(b: Binding): void {
    this.byBsid.delete(b.bsid);
    if (this.byKey.get(b.key) === b) this.byKey.delete(b.key);
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
  async repoint(compute: (spec: PathSpec) => { segments: string[] } | { reason: string }): Promise<{ moved: number; removed: number }> {
    let moved = 0;
    let removed = 0;
    for (const b of [...this.byBsid.values()]) {
      if (!b.spec) continue;
      const r = compute(b.spec);
      if ('reason' in r) {
        removed++;
        await this.drop(b, r.reason);
        continue;
      }
      if (r.segments.join(',') === b.segments.join(',')) continue;
      const next: Binding = { ...b, segments: r.segments };
      try {
        await this.routers.get(b.router)?.agent.install(this.policyOf(next));
        this.byBsid.set(b.bsid, next);
        this.byKey.set(b.key, next);
        moved++;
        this.o.log.info({ bsid: b.bsid, from: b.segments, to: r.segments }, 'BSID re-pointed');
      } catch (e) {
        this.o.log.error({ bsid: b.bsid, err: (e as Error).message }, 're-pointing failed: the old path stays');
      }
    }
    return { moved, removed };
  }
}
