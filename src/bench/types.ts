/** Shared shapes of the benchmark suite: measured points, figures, the run context. */
import type { Lab } from '../lab/index.js';
import type { Topology } from '../lab/index.js';

/** One measured quantity of one series at one x, over the repetitions (values[i] = repetition i). */
export interface Point {
  figure: string;
  /** e.g. 'unshaped', '1gbit' */
  scenario: string;
  /** the contender or variant: 'router', 'proxy', 'haproxy', 'xor n=2' */
  series: string;
  /** e.g. page size '1KB' */
  x: string;
  metric: string;
  unit: string;
  values: number[];
}

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

export interface Ratio {
  figure: string;
  scenario: string;
  x: string;
  metric: string;
  num: string;
  den: string;
  /** per-repetition ratios of pairs measured in the same run */
  stat: Stat;
}

export interface PlotSpec {
  file: string;
  title: string;
  scenario: string;
  metric: string;
  /** bars (grouped by series) or lines (one per series) */
  kind: 'bars' | 'lines';
}

export interface BenchParams {
  quick: boolean;
  reps: number;
  durationS: number;
  warmupS: number;
  threads: number;
  connections: number;
  sizes: string[];
  /** link shapings for Fig. 6: 'unshaped' or a tc rate such as '1gbit' */
  shapings: string[];
  /** Fig. 9: XOR passes = 2n for these n */
  xorN: number[];
  /** idle flow counts for the memory-per-flow measurement */
  idleFlows: number[];
  /** sequential connections for the setup-latency measurement */
  setupConnections: number;
  /** Figs. 7/8: seconds per wrk run (shorter than durationS by default: the full run's time budget) */
  lossDurationS: number;
  /** Figs. 7/8: TCP congestion control in the lab's hosts ('default': the kernel's) */
  congestionControl: string;
  /** how the srv6pipes contender relays `copy` flows: the JavaScript relay, or the native relay thread (`nativeRelay`) */
  relay: BenchRelay;
  /** setup and memory figures: also the proxy at `workers: 0` (contender `proxy-single`), interleaved with the others */
  single: boolean;
}

export const BENCH_RELAYS = ['js', 'native', 'native-late'] as const;
export type BenchRelay = (typeof BENCH_RELAYS)[number];

export interface BenchContext {
  params: BenchParams;
  /** a temporary directory (pages, configs, scripts), removed at the end */
  work: string;
  /** progress: one line about what runs now */
  progress(what: string): void;
  /** counts one measurement run (for the progress line) */
  tick(): void;
  /** brings a lab up, runs fn, takes the lab down (also on Ctrl-C) */
  withLab<T>(topo: Topology, fn: (lab: Lab) => Promise<T>): Promise<T>;
  /** true once SIGINT/SIGTERM arrived: stop at the next step */
  aborted(): boolean;
  /** free-form notes for the report (placement, caveats) */
  note(line: string): void;
}

export interface Figure {
  id: string;
  title: string;
  /** what it measures, one or two sentences (report and docs) */
  what: string;
  /** how many wrk-sized runs it will do (progress estimate) */
  plannedRuns(p: BenchParams): number;
  run(ctx: BenchContext): Promise<Point[]>;
  plots(p: BenchParams): PlotSpec[];
  /** [numerator series, denominator series] pairs for the ratio table */
  ratios: [string, string][];
}
