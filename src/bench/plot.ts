/** SVG plots with vega-lite (compiled to vega, rendered headless): grouped bars or lines of the
 *  medians, with min–max rules, shaped like the paper's figures.
 *  vega and vega-lite (with d3 & co., half of the installed packages) are optional dependencies, only
 *  for these plots: imported on first use, never when the CLI, the proxy or the SDK load. */
import type * as Vega from 'vega';
import type * as VegaLite from 'vega-lite';
import { SrError } from '../core/errors.js';
import { summarize } from './stats.js';
import type { PlotSpec, Point } from './types.js';

export interface PlotRow {
  x: string;
  series: string;
  median: number;
  min: number;
  max: number;
}

export function plotRows(points: Point[], figure: string, spec: PlotSpec): { rows: PlotRow[]; unit: string; xOrder: string[] } {
  const sel = points.filter((p) => p.figure === figure && p.scenario === spec.scenario && p.metric === spec.metric);
  const xOrder = [...new Set(sel.map((p) => p.x))];
  const rows = sel.map((p) => {
    const s = summarize(p.values);
    return { x: p.x, series: p.series, median: s.median, min: s.min, max: s.max };
  });
  return { rows, unit: sel[0]?.unit ?? '', xOrder };
}

/** One colour per contender in every figure: the contenders' series (and their derived series such
 *  as `proxy added`) keep these whatever else a plot shows; other series take the rest of the
 *  palette in legend order. */
const CONTENDER_COLOURS: ReadonlyArray<readonly [string, string]> = [
  ['router', '#4c78a8'],
  ['routers', '#4c78a8'],
  ['proxy', '#f58518'],
  ['xor proxies', '#f58518'],
  ['haproxy', '#54a24b'],
  ['proxy-single', '#b279a2'],
];
const OTHER_COLOURS = ['#e45756', '#72b7b2', '#eeca3b', '#ff9da6', '#9d755d', '#bab0ac', '#17becf', '#8c564b', '#bcbd22', '#7f7f7f'];

/** Legend order: numbers inside names compare as numbers (`xor 2 passes` before `xor 16 passes`). */
export function seriesOrder(series: Iterable<string>): string[] {
  return [...new Set(series)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/** The colour of each series of one plot, stable across plots for the contenders. */
export function seriesColours(series: Iterable<string>): { domain: string[]; range: string[] } {
  const domain = seriesOrder(series);
  const fixed = new Map(CONTENDER_COLOURS);
  let next = 0;
  const range = domain.map((name) => fixed.get(name) ?? fixed.get(name.replace(/ added$/, '')) ?? OTHER_COLOURS[next++ % OTHER_COLOURS.length]!);
  return { domain, range };
}

/** The vega-lite spec of one plot (exported for tests and for readers who want to restyle it). */
export function plotSpec(points: Point[], figure: string, spec: PlotSpec, xTitle: string): Record<string, unknown> {
  const { rows, unit, xOrder } = plotRows(points, figure, spec);
  const x = { field: 'x', type: 'ordinal', sort: xOrder, title: xTitle, axis: { labelAngle: 0 } };
  const y = { field: 'median', type: 'quantitative', title: `${spec.metric} (${unit}), median` };
  const { domain, range } = seriesColours(rows.map((r) => r.series));
  const color = { field: 'series', type: 'nominal', title: null, sort: domain, scale: { domain, range } };
  const layer =
    spec.kind === 'bars'
      ? [
          { mark: 'bar', encoding: { x, xOffset: { field: 'series', sort: domain }, y, color } },
          { mark: { type: 'rule', color: 'black' }, encoding: { x, xOffset: { field: 'series', sort: domain }, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
        ]
      : [
          { mark: { type: 'line', point: true }, encoding: { x, y, color } },
          { mark: { type: 'rule' }, encoding: { x, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' }, color } },
        ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: spec.title,
    width: 420,
    height: 260,
    background: 'white',
    data: { values: rows },
    layer,
  };
}

export interface Plotting {
  vega: typeof Vega;
  vl: typeof VegaLite;
}

/** how a module is imported: `import()` itself, or a stand-in (tests inject a failing one) */
export type Importer = (specifier: string) => Promise<unknown>;

/**
 * vega and vega-lite, imported on use (Node caches them after the first time). Either one missing
 * (`npm install --omit=optional`, or removed) is PLOT_DEPS_MISSING: one line and the hint; any other
 * failure to load them is rethrown as it is.
 */
export async function loadPlotting(importer: Importer = (s) => import(s)): Promise<Plotting> {
  const modules: Record<string, unknown> = {};
  for (const name of ['vega', 'vega-lite']) {
    try {
      modules[name] = await importer(name);
    } catch (e) {
      const code = (e as { code?: unknown } | null)?.code;
      if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw e;
      throw new SrError('PLOT_DEPS_MISSING', `bench plots need the optional package ${name}: ${String((e as Error).message).split('\n')[0]}`, { cause: e });
    }
  }
  return { vega: modules['vega'] as typeof Vega, vl: modules['vega-lite'] as typeof VegaLite };
}

export async function renderSvg(vlSpec: Record<string, unknown>, importer?: Importer): Promise<string> {
  const { vega, vl } = await loadPlotting(importer);
  const compiled = vl.compile(vlSpec as unknown as VegaLite.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
