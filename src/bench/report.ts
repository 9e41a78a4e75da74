/** The results folder: results.json (every repetition, medians, ratios), one SVG per plot and
 *  summary.md (the ratio table first, then per figure medians with min–max). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { plotSpec, renderSvg } from './plot.js';
import { ratios, summarize } from './stats.js';
import type { BenchParams, Figure, Point, Ratio, Stat } from './types.js';

export interface FigureResult {
  figure: Figure;
  points: Point[];
  error?: string;
  seconds: number;
}

export interface RunInfo {
  startedAt: string;
  seconds: number;
  machine: Record<string, string>;
  params: BenchParams;
  notes: string[];
  placement: string;
}

const num = (v: number): string => (!Number.isFinite(v) ? '–' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const cell = (s: Stat): string => (s.n === 0 ? '–' : s.n === 1 ? num(s.median) : `${num(s.median)} (${num(s.min)}–${num(s.max)})`);
const ratioCell = (s: Stat): string => (s.n === 0 ? '–' : s.n === 1 ? s.median.toFixed(2) : `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`);

function allRatios(results: FigureResult[]): Ratio[] {
  return results.flatMap((r) => ratios(r.points, r.figure.id, r.figure.ratios));
}

function ratioTable(rs: Ratio[]): string[] {
  if (rs.length === 0) return ['(no ratios)'];
  const lines = ['| figure | scenario | x | metric | ratio | median (min–max) |', '|---|---|---|---|---|---|'];
  for (const r of rs) lines.push(`| ${r.figure} | ${r.scenario} | ${r.x} | ${r.metric} | ${r.num}/${r.den} | ${ratioCell(r.stat)} |`);
  return lines;
}

function figureTables(r: FigureResult): string[] {
  const out: string[] = [];
  const groups = new Map<string, Point[]>();
  for (const p of r.points) {
    const k = `${p.scenario} — ${p.metric} (${p.unit})`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  for (const [k, ps] of groups) {
    const series = [...new Set(ps.map((p) => p.series))];
    const xs = [...new Set(ps.map((p) => p.x))];
    out.push('', `**${k}**, median (min–max)`, '', `| x | ${series.join(' | ')} |`, `|---|${series.map(() => '---|').join('')}`);
    for (const x of xs) {
      const cells = series.map((s) => {
        const p = ps.find((q) => q.x === x && q.series === s);
        return p ? cell(summarize(p.values)) : '–';
      });
      out.push(`| ${x} | ${cells.join(' | ')} |`);
    }
  }
  return out;
}

export function markdown(results: FigureResult[], info: RunInfo, svgs: Record<string, string[]>): string {
  const p = info.params;
  const rs = allRatios(results);
  const headline = rs.filter((r) => r.metric === 'throughput' || r.metric === 'setup p50' || r.metric === 'setup p99' || r.metric === 'bytes per flow' || r.metric === 'speed');
  const lines = [
    `# srv6pipes bench — ${p.quick ? 'quick' : 'full'} run`,
    '',
    `Started ${info.startedAt}, took ${Math.round(info.seconds)} s. Machine: ${info.machine['cpu']} × ${info.machine['cpus']} CPUs, Linux ${info.machine['kernel']}, Node ${info.machine['node']}; ${info.machine['wrk']}; ${info.machine['lighttpd']}; ${info.machine['haproxy']}; TCP congestion control ${info.machine['tcpCongestionControl'] ?? 'unknown'} (the kernel's default; Figs. 7/8 set their own, see their sections).`,
    '',
    `Method: ${p.reps} repetition(s) of ${p.durationS} s per point after a ${p.warmupS} s warm-up per contender; wrk ${p.threads} threads × ${p.connections} connections; contenders interleaved within each repetition; ratios are medians of per-repetition ratios (same run, same lab); srv6pipes relays with ${p.relay === 'native' ? 'the native relay thread where a flow allows it (`nativeRelay`, the default)' : 'the JavaScript relay only (`nativeRelay: off`, `--relay js`)'}. ${info.placement}`,
    '',
    '## Ratios',
    '',
    ...ratioTable(headline),
  ];
  for (const r of results) {
    lines.push('', `## ${r.figure.title}`, '', r.figure.what, '', `(${Math.round(r.seconds)} s)`);
    if (r.error) lines.push('', `**Failed:** ${r.error}`);
    for (const f of svgs[r.figure.id] ?? []) lines.push('', `![${f}](${f})`);
    lines.push(...figureTables(r));
    const own = rs.filter((x) => x.figure === r.figure.id);
    if (own.length > 0) lines.push('', 'Ratios:', '', ...ratioTable(own));
  }
  if (info.notes.length > 0) lines.push('', '## Notes', '', ...info.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

/** Writes results.json, the SVGs and summary.md into `out`; returns the written file names.
 *  `json: false` leaves results.json as it is (`bench --replot`). */
export async function writeResults(out: string, results: FigureResult[], info: RunInfo, opts: { json?: boolean } = {}): Promise<string[]> {
  mkdirSync(out, { recursive: true });
  const written: string[] = [];
  const svgs: Record<string, string[]> = {};
  for (const r of results) {
    for (const spec of r.figure.plots(info.params)) {
      if (!r.points.some((p) => p.scenario === spec.scenario && p.metric === spec.metric)) continue;
      const xTitle = r.figure.id === 'memory' ? 'idle flows' : r.figure.id === 'xorkernel' ? 'buffer' : r.figure.id === 'setup' ? 'percentile' : 'page size';
      writeFileSync(join(out, spec.file), await renderSvg(plotSpec(r.points, r.figure.id, spec, xTitle)));
      (svgs[r.figure.id] ??= []).push(spec.file);
      written.push(spec.file);
    }
  }
  const json = {
    version: 1,
    ...info,
    figures: results.map((r) => ({
      id: r.figure.id,
      title: r.figure.title,
      what: r.figure.what,
      seconds: r.seconds,
      error: r.error,
      points: r.points.map((p) => ({ ...p, ...summarize(p.values) })),
      ratios: ratios(r.points, r.figure.id, r.figure.ratios),
    })),
  };
  if (opts.json !== false) {
    writeFileSync(join(out, 'results.json'), `${JSON.stringify(json, null, 2)}\n`);
    written.push('results.json');
  }
  writeFileSync(join(out, 'summary.md'), markdown(results, info, svgs));
  written.push('summary.md');
  return written;
}
