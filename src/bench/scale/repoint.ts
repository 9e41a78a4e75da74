/**
 * Time to re-point N BSIDs after a replica fails: N bindings on the primary path, then
 * `BsidManager.repointAll` with the backup path for all — what the controller does when the health
 * checker marks the replica down (with a store: what the elected instance does, every record in the
 * store; without: this instance's bindings), with the daemon's defaults (32 at a time, 64 records
 * per etcd transaction). Configurations: an agent that keeps
 * nothing, without a store and on etcd (the controller's own cost), and the real agent
 * (LocalAccessRouter in the access lab's `ar` namespace, no store: the cost at the router).
 */
import { pino } from 'pino';
import { parsePrefix } from '../../net/ip6.js';
import { LocalAccessRouter } from '../../access-router/local.js';
import type { AccessRouterAgent } from '../../access-router/api.js';
import { EtcdBsidStore } from '../../controller/store/etcd.js';
import type { BsidStore } from '../../controller/store/types.js';
import { nowMs, pool, withScaleLab, type ScaleContext } from './common.js';
import { BACKUP, manager, NullAgent, request } from './controller-side.js';
import { startLoopbackEtcd } from '../../controller/store/test-etcd.js';

/** the measurements fill etcd past its default 2 GB quota */
const QUOTA = ['--quota-backend-bytes', String(4 * 1024 ** 3)];

async function once(ctx: ScaleContext, config: string, n: number, agent: AccessRouterAgent, store?: BsidStore): Promise<void> {
  const m = manager(agent, store);
  await pool(n, 64, (i) => m.bind(request(i)));
  const t = nowMs();
  const r = await m.repointAll(() => ({ segments: BACKUP }));
  const s = (nowMs() - t) / 1000;
  if (r.moved !== n) ctx.note(`repoint (${config}): ${r.moved} of ${n} moved`);
  ctx.record({ part: 'repoint', config, at: `${n}`, metric: 'time to re-point all', unit: 's' }, s);
  ctx.record({ part: 'repoint', config, at: `${n}`, metric: 're-points/s', unit: '1/s' }, r.moved / s);
  ctx.say(`repoint (${config}): ${n} in ${s.toFixed(2)} s`);
}

export async function measureRepoint(ctx: ScaleContext, n: number): Promise<void> {
  for (let rep = 0; rep < ctx.reps; rep++) {
    await once(ctx, 'null agent, no store', n, new NullAgent());
    const etcd = await startLoopbackEtcd(QUOTA);
    const store = new EtcdBsidStore(etcd.client(10_000), '/scale', pino({ level: 'silent' }));
    try {
      await once(ctx, 'null agent, etcd (1 member, loopback)', n, new NullAgent(), store);
    } finally {
      await store.close();
      await etcd.stop();
    }
  }
  // the real agent: once (its one-at-a-time installs take ~20 ms each)
  await withScaleLab('access', async (_lab, ns) => {
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), namespace: ns('ar'), clientInterfaces: ['eth0'], log: pino({ level: 'silent' }), limits: { maxBsids: 1_000_000, maxInFlight: 10_000 }, sweepMs: 3_600_000 });
    await ar.start();
    try {
      await once(ctx, 'LocalAccessRouter (access lab), no store', n, ar);
    } finally {
      await ar.stop();
    }
  });
}
