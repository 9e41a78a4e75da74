/**
 * `srv6pipes bench`: runs the selected figures, one lab per scenario (unique names, taken down in
 * `finally` and on SIGINT/SIGTERM), prints a progress line, writes results.json, SVGs and summary.md.
 */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { SrError } from '../core/errors.js';
import { Lab, type Topology } from '../lab/index.js';
import { FIGURES } from './figures.js';
import { machine } from './labs.js';
import { loadPlotting } from './plot.js';
import { writeResults, type FigureResult } from './report.js';
import type { BenchContext, BenchParams, Figure } from './types.js';

export const REQUIRED_TOOLS = ['wrk', 'lighttpd', 'haproxy', 'nft', 'ip', 'tc', 'ss', 'cc'];

export interface BenchOptions {
  params: BenchParams;
  out: string;
  /** figure ids; default all */
  figures?: string[];
  print?: (line: string) => void;
}

function onPath(tool: string): boolean {
  for (const dir of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

export function checkEnvironment(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new SrError('NOT_ROOT', 'srv6pipes bench builds network namespaces: run it as root');
  const missing = REQUIRED_TOOLS.filter((t) => !onPath(t));
  if (missing.length > 0) {
    throw new SrError('TOOL_MISSING', `srv6pipes bench needs ${missing.join(', ')}`, { hint: 'apt-get install wrk lighttpd haproxy nftables iproute2 gcc' });
  }
}

export function selectFigures(ids: string[] | undefined): Figure[] {
  if (!ids) return FIGURES;
  const known = FIGURES.map((f) => f.id);
  for (const id of ids) if (!known.includes(id)) throw new SrError('BAD_ARGUMENT', `--figures: unknown figure "${id}" (known: ${known.join(', ')})`);
  return FIGURES.filter((f) => ids.includes(f.id));
}

export async function runBench(o: BenchOptions): Promise<number> {
  const print = o.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const figures = selectFigures(o.figures);
  checkEnvironment();
  // the plots need the optional vega packages: PLOT_DEPS_MISSING now, not after a 20-minute run
  await loadPlotting();
  const out = resolve(o.out);
  const work = mkdtempSync(join(tmpdir(), 'srv6pipes-bench-'));
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const p = o.params;
  const planned = figures.reduce((n, f) => n + f.plannedRuns(p), 0);
  const notes: string[] = [];
  const labs = new Set<Lab>();
  let done = 0;
  let aborted = false;
  let counter = 0;
  const tty = process.stderr.isTTY === true;
  const progress = (what: string) => {
    const el = Math.round((Date.now() - t0) / 1000);
    const line = `[${done}/${planned} runs, ${Math.floor(el / 60)}m${String(el % 60).padStart(2, '0')}s] ${what}`;
    if (tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    else process.stderr.write(`${line}\n`);
  };
  const ctx: BenchContext = {
    params: p,
    work,
    progress,
    tick: () => void done++,
    aborted: () => aborted,
    note: (l) => void notes.push(l),
    async withLab(topo: Topology, fn) {
      const name = `bn${process.pid.toString(36)}x${(counter++).toString(36)}`.slice(0, 16);
      const lab = await Lab.up(topo, { name });
      labs.add(lab);
      try {
        return await fn(lab);
      } finally {
        labs.delete(lab);
        await lab.down();
      }
    },
  };
  const onSignal = (sig: string): void => {
    if (aborted) return;
    aborted = true;
    if (tty) process.stderr.write('\n');
    print(`${sig}: stopping, taking ${labs.size} lab(s) down`);
    void Promise.allSettled([...labs].map((l) => l.down())).finally(() => {
      rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  };
  const sigint = () => onSignal('SIGINT');
  const sigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  const results: FigureResult[] = [];
  try {
    print(`srv6pipes bench (${p.quick ? 'quick' : 'full'}): ${figures.map((f) => f.id).join(', ')}; ${planned} measurement runs; results in ${out}`);
    for (const f of figures) {
      if (aborted) break;
      const f0 = Date.now();
      try {
        const points = await f.run(ctx);
        results.push({ figure: f, points, seconds: (Date.now() - f0) / 1000 });
      } catch (e) {
        if (aborted) break;
        const msg = e instanceof Error ? e.message : String(e);
        results.push({ figure: f, points: [], error: msg, seconds: (Date.now() - f0) / 1000 });
        notes.push(`${f.id} failed: ${msg}`);
      }
      if (tty) process.stderr.write('\n');
      const last = results[results.length - 1];
      print(`  ${f.id}: ${last?.error ? `FAILED: ${last.error}` : `${last?.points.length ?? 0} points`} (${Math.round((Date.now() - f0) / 1000)} s)`);
    }
    if (aborted) return 130;
    const info = {
      startedAt,
      seconds: (Date.now() - t0) / 1000,
      machine: machine(),
      params: p,
      notes,
      placement: `CPU placement: no pinning; wrk, lighttpd, the contender on m1 (srv6pipes: 2 workers, and with --single also one process at workers: 0; HAProxy: 2 threads) and the veth softirqs share all ${machine()['cpus']} CPUs of one machine.`,
    };
    const files = await writeResults(out, results, info);
    print(`wrote ${files.length} files to ${out} in ${Math.round(info.seconds)} s: ${files.join(', ')}`);
    return results.some((r) => r.error) ? 1 : 0;
  } finally {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
    if (!aborted) rmSync(work, { recursive: true, force: true });
  }
}
