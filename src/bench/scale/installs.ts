/**
 * BSID route installs at one access router: `LocalAccessRouter` inside the `access` lab's `ar`
 * namespace (the same object `srv6pipes access-router` serves), filled up to `max` BSIDs with
 * `concurrency` installs in flight (the controller under a burst of new clients) and, at each level,
 * a short window of one-at-a-time installs (a controller that waits for each, e.g. a sequential
 * re-pointing). Every command the agent runs is timed by kind: where the time goes. Then `list()`
 * and the kernel's own listing (`ip -6 route show`) at the top, the host's Slab growth per route,
 * and `stop()` (every route removed).
 */
import { pino } from 'pino';
import { run } from '../../sys/run.js';
import { parsePrefix } from '../../net/ip6.js';
import { LocalAccessRouter, type Runner } from '../../access-router/local.js';
import type { BsidPolicy } from '../../access-router/api.js';
import { meminfoKb, nowMs, nthAddress, pool, withScaleLab, type ScaleContext } from './common.js';

export interface InstallsOptions {
  /** BSIDs installed at the end (default 100 000; quick 5 000) */
  max: number;
  /** installs in flight while filling */
  concurrency: number;
  /** the levels (installed BSIDs) at which rates are reported */
  levels: number[];
}

/** a timed runner: wall time and count per command kind ('route get', 'route replace', 'nft -f', 'ip -batch', …) */
function timedRunner(): { runner: Runner; byKind: Map<string, { n: number; ms: number }> } {
  const byKind = new Map<string, { n: number; ms: number }>();
  const runner: Runner = async (argv, input) => {
    const inner = argv[0] === 'ip' && argv[1] === 'netns' ? argv.slice(4) : argv;
    const words = inner.filter((w) => !w.startsWith('-') || w === '-batch' || w === '-f');
    const kind = inner.includes('-batch') ? 'ip -batch' : `${words[0]} ${words.slice(1, 3).join(' ')}`;
    const t = nowMs();
    try {
      return await run(argv, input);
    } finally {
      const e = byKind.get(kind) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += nowMs() - t;
      byKind.set(kind, e);
    }
  };
  return { runner, byKind };
}

const policy = (i: number): BsidPolicy => ({
  bsid: nthAddress('fc00:f::', i + 1),
  source: { prefix: nthAddress('fc00:1::', i + 16), length: 128 },
  // alternate between the two replicas' first segments, as a controller with two paths would
  segments: [i % 2 === 0 ? 'fc00:a::1:0:0' : 'fc00:b::1:0:0', 'fc00:c::2:0:0'],
  expiresAt: Date.now() + 3_600_000,
  key: `bench/${i}`,
});

export async function measureInstalls(ctx: ScaleContext, o: InstallsOptions, label: string): Promise<void> {
  await withScaleLab('access', async (_lab, ns) => {
    const { runner, byKind } = timedRunner();
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), namespace: ns('ar'), clientInterfaces: ['eth0'], log: pino({ level: 'silent' }), runner, limits: { maxBsids: 1_000_000, maxInFlight: 10_000 }, sweepMs: 3_600_000 });
    await ar.start();
    const slab0 = await meminfoKb('Slab');
    let installed = 0;
    const seqWindow = ctx.quick ? 50 : 200;
    try {
      for (const level of o.levels.filter((l) => l <= o.max)) {
        // fill up to `level` with `concurrency` in flight; the rate of the last (up to) 1000 is the level's
        const fill = level - installed - seqWindow;
        if (fill > 0) {
          const head = Math.max(0, fill - 1000);
          if (head > 0) {
            ctx.say(`installs (${label}): filling ${installed} → ${installed + head}`);
            const base = installed;
            await pool(head, o.concurrency, (i) => ar.install(policy(base + i)));
            installed += head;
          }
          const n = fill - head;
          const base = installed;
          const t = nowMs();
          const lat = await pool(n, o.concurrency, (i) => ar.install(policy(base + i)));
          const s = (nowMs() - t) / 1000;
          installed += n;
          ctx.record({ part: 'installs', config: `${label}, ${o.concurrency} in flight`, at: `${level}`, metric: 'installs/s', unit: '1/s' }, n / s);
          lat.sort((a, b) => a - b);
          ctx.record({ part: 'installs', config: `${label}, ${o.concurrency} in flight`, at: `${level}`, metric: 'install p50', unit: 'ms' }, lat[lat.length >> 1]!);
        }
        // one at a time (a batch of one: what every install cost before batching), its commands timed apart
        byKind.clear();
        const base = installed;
        const t = nowMs();
        const lat = await pool(seqWindow, 1, (i) => ar.install(policy(base + i)));
        installed += seqWindow;
        ctx.record({ part: 'installs', config: `${label}, one at a time`, at: `${level}`, metric: 'installs/s', unit: '1/s' }, seqWindow / ((nowMs() - t) / 1000));
        lat.sort((a, b) => a - b);
        ctx.record({ part: 'installs', config: `${label}, one at a time`, at: `${level}`, metric: 'install p50', unit: 'ms' }, lat[lat.length >> 1]!);
        for (const [kind, e] of [...byKind].sort((a, b) => b[1].ms - a[1].ms)) {
          ctx.record({ part: 'installs', config: `${label}, one at a time`, at: `${level}`, metric: `\`${kind}\` per call`, unit: 'ms' }, e.ms / e.n);
        }
        ctx.say(`installs (${label}): ${installed} installed`);
      }
      const slab1 = await meminfoKb('Slab');
      ctx.record({ part: 'installs', config: label, at: `${installed}`, metric: 'host Slab growth per route', unit: 'B' }, ((slab1 - slab0) * 1024) / installed);
      let t = nowMs();
      const listed = (await ar.list()).length;
      ctx.record({ part: 'installs', config: label, at: `${listed}`, metric: 'list()', unit: 'ms' }, nowMs() - t);
      t = nowMs();
      // the kernel's own listing (what a restarted agent reads), counted without holding it
      const shown = await run(['sh', '-c', `ip netns exec ${ns('ar')} ip -6 -j route show | wc -c`]);
      ctx.record({ part: 'installs', config: label, at: `${listed}`, metric: 'ip -6 -j route show', unit: 'ms' }, nowMs() - t);
      ctx.note(`installs (${label}): ip -6 -j route show at ${listed} BSIDs: ${(Number(shown.stdout.trim()) / 1e6).toFixed(1)} MB of JSON`);
      // where the time went (the last level's one-at-a-time window)
      const total = [...byKind.values()].reduce((a, e) => a + e.ms, 0);
      for (const [kind, e] of [...byKind].sort((a, b) => b[1].ms - a[1].ms)) {
        ctx.note(`installs (${label}): \`${kind}\` ran ${e.n}× , ${(e.ms / e.n).toFixed(2)} ms each, ${((100 * e.ms) / total).toFixed(0)}% of command time`);
      }
      // the cost of a process alone: `ip netns exec NS ip -V` (no netlink)
      t = nowMs();
      for (let i = 0; i < 20; i++) await run(['ip', 'netns', 'exec', ns('ar'), 'ip', '-V']);
      ctx.record({ part: 'installs', config: label, at: '-', metric: 'one `ip netns exec … ip -V`', unit: 'ms' }, (nowMs() - t) / 20);
    } finally {
      const t = nowMs();
      await ar.stop();
      ctx.record({ part: 'installs', config: label, at: `${installed}`, metric: 'stop() (all removed)', unit: 's' }, (nowMs() - t) / 1000);
    }
  });
}
