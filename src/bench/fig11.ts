/** Fig. 11 — two XOR proxies (an inverse pair, same key) vs two routers, in the Fig. 1 lab with
 *  every link shaped to 1 Gb/s. */
import { router, srv6pipesProxy, steer, type Contender } from './contenders.js';
import { FIG1, shapedTopology, sid } from './labs.js';
import { measurePages } from './measure.js';
import { startLighttpd } from './pages.js';
import type { BenchContext, Figure, Point } from './types.js';

const KEY = 0x5a;
export const FIG11_SHAPING = '1gbit';

export const fig11: Figure = {
  id: 'fig11',
  title: 'Fig. 11 — two chained XOR proxies vs two routers (links at 1 Gb/s)',
  what: 'The Fig. 1 lab (client — p1 — p2 — server), every link shaped to 1 Gb/s with tbf; p1 and p2 either forward (routers) or run srv6pipes `xor` with the same key, so p2 undoes p1 and the server serves plaintext.',
  plannedRuns: (p) => p.reps * 2 * p.sizes.length,
  plots: () => [
    { file: 'fig11-throughput.svg', title: 'Fig. 11: two XOR proxies vs two routers, 1 Gb/s links', scenario: FIG11_SHAPING, metric: 'throughput', kind: 'bars' },
  ],
  ratios: [['xor proxies', 'routers']],
  async run(ctx: BenchContext): Promise<Point[]> {
    const points: Point[] = [];
    const p = ctx.params;
    await ctx.withLab(shapedTopology('fig1', FIG11_SHAPING), async (lab) => {
      await startLighttpd(lab, 'server', ctx.work, p.sizes);
      const pair: Contender[] = [
        srv6pipesProxy(lab, 'p1', FIG1.locatorP1, [{ id: 2, function: 'xor' }], ctx.work, { relay: ctx.params.relay }),
        srv6pipesProxy(lab, 'p2', FIG1.locatorP2, [{ id: 2, function: 'xor' }], ctx.work, { relay: ctx.params.relay }),
      ];
      const modes = [
        { name: 'routers', contenders: [router('p1'), router('p2')], segs: [] as string[] },
        { name: 'xor proxies', contenders: pair, segs: [sid(FIG1.locatorP1, 2, KEY), sid(FIG1.locatorP2, 2, KEY)] },
      ];
      for (let rep = 0; rep < p.reps && !ctx.aborted(); rep++) {
        for (const m of modes) {
          if (ctx.aborted()) break;
          ctx.progress(`fig11 rep ${rep + 1}/${p.reps}: starting ${m.name}`);
          try {
            for (const c of m.contenders) await c.start();
            await steer(lab, 'client', FIG1.serverAddr, FIG1.gateway, m.segs);
            await measurePages(ctx, lab, FIG1.serverAddr, { figure: 'fig11', scenario: FIG11_SHAPING, series: m.name }, p.sizes, points);
          } finally {
            for (const c of m.contenders) await c.stop();
          }
        }
      }
    });
    return points;
  },
};
