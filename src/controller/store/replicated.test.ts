/**
 * Two controller instances on a real one-member etcd (loopback): the published proxy health reaches
 * both (a corrupt value there is logged, skipped and counted); one instance's bindings, re-pointings
 * and removals reach the other's cache through the watch, and so does a lease's expiry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { parsePrefix } from '../../net/ip6.js';
import { MemoryAccessRouter } from '../../access-router/memory.js';
import { HAS_LOOPBACK_ETCD, startLoopbackEtcd, until, type LoopbackEtcd } from './test-etcd.js';
import { BsidManager, type PathSpec } from '../bsid/manager.js';
import { EtcdBsidStore } from './etcd.js';
import { SharedHealth } from './health.js';

const silent = pino({ level: 'silent' });
const spec: PathSpec = { from: 'net:c', to: 'net:s', destination: 'fc00:2::2', functions: [{ name: 'compress', argument: 1n }], tieKey: 'x' };

describe('replicated state on a real etcd (loopback)', { skip: HAS_LOOPBACK_ETCD ? false : 'etcd-server is not installed' }, () => {
  let etcd: LoopbackEtcd;
  before(async () => {
    etcd = await startLoopbackEtcd();
  });
  after(() => etcd?.stop());

  test('health: what the leader publishes reaches every instance; a corrupt value is skipped and counted; a deleted one is up again', async () => {
    const changes: string[] = [];
    const a = new SharedHealth(etcd.client(), '/h1', silent, (n, up) => changes.push(`a ${n} ${up}`));
    const b = new SharedHealth(etcd.client(), '/h1', silent, (n, up) => changes.push(`b ${n} ${up}`));
    try {
      await a.publish({ node: 'p1a', up: false, since: 1000, by: 'ctl', lastError: 'refused' });
      await Promise.all([a.start(), b.start()]);
      assert.equal(b.isUp('p1a'), false, 'the listed state at start');
      assert.equal(b.isUp('p1b'), true, 'unpublished: up');
      await etcd.client().txn([], [{ put: { key: '/h1/health/p2', value: '{"v":1,"node":"p2"' } }], []);
      await a.publish({ node: 'p1b', up: false, since: 2000, by: 'ctl' });
      await until('b sees p1b down', () => !b.isUp('p1b'));
      assert.equal(b.corrupt, 1);
      assert.equal(b.isUp('p2'), true);
      await a.publish({ node: 'p1a', up: true, since: 3000, by: 'ctl' });
      await until('p1a up at both', () => a.isUp('p1a') && b.isUp('p1a'));
      await etcd.client().txn([], [{ delete: { key: '/h1/health/p1b' } }], []);
      await until('p1b up again at b', () => b.isUp('p1b'));
      assert.deepEqual(
        changes.filter((c) => c.startsWith('b')),
        ['b p1a false', 'b p1b false', 'b p1a true', 'b p1b true'],
      );
      assert.deepEqual(b.records().map((r) => r.node).sort(), ['p1a']);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  test('bindings: another instance’s binds, re-pointings, removals and lease expiry reach the cache through the watch', async () => {
    const agent = new MemoryAccessRouter();
    const mk = (lifetimeMs: number): { m: BsidManager; store: EtcdBsidStore } => {
      const store = new EtcdBsidStore(etcd.client(), '/b1', silent);
      return { store, m: new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs, log: silent, perClient: 100, store }) };
    };
    const a = mk(60_000);
    const b = mk(60_000);
    const stop = new AbortController();
    const following = b.m.follow(stop.signal);
    try {
      const req = (key: string) => ({ router: 'ar', client: `fc00:1::${key.slice(1)}`, key, segments: ['fc00:a::1:0:0'], spec: { ...spec, tieKey: key } });
      const k1 = await a.m.bind(req('k1'));
      const k2 = await a.m.bind(req('k2'));
      await until('b caches k1 and k2', () => b.m.lookup(k1.bsid) !== undefined && b.m.lookup(k2.bsid) !== undefined);
      assert.deepEqual(b.m.lookup(k1.bsid)?.spec, { ...spec, tieKey: 'k1' }, 'with its spec');
      const r = await a.m.repointAll((s) => (s.tieKey === 'k2' ? { reason: 'no path' } : { segments: ['fc00:b::1:0:0'] }));
      assert.deepEqual(r, { moved: 1, removed: 1, failed: 0, records: 2 });
      await until('b has k1 re-pointed and k2 forgotten', () => b.m.lookup(k1.bsid)?.segments[0] === 'fc00:b::1:0:0' && b.m.lookup(k2.bsid) === undefined);
      // a short-lived binding: its lease expires in etcd and b forgets it (no instance removed it)
      const short = mk(1000);
      const k3 = await short.m.bind(req('k3'));
      await until('b caches k3', () => b.m.lookup(k3.bsid) !== undefined);
      // re-pathed on the lease it has: the expiry stays (the record still goes with its short lease)
      await a.store.repath([{ key: 'k3', bsid: k3.bsid, router: 'ar', client: k3.client, segments: ['fc00:d::1:0:0'], installedUntil: k3.installedUntil }]);
      await until('b has k3 re-pathed', () => b.m.lookup(k3.bsid)?.segments[0] === 'fc00:d::1:0:0');
      await until('k3’s lease expires and b forgets it', () => b.m.list().every((x) => x.key !== 'k3'), 10_000);
      await assert.rejects(a.store.repath([{ key: 'k3', bsid: k3.bsid, router: 'ar', client: k3.client, segments: [], installedUntil: k3.installedUntil }]), /STORE_UNAVAILABLE|not found|lease/i, 'a record that is gone is not written again');
      assert.equal(await a.store.get('k3'), undefined);
    } finally {
      stop.abort();
      await following;
    }
  });
});
