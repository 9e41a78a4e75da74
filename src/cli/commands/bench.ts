import type { CommandSpec } from '../spec.js';

export const BENCH_COMMANDS: CommandSpec[] = [
  {
    name: 'bench',
    summary: 'Benchmarks of the paper’s §V (Figs. 6–9, 11, connection cost) in namespace labs; JSON, SVG and Markdown results',
    options: [
      { flags: '--out <dir>', description: 'results folder (results.json, *.svg, summary.md)', default: 'results/bench' },
      { flags: '--quick', description: 'a small subset (about a minute): 1 repetition, 2 page sizes, unshaped only, 1 s runs' },
      { flags: '--figures <ids>', description: 'comma-separated subset: fig6,fig7,fig8,fig9,xorkernel,fig11,setup,memory' },
      { flags: '--reps <n>', description: 'repetitions per point (full: 3, quick: 1)' },
      { flags: '--duration <s>', description: 'seconds per wrk run (full: 3, quick: 1; Figs. 7/8 full: 2)' },
      { flags: '--warmup <s>', description: 'warm-up seconds per contender start (default 1)' },
      { flags: '--connections <n>', description: 'wrk connections (default 32)' },
      { flags: '--threads <n>', description: 'wrk threads (default 2)' },
      { flags: '--sizes <list>', description: 'page sizes, e.g. 1KB,10KB,100KB,1MB,10MB' },
      { flags: '--shaping <list>', description: 'Fig. 6 link shapings, e.g. unshaped,1gbit,10gbit' },
      { flags: '--cc <name>', description: 'Figs. 7/8: TCP congestion control in the lab (cubic, reno, bbr, default; default cubic)' },
    ],
    async run(_args, opts) {
      const { runBench, paramsFromOptions } = await import('../../bench/index.js');
      const figures = opts['figures'] === undefined ? undefined : String(opts['figures']).split(',').map((s) => s.trim()).filter(Boolean);
      return runBench({ params: paramsFromOptions(opts), out: String(opts['out']), ...(figures ? { figures } : {}) });
    },
  },
  {
    name: 'soak',
    summary: 'Soak test: N flows held through the Fig. 1 chain, a SYN flood meanwhile, every flow checked by sha256 (docs/security.md)',
    options: [
      { flags: '--flows <n>', description: 'concurrent flows (default 10000)' },
      { flags: '--hold <duration>', description: 'how long the flows are held, e.g. 120s, 5m (default 120s)' },
      { flags: '--flood <duration>', description: 'SYN flood at p1 (unknown function) during the hold (default 30s)' },
      { flags: '--bytes <n>', description: 'bytes per flow each way, half at open, half at the end (default 16384)' },
      { flags: '--workers <n>', description: 'workers per proxy (default 2)' },
      { flags: '--out <dir>', description: 'results folder (soak.json, summary.md, proxy logs)', default: 'results/soak' },
    ],
    async run(_args, opts) {
      const { runSoak, soakParams } = await import('../../bench/soak.js');
      return runSoak(soakParams(opts));
    },
  },
];
