/** Fig. 6 — raw throughput in the Fig. 5 lab: m1 as a router, an srv6pipes proxy (copy), HAProxy
 *  (transparent), interleaved within each repetition, for every page size and link shaping. */
import { haproxy, router, srv6pipesProxy, steer, type Contender } from './contenders.js';
import { FIG5, shapedTopology, sid } from './labs.js';
import { measurePages } from './measure.js';
import { startLighttpd } from './pages.js';
import type { BenchContext, Figure, Point } from './types.js';

export const fig6: Figure = {
  id: 'fig6',
  title: 'Fig. 6 — Raw throughput: router vs srv6pipes (copy) vs HAProxy',
  what: 'wrk downloads pages of each size from lighttpd through m1; m1 forwards (router), relays with the `copy` function (srv6pipes) or relays with HAProxy in transparent mode.',
  plannedRuns: (p) => p.shapings.length * p.reps * 3 * p.sizes.length,
  plots: (p) =>
    p.shapings.flatMap((s) => [
      { file: `fig6-${s}-throughput.svg`, title: `Fig. 6 (${s}): throughput`, scenario: s, metric: 'throughput', kind: 'bars' as const },
      { file: `fig6-${s}-requests.svg`, title: `Fig. 6 (${s}): requests per second`, scenario: s, metric: 'requests', kind: 'bars' as const },
    ]),
  ratios: [
    ['proxy', 'router'],
    ['proxy', 'haproxy'],
    ['haproxy', 'router'],
  ],
  async run(ctx: BenchContext): Promise<Point[]> {
    const points: Point[] = [];
    const p = ctx.params;
    for (const shaping of p.shapings) {
      if (ctx.aborted()) break;
      await ctx.withLab(shapedTopology('fig5', shaping), async (lab) => {
        await startLighttpd(lab, FIG5.server, ctx.work, p.sizes);
        const contenders: Contender[] = [
          router(FIG5.m1),
          srv6pipesProxy(lab, FIG5.m1, FIG5.locator, [{ id: 1, function: 'copy' }], ctx.work, { relay: ctx.params.relay }),
          haproxy(lab, FIG5.m1, FIG5.locator, ctx.work),
        ];
        for (let rep = 0; rep < p.reps && !ctx.aborted(); rep++) {
          for (const c of contenders) {
            if (ctx.aborted()) break;
            ctx.progress(`fig6 ${shaping} rep ${rep + 1}/${p.reps}: starting ${c.kind}`);
            await c.start();
            try {
              await steer(lab, FIG5.client, FIG5.serverAddr, FIG5.gateway, c.kind === 'router' ? [] : [sid(FIG5.locator, 1)]);
              await measurePages(ctx, lab, FIG5.serverAddr, { figure: 'fig6', scenario: shaping, series: c.kind }, p.sizes, points);
            } finally {
              await c.stop();
            }
          }
        }
      });
    }
    return points;
  },
};
