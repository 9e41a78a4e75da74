/**
 * Memory per BSID: the controller's heap and RSS growth per binding (1k, 10k, 100k: BsidManager
 * driven directly, an agent that keeps nothing), without a store and on a one-member etcd on
 * loopback, and etcd's own growth per binding (db size, RSS). Bindings are added cumulatively, 64
 * at a time, and measured after a full GC.
 */
import { memoryUsage } from 'node:process';
import { EtcdBsidStore } from '../../controller/store/etcd.js';
import { pino } from 'pino';
import { nowMs, pool, type ScaleContext } from './common.js';
import { gc, manager, NullAgent, request } from './controller-side.js';
import { startLoopbackEtcd } from '../../controller/store/test-etcd.js';

/** the measurements fill etcd past its default 2 GB quota */
const QUOTA = ['--quota-backend-bytes', String(4 * 1024 ** 3)];

export async function measureMemory(ctx: ScaleContext, levels: number[]): Promise<void> {
  for (let rep = 0; rep < ctx.reps; rep++) {
    for (const config of ['no store', 'etcd (1 member, loopback)'] as const) {
      const etcd = config === 'no store' ? undefined : await startLoopbackEtcd(QUOTA);
      const store = etcd ? new EtcdBsidStore(etcd.client(10_000), '/scale', pino({ level: 'silent' })) : undefined;
      try {
        gc();
        const heap0 = memoryUsage().heapUsed;
        const rss0 = memoryUsage().rss;
        const db0 = etcd ? await etcd.dbSize() : undefined;
        const erss0 = etcd?.rss();
        const m = manager(new NullAgent(), store);
        let bound = 0;
        for (const level of [...levels].sort((a, b) => a - b)) {
          const base = bound;
          const t = nowMs();
          const lat = await pool(level - bound, 64, (i) => m.bind(request(base + i)));
          ctx.record({ part: 'memory', config, at: `${level}`, metric: 'binds/s (new keys, 64 at once, null agent)', unit: '1/s' }, lat.length / ((nowMs() - t) / 1000));
          bound = level;
          gc();
          ctx.record({ part: 'memory', config, at: `${level}`, metric: 'controller heap per binding', unit: 'B' }, (memoryUsage().heapUsed - heap0) / level);
          ctx.record({ part: 'memory', config, at: `${level}`, metric: 'controller RSS per binding', unit: 'B' }, (memoryUsage().rss - rss0) / level);
          if (etcd && db0 && erss0 !== undefined) {
            const db = await etcd.dbSize();
            ctx.record({ part: 'memory', config, at: `${level}`, metric: 'etcd db size per binding', unit: 'B' }, (db.dbSize - db0.dbSize) / level);
            ctx.record({ part: 'memory', config, at: `${level}`, metric: 'etcd db in use per binding', unit: 'B' }, (db.inUse - db0.inUse) / level);
            ctx.record({ part: 'memory', config, at: `${level}`, metric: 'etcd RSS per binding', unit: 'B' }, (etcd.rss() - erss0) / level);
          }
          ctx.say(`memory (${config}): ${level} bound`);
        }
        if (m.list().length !== bound) ctx.note(`memory (${config}): ${m.list().length} bindings held, ${bound} asked for`);
      } finally {
        await store?.close();
        await etcd?.stop();
      }
    }
  }
}
