/** Parameters of a full and a --quick run, and their validation from CLI options. */
import { SrError } from '../core/errors.js';
import { ALL_SIZES, sizeBytes } from './pages.js';
import { BENCH_RELAYS, type BenchParams, type BenchRelay } from './types.js';

/** TCP congestion controls for Figs. 7/8 (the kernel's: `default`). */
export const CONGESTION_CONTROLS = ['cubic', 'reno', 'bbr', 'default'];

export function defaultParams(quick: boolean): BenchParams {
  return quick
    ? { quick, reps: 1, durationS: 1, warmupS: 1, threads: 2, connections: 32, sizes: ['10KB', '1MB'], shapings: ['unshaped'], xorN: [0, 2], idleFlows: [200], setupConnections: 100, lossDurationS: 1, congestionControl: 'cubic', relay: 'native', single: false }
    : { quick, reps: 3, durationS: 3, warmupS: 1, threads: 2, connections: 32, sizes: ALL_SIZES, shapings: ['unshaped', '1gbit', '10gbit'], xorN: [0, 1, 2, 4, 8], idleFlows: [1000, 10000], setupConnections: 500, lossDurationS: 2, congestionControl: 'cubic', relay: 'native', single: false };
}

/** `srv6pipes bench` options, typed (the CLI parses them: src/cli/commands/bench.ts); absent = the mode's default. */
export interface BenchOptions {
  quick?: boolean;
  reps?: number;
  /** seconds per wrk run */
  duration?: number;
  /** seconds */
  warmup?: number;
  connections?: number;
  threads?: number;
  sizes?: readonly string[];
  shaping?: readonly string[];
  cc?: string;
  relay?: string;
  /** also the proxy at workers: 0 in the setup and memory figures */
  single?: boolean;
}

function int(v: number | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < min || v > max) throw new SrError('BAD_ARGUMENT', `--${name}: expected an integer in ${min}..${max}, got ${String(v)}`, { hint: 'see srv6pipes bench --help' });
  return v;
}

function list(v: readonly string[] | undefined, check: (s: string) => void): string[] | undefined {
  if (v === undefined || v.length === 0) return undefined;
  for (const s of v) check(s);
  return [...v];
}

/** Defaults for the mode, overridden by the options given. */
export function paramsFromOptions(opts: BenchOptions): BenchParams {
  const p = defaultParams(opts.quick === true);
  const set = <K extends keyof BenchParams>(k: K, v: BenchParams[K] | undefined) => {
    if (v !== undefined) p[k] = v;
  };
  set('reps', int(opts.reps, 'reps', 1, 100));
  set('durationS', int(opts.duration, 'duration', 1, 600));
  set('lossDurationS', int(opts.duration, 'duration', 1, 600));
  const cc = opts.cc;
  if (cc !== undefined && !CONGESTION_CONTROLS.includes(cc)) throw new SrError('BAD_ARGUMENT', `--cc: "${cc}" is not one of ${CONGESTION_CONTROLS.join(', ')}`);
  set('congestionControl', cc);
  const relay = opts.relay;
  if (relay !== undefined && !(BENCH_RELAYS as readonly string[]).includes(relay)) throw new SrError('BAD_ARGUMENT', `--relay: "${relay}" is not one of ${BENCH_RELAYS.join(', ')}`, { hint: 'native: the relay thread in the addon (the proxy\'s default, nativeRelay); js: every flow on the JavaScript relay (nativeRelay: off); native-late: the native relay without early onward connects (nativeRelay.connectEarly: false)' });
  set('relay', relay as BenchRelay | undefined);
  if (opts.single !== undefined) p.single = opts.single;
  set('warmupS', int(opts.warmup, 'warmup', 0, 60));
  set('connections', int(opts.connections, 'connections', 1, 10000));
  set('threads', int(opts.threads, 'threads', 1, 64));
  set('sizes', list(opts.sizes, (s) => void sizeBytes(s)));
  set(
    'shapings',
    list(opts.shaping, (s) => {
      if (s !== 'unshaped' && !/^\d+(\.\d+)?(mbit|gbit)$/.test(s)) throw new SrError('BAD_ARGUMENT', `--shaping: "${s}" is not unshaped or a rate such as 1gbit`);
    }),
  );
  if (p.threads > p.connections) throw new SrError('BAD_ARGUMENT', '--threads must not exceed --connections (wrk needs a connection per thread)');
  return p;
}
