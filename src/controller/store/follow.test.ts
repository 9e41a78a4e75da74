/**
 * The access router's reconciler (access-router/reconcile.ts) as the agent runs it on the store
 * (follow.ts: the index and the codec of this folder), against a real one-member etcd on loopback (Debian's etcd-server), records written
 * by the controllers' store (EtcdBsidStore), routes in an in-memory agent: the first full sync
 * installs what is missing or differs and removes what is not desired; the watch applies binds,
 * re-pointings, withdrawals and lease expiries; a value that is no record is counted and skipped; a
 * route removed behind its back comes back at the periodic resync; cut off from etcd (a TCP relay
 * that goes silent) it keeps and holds its routes, says so once, and catches up when etcd returns.
 */
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { EtcdClient } from './etcd-client.js';
import { EtcdBsidStore } from './etcd.js';
import { decodeBinding, keyPath, routePath, routePrefix } from './codec.js';
import type { StoredBinding } from './types.js';
import { MemoryAccessRouter } from '../../access-router/memory.js';
import { DEFAULT_RECONCILE, policyOfRecord, Reconciler, type ReconcileOptions } from '../../access-router/reconcile.js';
import { isSrError } from '../../core/errors.js';
import { storeFollower } from './follow.js';
import { HAS_LOOPBACK_ETCD, startLoopbackEtcd, until, type LoopbackEtcd } from './test-etcd.js';

/** A TCP relay to etcd that can go silent (connections kept but nothing passes; new ones reset), as a cut link does. */
class CutRelay {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private cut = false;
  port = 0;

