import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isSrError } from '../core/errors.js';
import { loadPlotting, plotSpec, renderSvg } from './plot.js';
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
