/** SVG plots with vega-lite (compiled to vega, rendered headless): grouped bars or lines of the
 *  medians, with min–max rules, shaped like the paper's figures. */
import * as vega from 'vega';
import * as vl from 'vega-lite';
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

/** The vega-lite spec of one plot (exported for tests and for readers who want to restyle it). */
export function plotSpec(points: Point[], figure: string, spec: PlotSpec, xTitle: string): Record<string, unknown> {
  const { rows, unit, xOrder } = plotRows(points, figure, spec);
  const x = { field: 'x', type: 'ordinal', sort: xOrder, title: xTitle, axis: { labelAngle: 0 } };
  const y = { field: 'median', type: 'quantitative', title: `${spec.metric} (${unit}), median` };
  const color = { field: 'series', type: 'nominal', title: null };
  const layer =
    spec.kind === 'bars'
      ? [
          { mark: 'bar', encoding: { x, xOffset: { field: 'series' }, y, color } },
          { mark: { type: 'rule', color: 'black' }, encoding: { x, xOffset: { field: 'series' }, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
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

export async function renderSvg(vlSpec: Record<string, unknown>): Promise<string> {
  const compiled = vl.compile(vlSpec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