  constructor(private readonly target: number) {
    this.server = createServer((c) => {
      if (this.cut) return void c.destroy();
      const u = connect(this.target, '127.0.0.1');
      const pair: [Socket, Socket] = [c, u];
      this.pairs.add(pair);
      const close = (): void => {
        c.destroy();
        u.destroy();
        this.pairs.delete(pair);
      };
      c.on('error', close).on('close', close);
      u.on('error', close).on('close', close);
      c.pipe(u);
      u.pipe(c);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  silence(): void {
    this.cut = true;
    for (const [c, u] of this.pairs) {
      c.unpipe(u);
      u.unpipe(c);
      c.pause();
      u.pause();
    }
  }

  restore(): void {
    this.cut = false;
    for (const [c, u] of this.pairs) {
      c.destroy();
      u.destroy();
    }
    this.pairs.clear();
  }

  close(): Promise<void> {
    this.restore();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** An in-memory agent whose routes expire on their own, as LocalAccessRouter's do. */
class ExpiringAgent extends MemoryAccessRouter {
  private readonly timer = setInterval(() => {
    for (const [bsid, p] of this.installed) if (p.expiresAt <= Date.now()) this.installed.delete(bsid);
  }, 50);
  stop(): void {
    clearInterval(this.timer);
  }
}

const rec = (n: number, over: Partial<StoredBinding> = {}): StoredBinding => ({ key: `k${n}`, bsid: `fc00:e::${n}`, router: 'ar2', client: `fc00:4::${n + 0x100}`, segments: ['fc00:a::1:0:0'], installedUntil: Date.now() + 120_000, ...over });

describe('the access router’s reconciler on a real etcd (loopback)', { skip: HAS_LOOPBACK_ETCD ? false : 'etcd-server is not installed' }, () => {
  let etcd: LoopbackEtcd;
  let port: number;
  let nth = 0;
  const open: { close(): unknown }[] = [];

  before(async () => {
    etcd = await startLoopbackEtcd();
    port = Number(new URL(etcd.endpoint).port);
  });

  after(async () => {
    for (const o of open) o.close();
    await etcd?.stop();
  });

  /** A fresh prefix; the controllers' store on it; a reconciler for ar2 through `via` (default: straight to etcd). */
  function setUp(agent: MemoryAccessRouter, o: { via?: number; lines?: string[]; resyncMs?: number; holdMs?: number } = {}) {
    const prefix = `/rec${nth++}`;
    const direct = new EtcdClient({ endpoints: [`http://127.0.0.1:${port}`], timeoutMs: 2000 });
    const store = new EtcdBsidStore(direct, prefix, pino({ level: 'silent' }));
    const client = new EtcdClient({ endpoints: [`http://127.0.0.1:${o.via ?? port}`], timeoutMs: 500 });
    const log = o.lines ? pino({ level: 'info' }, { write: (l: string) => o.lines!.push(l) }) : pino({ level: 'silent' });
    const opts: ReconcileOptions = { router: 'ar2', index: routePrefix(prefix, 'ar2'), decode: decodeBinding, source: client, agent, log, resyncMs: o.resyncMs ?? 60_000, probeMs: 200, timeoutMs: 500, holdMs: o.holdMs ?? 60_000, backoff: { minMs: 100, maxMs: 1000 } };
    const r = new Reconciler(opts);
    open.push(direct, client);
    return { prefix, direct, store, r };
  }

  test('the first full sync installs what is missing or differs and removes what is not desired; the watch applies binds, re-pointings, withdrawals, lease expiries; a value that is no record is counted and skipped', async () => {
    const agent = new MemoryAccessRouter('ar2');
    const { prefix, direct, store, r } = setUp(agent, { resyncMs: 300 });
    try {
      await store.create(rec(1), 120_000);
      await store.create(rec(2), 120_000);
      await store.create(rec(9, { router: 'ar' }), 120_000); // another router's: not ours
      await agent.install({ ...policyOfRecord(rec(2)), segments: ['fc00:b::1:0:0'] }); // stale
      await agent.install(policyOfRecord(rec(3))); // withdrawn while the agent was away
      await r.start();
      assert.deepEqual([...agent.installed.keys()].sort(), ['fc00:e::1', 'fc00:e::2']);
      assert.deepEqual(agent.installed.get('fc00:e::2')!.segments, ['fc00:a::1:0:0']);
      assert.deepEqual([r.stats.installs, r.stats.removes, r.stats.connected], [2, 1, true]);
      assert.ok(r.stats.lastFullSync > 0);
      // bound, re-pointed and withdrawn in the store: followed
      await store.create(rec(4), 120_000);
      await until('the new binding', () => agent.installed.has('fc00:e::4'));
      await store.update(rec(1, { segments: ['fc00:c::1:0:0'] }), 120_000);
      await until('the re-pointing', () => agent.installed.get('fc00:e::1')?.segments[0] === 'fc00:c::1:0:0');
      await store.remove({ key: 'k2', bsid: 'fc00:e::2' });
      await until('the withdrawal', () => !agent.installed.has('fc00:e::2'));
      // a lease that ends (revoked here, as etcd does when it expires)
      const lease = (await direct.get(keyPath(prefix, 'k4')))!.lease!;
      await direct.revoke(lease);
      await until('the expiry', () => !agent.installed.has('fc00:e::4'));
      // garbage and a record of another router under our index: skipped and counted, the watch goes on
      await direct.txn([], [{ put: { key: `${prefix}/route/ar2/fc00:e::77`, value: 'not json' } }], []);
      await direct.txn([], [{ put: { key: routePath(prefix, 'ar2', 'fc00:e::9'), value: JSON.stringify({ v: 1, ...rec(9, { router: 'ar' }) }) } }], []);
      await until('two corrupt values', () => r.stats.corrupt === 2);
      const synced = r.stats.lastFullSync;
      await until('a full sync after', () => r.stats.lastFullSync > synced);
      assert.equal(r.stats.corrupt, 2, 'a bad value is counted once, not at every full sync');
      await store.create(rec(5), 120_000);
      await until('the next binding after the garbage', () => agent.installed.has('fc00:e::5'));
      assert.deepEqual([...agent.installed.keys()].sort(), ['fc00:e::1', 'fc00:e::5']);
      assert.equal(r.stats.failed, 0);
    } finally {
      await r.stop();
    }
  });

  test('storeFollower (what `srv6pipes access-router` runs with store.etcd): the router’s index, the store’s codec; its password file read at once', async () => {
    const agent = new MemoryAccessRouter('ar2');
    const { prefix, store } = setUp(agent);
    await store.create(rec(1), 120_000);
    await store.create(rec(2, { router: 'ar', bsid: 'fc00:f::2' }), 120_000);
    const f = storeFollower('ar2', { endpoints: [`http://127.0.0.1:${port}`], prefix: `${prefix}/`, timeoutMs: 1000 }, DEFAULT_RECONCILE);
    assert.match(f.describe, new RegExp(`^${prefix}/route/ar2/ on etcd at http://127\\.0\\.0\\.1:${port}$`));
    const r = await f.start(agent, pino({ level: 'silent' }));
    try {
      assert.deepEqual([...agent.installed.keys()], ['fc00:e::1'], 'its own router’s routes only');
      assert.equal(r.stats.connected, true);
    } finally {
      await r.stop();
      f.close();
    }
    assert.throws(() => storeFollower('ar2', { endpoints: ['http://127.0.0.1:1'], prefix: '/x', timeoutMs: 1000, username: 'u', passwordFile: join(tmpdir(), 'srv6pipes-no-such-folder', 'absent') }, DEFAULT_RECONCILE), (e: unknown) => isSrError(e, 'CONFIG_READ') && /store\.etcd\.passwordFile/.test((e as Error).message));
  });

  test('a route removed behind its back (through the agent) comes back at the next resync; an install the agent refuses is counted and retried', async () => {
    const agent = new MemoryAccessRouter('ar2');
    const { store, r } = setUp(agent, { resyncMs: 300 });
    try {
      await store.create(rec(1), 120_000);
      await r.start();
      await agent.remove('fc00:e::1');
      await until('the route back', () => agent.installed.has('fc00:e::1'));
      agent.fail = true;
      await store.create(rec(2), 120_000);
      await until('a failed install', () => r.stats.failed >= 1);
      agent.fail = false;
      await until('installed at a resync', () => agent.installed.has('fc00:e::2'));
    } finally {
      await r.stop();
    }
  });

  test('fail static: cut off from etcd it keeps its routes, holds one whose expiry passes, says so once; back, it catches up (withdrawn removed, expired removed, new installed)', async () => {
    const relay = new CutRelay(port);
    await relay.listen();
    const agent = new ExpiringAgent('ar2');
    const lines: string[] = [];
    const { store, r } = setUp(agent, { via: relay.port, lines });
    try {
      await store.create(rec(1), 120_000);
      await store.create(rec(2), 120_000);
      // the route of 3 ends soon (its record says so; the lease outlives it)
      await store.create(rec(3, { installedUntil: Date.now() + 2500 }), 120_000);
      await r.start();
      assert.equal(agent.installed.size, 3);
      relay.silence();
      await until('the cut noticed', () => !r.stats.connected);
      // meanwhile: 2 is withdrawn, 4 is bound, 3's expiry passes
      await store.remove({ key: 'k2', bsid: 'fc00:e::2' });
      await store.create(rec(4), 120_000);
      await new Promise((res) => setTimeout(res, 3500));
      assert.deepEqual([...agent.installed.keys()].sort(), ['fc00:e::1', 'fc00:e::2', 'fc00:e::3'], 'every route kept, 3 held past its expiry');
      assert.ok(r.stats.held >= 1);
      assert.equal(lines.filter((l) => l.includes('etcd unreachable: keeping every route')).length, 1, 'said once, not per retry');
      relay.restore();
      await until('the catch-up', () => r.stats.connected && agent.installed.has('fc00:e::4'));
      assert.deepEqual([...agent.installed.keys()].sort(), ['fc00:e::1', 'fc00:e::4']);
      assert.equal(agent.installed.get('fc00:e::1')!.expiresAt, policyOfRecord((await store.get('k1'))!).expiresAt);
      assert.equal(lines.filter((l) => l.includes('etcd reachable again')).length, 1);
    } finally {
      await r.stop();
      agent.stop();
      await relay.close();
    }
  });

  test('the hold is bounded: past holdMs a route whose expiry passed goes as usual', async () => {
    const relay = new CutRelay(port);
    await relay.listen();
    const agent = new ExpiringAgent('ar2');
    const { store, r } = setUp(agent, { via: relay.port, holdMs: 1500 });
    try {
      await store.create(rec(1, { installedUntil: Date.now() + 2000 }), 120_000);
      await r.start();
      relay.silence();
      await until('the cut noticed', () => !r.stats.connected);
      await until('the route gone once the hold ends', () => !agent.installed.has('fc00:e::1'), 10_000);
    } finally {
      await r.stop();
      agent.stop();
      await relay.close();
    }
  });
});
