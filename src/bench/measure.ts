/** The common measurement step: warm up, then one wrk run per page size, recorded as points. */
import type { Lab } from '../lab/index.js';
import { record } from './stats.js';
import type { BenchContext, Point } from './types.js';
import { runWrk } from './wrk.js';

export interface Where {
  figure: string;
  scenario: string;
  series: string;
}

/** wrk from `client` to http://[server]/SIZE.bin for every size; Mb/s, requests/s and p50 latency. */
export async function measurePages(ctx: BenchContext, lab: Lab, server: string, where: Where, sizes: string[], points: Point[]): Promise<void> {
  const p = ctx.params;
  const o = { threads: p.threads, connections: p.connections };
  const url = (s: string) => `http://[${server}]:80/${s}.bin`;
  if (p.warmupS > 0 && sizes.length > 0) {
    ctx.progress(`${where.figure} ${where.scenario} ${where.series}: warm-up`);
    await runWrk(lab, 'client', url(sizes[Math.min(2, sizes.length - 1)]!), ctx.work, { ...o, durationS: p.warmupS });
  }
  for (const size of sizes) {
    if (ctx.aborted()) return;
    ctx.progress(`${where.figure} ${where.scenario} ${where.series} ${size}`);
    const r = await runWrk(lab, 'client', url(size), ctx.work, { ...o, durationS: p.durationS });
    ctx.tick();
    if (r.errors > 0 || r.status > 0) ctx.note(`${where.figure} ${where.scenario} ${where.series} ${size}: wrk saw ${r.errors} socket errors, ${r.status} bad statuses`);
    const base = { ...where, x: size };
    record(points, { ...base, metric: 'throughput', unit: 'Mb/s' }, r.mbps);
    record(points, { ...base, metric: 'requests', unit: 'req/s' }, r.rps);
    // no request completed in the run (a large page over a slow path): there is no latency to report
    record(points, { ...base, metric: 'latency p50', unit: 'ms' }, r.requests > 0 ? r.p50Us / 1000 : NaN);
  }
}
