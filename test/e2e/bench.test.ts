/**
 * `srv6pipes bench`: the pure helpers (wrk output, stats, options), and ONE smoke run of `--quick`
 * in labs of its own. Never asserts speed: only that it ran and wrote sane, non-zero results.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkEnvironment, defaultParams, paramsFromOptions, runBench } from '../../src/bench/index.js';
import { ratios, summarize } from '../../src/bench/stats.js';
import { parseWrk } from '../../src/bench/wrk.js';
import { sid } from '../../src/bench/labs.js';
import { isSrError } from '../../src/errors.js';
import { listNamespaces } from '../../src/lab/netns.js';

test('bench helpers: wrk JSON line, medians, per-repetition ratios, SIDs, options', () => {
  const w = parseWrk('Running 1s test\nWRKJSON {"requests":10,"bytes":1000,"durationUs":1000000,"errors":0,"status":0,"p50Us":5,"p99Us":9,"meanUs":6.0}\n');
  assert.equal(w?.requests, 10);
  assert.equal(parseWrk('no json here'), undefined);
  assert.deepEqual(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 });
  assert.equal(summarize([1, 2, 3, 4]).median, 2.5);
  const base = { figure: 'f', scenario: 's', x: '1KB', metric: 'throughput', unit: 'Mb/s' };
  const r = ratios([{ ...base, series: 'a', values: [2, 4] }, { ...base, series: 'b', values: [1, 8] }], 'f', [['a', 'b']]);
  assert.deepEqual(r[0]?.stat, { median: 1.25, min: 0.5, max: 2, n: 2 });
  assert.equal(sid('fc00:a::/80', 1), 'fc00:a::1:0:0');
  assert.equal(sid('fc00:b::/80', 18, 0x5a), 'fc00:b::12:0:5a');
  assert.equal(paramsFromOptions({ quick: true }).reps, 1);
  assert.equal(defaultParams(false).reps >= 3, true);
  assert.throws(() => paramsFromOptions({ reps: '0' }), (e) => isSrError(e, 'BAD_ARGUMENT'));
  assert.throws(() => paramsFromOptions({ sizes: '3GB' }), (e) => isSrError(e, 'BAD_ARGUMENT'));
  assert.throws(() => paramsFromOptions({ shaping: 'fast' }), (e) => isSrError(e, 'BAD_ARGUMENT'));
});

interface JsonPoint {
  figure: string;
  series: string;
  metric: string;
  median: number;
  values: number[];
}

test('bench --quick runs every figure and writes JSON, SVG and Markdown', async (t) => {
  try {
    checkEnvironment();
  } catch (e) {
    t.skip(`bench cannot run here: ${(e as Error).message}`);
    return;
  }
  const out = mkdtempSync(join(tmpdir(), 'srv6pipes-bench-test-'));
  const lines: string[] = [];
  try {
    const code = await runBench({ params: defaultParams(true), out, print: (l) => lines.push(l) });
    assert.equal(code, 0, lines.join('\n'));
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { seconds: number; machine: Record<string, string>; figures: { id: string; error?: string; points: JsonPoint[] }[] };
    assert.deepEqual(json.figures.map((f) => f.id), ['fig6', 'fig9', 'xorkernel', 'fig11', 'setup', 'memory']);
    for (const f of json.figures) {
      assert.equal(f.error, undefined, `${f.id}: ${f.error}`);
      assert.ok(f.points.length > 0, `${f.id} has points`);
    }
    const points = json.figures.flatMap((f) => f.points);
    const positive = (figure: string, metric: string) => {
      const sel = points.filter((p) => p.figure === figure && p.metric === metric);
      assert.ok(sel.length > 0, `${figure} ${metric}`);
      for (const p of sel) assert.ok(Number.isFinite(p.median) && p.median > 0, `${figure} ${p.series} ${metric} = ${p.median}`);
    };
    positive('fig6', 'throughput');
    positive('fig6', 'requests');
    positive('fig9', 'throughput');
    positive('xorkernel', 'speed');
    positive('fig11', 'throughput');
    positive('setup', 'setup p50');
    positive('memory', 'RSS');
    const series6 = new Set(points.filter((p) => p.figure === 'fig6').map((p) => p.series));
    assert.deepEqual([...series6].sort(), ['haproxy', 'proxy', 'router']);
    for (const svg of ['fig6-unshaped-throughput.svg', 'fig9-throughput.svg', 'fig11-throughput.svg', 'xorkernel.svg', 'setup-p50.svg', 'memory.svg']) {
      const text = readFileSync(join(out, svg), 'utf8');
      assert.match(text, /^<svg/, svg);
      assert.match(text, /aria-roledescription="(bar|line mark)"/, `${svg} has marks`);
    }
    const md = readFileSync(join(out, 'summary.md'), 'utf8');
    assert.match(md, /## Ratios/);
    assert.match(md, /proxy\/router/);
    assert.match(md, /proxy\/haproxy/);
    // every lab of this run is gone
    const mine = `s6p-bn${process.pid.toString(36)}`;
    assert.deepEqual(listNamespaces().filter((ns) => ns.startsWith(mine)), []);
  } finally {
    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
  }
});
