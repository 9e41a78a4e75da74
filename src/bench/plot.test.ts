import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plotSpec, renderSvg, seriesColours, seriesOrder } from './plot.js';
import type { Point } from './types.js';

function point(figure: string, series: string, x: string, v: number): Point {
  return { figure, scenario: 'unshaped', series, x, metric: 'throughput', unit: 'Mb/s', values: [v, v + 1] };
}

type Layer = { encoding: { color?: { sort: string[]; scale: { domain: string[]; range: string[] } } } };
function colourOf(spec: Record<string, unknown>): Map<string, string> {
  const enc = (spec['layer'] as Layer[])[0]!.encoding.color!;
  return new Map(enc.scale.domain.map((d, i) => [d, enc.scale.range[i]!]));
}

test('legend order: numbers inside names compare as numbers (Fig. 9: 0, 2, 4, 8, 16)', () => {
  const names = [0, 16, 2, 4, 8].map((n) => `xor ${n} passes`);
  assert.deepEqual(seriesOrder(names), ['xor 0 passes', 'xor 2 passes', 'xor 4 passes', 'xor 8 passes', 'xor 16 passes']);
});

test('a contender keeps its colour in every figure, whatever else the plot shows', () => {
  const fig6 = [point('fig6', 'router', '1KB', 1), point('fig6', 'proxy', '1KB', 2), point('fig6', 'haproxy', '1KB', 3)];
  const fig7 = [point('fig7', 'proxy', '1KB', 2), point('fig7', 'router', '1KB', 1)];
  const spec = { scenario: 'unshaped', metric: 'throughput', kind: 'bars' as const, title: 't', file: 'f.svg' };
  const a = colourOf(plotSpec(fig6, 'fig6', spec, 'page size'));
  const b = colourOf(plotSpec(fig7, 'fig7', spec, 'page size'));
  assert.equal(a.get('proxy'), b.get('proxy'));
  assert.equal(a.get('router'), b.get('router'));
  assert.notEqual(a.get('proxy'), a.get('haproxy'));
  // derived series (the setup figure's `X added`) take their contender's colour
  const added = seriesColours(['proxy added', 'haproxy added']);
  assert.equal(added.range[added.domain.indexOf('haproxy added')], seriesColours(['haproxy']).range[0]);
  assert.equal(added.range[added.domain.indexOf('proxy added')], a.get('proxy'));
});

test('other series take distinct colours, and the legend lists them in order', async () => {
  const pts = [16, 0, 2].map((n) => point('fig9', `xor ${n} passes`, '1KB', n));
  const spec = { scenario: 'unshaped', metric: 'throughput', kind: 'bars' as const, title: 't', file: 'f.svg' };
  const vl = plotSpec(pts, 'fig9', spec, 'page size');
  const colours = colourOf(vl);
  assert.equal(new Set(colours.values()).size, 3);
  const svg = await renderSvg(vl);
  const at = (s: string) => svg.indexOf(`>${s}<`);
  assert.ok(at('xor 0 passes') > 0 && at('xor 0 passes') < at('xor 2 passes') && at('xor 2 passes') < at('xor 16 passes'), 'legend in numeric order');
});
