import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isSrError } from '../core/errors.js';
import { loadPlotting, plotSpec, renderSvg, seriesColours, seriesOrder } from './plot.js';
import type { Point } from './types.js';

const BIN = fileURLToPath(new URL('../../../bin/srv6pipes', import.meta.url));

/** A module hook that makes vega, vega-lite and d3 unresolvable, as after `npm install --omit=optional`. */
const HIDE_PLOTTING = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`export async function resolve(s, c, next) {
  if (/^(vega|vega-lite|d3-[a-z-]+)(\\\\/|$)/.test(s)) { const e = new Error("Cannot find package '" + s + "' (hidden by the test)"); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; }
  return next(s, c);
}\`));`,
)}`;

const POINTS: Point[] = [
  { figure: 'fig6', scenario: 's', series: 'router', x: '1KB', metric: 'rps', unit: 'req/s', values: [10, 12, 11] },
  { figure: 'fig6', scenario: 's', series: 'proxy', x: '1KB', metric: 'rps', unit: 'req/s', values: [8, 9, 9] },
];

test('renderSvg draws an SVG with vega-lite when the optional packages are there', async () => {
  const spec = plotSpec(POINTS, 'fig6', { scenario: 's', metric: 'rps', file: 'f.svg', title: 't', kind: 'bars' }, 'page size');
  assert.match(await renderSvg(spec), /^<svg[\s\S]*<\/svg>$/);
});

test('vega missing: PLOT_DEPS_MISSING, one line naming the package, with the install hint', async () => {
  // a real failed import(): the specifier resolves to nothing, as when the package is not installed
  const importer = (s: string) => import(s === 'vega-lite' ? 'vega-lite-not-installed-srv6pipes-test' : s);
  await assert.rejects(renderSvg({}, importer), (e: unknown) => {
    assert.ok(isSrError(e, 'PLOT_DEPS_MISSING'), String(e));
    assert.equal(e.kind, 'user');
    assert.match(e.message, /^bench plots need the optional package vega-lite: .*vega-lite-not-installed-srv6pipes-test/);
    assert.doesNotMatch(e.message, /\n/);
    assert.match(e.hint, /npm install vega vega-lite/);
    return true;
  });
});

test('any other failure to load vega is not disguised as a missing package', async () => {
  const broken = new TypeError('vega: something else broke');
  await assert.rejects(loadPlotting(() => Promise.reject(broken)), (e) => e === broken);
});

test('without vega, vega-lite and d3 the CLI and the bench code still load: drawing plots is the only use', () => {
  for (const args of [['--version'], ['bench', '--help'], ['functions']]) {
    const r = spawnSync(process.execPath, ['--import', HIDE_PLOTTING, BIN, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `srv6pipes ${args.join(' ')}: ${r.stderr}`);
  }
  // the bench code itself loads (it imports plot.ts); only drawing a plot needs vega
  const bench = spawnSync(process.execPath, ['--import', HIDE_PLOTTING, '--input-type=module', '-e', `await import(${JSON.stringify(new URL('./index.js', import.meta.url).href)})`], { encoding: 'utf8' });
  assert.equal(bench.status, 0, bench.stderr);
  // the hook does hide them (else the checks above prove nothing)
  const probe = spawnSync(process.execPath, ['--import', HIDE_PLOTTING, '--input-type=module', '-e', "await import('vega')"], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../../', import.meta.url)) });
  assert.notEqual(probe.status, 0);
  assert.match(probe.stderr, /hidden by the test/);
});

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
