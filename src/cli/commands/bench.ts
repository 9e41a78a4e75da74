import { duration, flag, int, list, text } from '../options.js';
import { command, type CommandSpec } from '../spec.js';

export const BENCH_COMMANDS: CommandSpec[] = [
  command({
    name: 'bench',
    summary: 'Benchmarks of the paper’s §V (Figs. 6–9, 11, connection cost) in namespace labs; JSON, SVG and Markdown results',
    options: {
      out: text('--out <dir>', 'results folder (results.json, *.svg, summary.md)', 'results/bench'),
      quick: flag('--quick', 'a small subset (about a minute): 1 repetition, 2 page sizes, unshaped only, 1 s runs'),
      figures: list('--figures <ids>', 'comma-separated subset: fig6,fig7,fig8,fig9,xorkernel,fig11,setup,memory'),
      // ranges: bench/params.ts (BAD_ARGUMENT naming the flag)
      reps: int('--reps <n>', 'repetitions per point (full: 3, quick: 1)'),
      duration: int('--duration <s>', 'seconds per wrk run (full: 3, quick: 1; Figs. 7/8 full: 2)'),
      warmup: int('--warmup <s>', 'warm-up seconds per contender start (default 1)'),
      connections: int('--connections <n>', 'wrk connections (default 32)'),
      threads: int('--threads <n>', 'wrk threads (default 2)'),
      sizes: list('--sizes <list>', 'page sizes, e.g. 1KB,10KB,100KB,1MB,10MB'),
      shaping: list('--shaping <list>', 'Fig. 6 link shapings, e.g. unshaped,1gbit,10gbit'),
      cc: text('--cc <name>', 'Figs. 7/8: TCP congestion control in the lab (cubic, reno, bbr, default; default cubic)'),
      single: flag('--single', 'setup and memory figures: also the proxy at workers: 0 (one process; contender proxy-single), interleaved with the 2-worker proxy and HAProxy'),
      replot: text('--replot <dir>', 'run nothing: make the SVGs and summary.md of a results folder again from its results.json'),
      relay: text('--relay <js|native|native-late>', 'how srv6pipes relays flows: native (default: the relay thread in the addon carries copy, xor, meter and ratelimit flows), native-late (the same without early onward connects: nativeRelay.connectEarly false) or js (nativeRelay: off)'),
    },
    async run(_args, opts) {
      const { replot: dir, ...rest } = opts;
      if (dir !== undefined) {
        const { replot } = await import('../../bench/replot.js');
        for (const f of await replot(dir)) console.log(`${dir}/${f}`);
        return 0;
      }
      const { runBench, paramsFromOptions } = await import('../../bench/index.js');
      const { out, figures, ...params } = rest;
      return runBench({ params: paramsFromOptions(params), out, ...(figures.length ? { figures } : {}) });
    },
  }),
  command({
    name: 'soak',
    summary: 'Soak test: N flows held through the Fig. 1 chain, a SYN flood meanwhile, every flow checked by sha256 (docs/security.md)',
    options: {
      flows: int('--flows <n>', 'concurrent flows (default 10000)'),
      hold: duration('--hold <duration>', 'how long the flows are held, e.g. 120s, 5m (a bare number: seconds)', { unit: 's', min: 1000, max: 3_600_000, default: '120s' }),
      flood: duration('--flood <duration>', 'SYN flood at p1 (unknown function) during the hold, e.g. 30s (a bare number: seconds)', { unit: 's', max: 3_600_000, default: '30s' }),
      bytes: int('--bytes <n>', 'bytes per flow each way, half at open, half at the end (default 16384)'),
      workers: int('--workers <n>', 'workers per proxy (default 2)'),
      out: text('--out <dir>', 'results folder (soak.json, summary.md, proxy logs)', 'results/soak'),
    },
    async run(_args, opts) {
      const { runSoak, soakParams } = await import('../../bench/soak.js');
      const { flows, hold, flood, bytes, workers, out } = opts;
      return runSoak(soakParams({ hold, flood, out, ...(flows !== undefined ? { flows } : {}), ...(bytes !== undefined ? { bytes } : {}), ...(workers !== undefined ? { workers } : {}) }));
    },
  }),
];
