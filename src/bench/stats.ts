/** Medians with min/max, and per-repetition ratios of pairs measured in the same run. */
import type { Point, Ratio, Stat } from './types.js';

export function summarize(values: number[]): Stat {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

/** Percentile (0..100) of a sample, nearest rank. */
export function percentile(values: number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const rank = Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1));
  return v[rank]!;
}

/** For every (scenario, x, metric) where both series exist: value_i(num) / value_i(den) per repetition i. */
export function ratios(points: Point[], figure: string, pairs: [string, string][]): Ratio[] {
  const out: Ratio[] = [];
  const key = (p: Point) => `${p.scenario}\u0000${p.x}\u0000${p.metric}`;
  const by = new Map<string, Map<string, Point>>();
  for (const p of points) {
    if (p.figure !== figure) continue;
    const m = by.get(key(p)) ?? new Map<string, Point>();
    m.set(p.series, p);
    by.set(key(p), m);
  }
  for (const [num, den] of pairs) {
    for (const m of by.values()) {
      const a = m.get(num);
      const b = m.get(den);
      if (!a || !b) continue;
      const n = Math.min(a.values.length, b.values.length);
      const r: number[] = [];
      for (let i = 0; i < n; i++) if (b.values[i]! > 0) r.push(a.values[i]! / b.values[i]!);
      out.push({ figure, scenario: a.scenario, x: a.x, metric: a.metric, num, den, stat: summarize(r) });
    }
  }
  return out;
}

/** Adds one repetition's value to the point (creating it). */
export function record(points: Point[], p: Omit<Point, 'values'>, value: number): void {
  let found = points.find((q) => q.figure === p.figure && q.scenario === p.scenario && q.series === p.series && q.x === p.x && q.metric === p.metric);
  if (!found) {
    found = { ...p, values: [] };
    points.push(found);
  }
  found.values.push(value);
}
