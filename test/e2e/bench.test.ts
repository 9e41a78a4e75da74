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
import { checkPing, expectedPath, parsePing } from '../../src/bench/fig78.js';
import { isSrError } from '../../src/core/errors.js';
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
  assert.throws(() => paramsFromOptions({ reps: 0 }), (e) => isSrError(e, 'BAD_ARGUMENT'));
  assert.throws(() => paramsFromOptions({ sizes: ['3GB'] }), (e) => isSrError(e, 'BAD_ARGUMENT'));
  assert.throws(() => paramsFromOptions({ shaping: ['fast'] }), (e) => isSrError(e, 'BAD_ARGUMENT'));
  assert.throws(() => paramsFromOptions({ cc: 'vegas' }), (e) => isSrError(e, 'BAD_ARGUMENT'));
  assert.equal(paramsFromOptions({ cc: 'bbr' }).congestionControl, 'bbr');
  assert.equal(paramsFromOptions({}).relay, 'native', 'the proxy\'s default relay unless asked');
  assert.equal(paramsFromOptions({ relay: 'js' }).relay, 'js');
  assert.throws(() => paramsFromOptions({ relay: 'splice' }), (e) => isSrError(e, 'BAD_ARGUMENT') && /--relay/.test(e.message));
  assert.equal(defaultParams(false).congestionControl, 'cubic');
  assert.equal(paramsFromOptions({}).single, false, 'the default runs stay comparable: no proxy-single contender unless asked');
  assert.equal(paramsFromOptions({ single: true }).single, true);
  assert.equal(paramsFromOptions({ duration: 5 }).lossDurationS, 5);
});

test('bench Figs. 7/8 helpers: expected RTT and loss of a path, ping summaries, the link check', () => {
  const fig7 = expectedPath([{ delay: '25ms', loss: '1%' }, { delay: '25ms', loss: '1%' }]);
  assert.equal(fig7.rttMs, 100);
  assert.ok(Math.abs(fig7.loss - (1 - 0.99 ** 4)) < 1e-12);
  const fig8 = expectedPath([undefined, { delay: '50ms', loss: '2%' }]);
  assert.equal(fig8.rttMs, 100);
  assert.ok(Math.abs(fig8.loss - (1 - 0.98 ** 2)) < 1e-12);
  const ping = parsePing('--- x ping statistics ---\n1000 packets transmitted, 961 received, 3.9% packet loss, time 2100ms\nrtt min/avg/max/mdev = 100.211/101.502/130.020/1.2 ms, pipe 50\n');
  assert.deepEqual(ping, { sent: 1000, received: 961, minMs: 100.211, avgMs: 101.502, maxMs: 130.02 });
  assert.deepEqual(parsePing('10 packets transmitted, 0 received, 100% packet loss, time 9ms\n')?.received, 0);
  assert.equal(parsePing('ping: connect: Network is unreachable'), undefined);
  assert.equal(checkPing(ping!, fig7), undefined);
  assert.match(checkPing({ ...ping!, minMs: 60 }, fig7)!, /below the configured/);
  assert.match(checkPing({ ...ping!, minMs: 140 }, fig7)!, /far above/);
  assert.match(checkPing({ ...ping!, received: 999 }, fig7)!, /pings lost/);
  assert.match(checkPing({ ...ping!, received: 800 }, fig7)!, /pings lost/);
  assert.match(checkPing({ ...ping!, received: 0 }, fig7)!, /no reply/);
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
    assert.deepEqual(json.figures.map((f) => f.id), ['fig6', 'fig7', 'fig8', 'fig9', 'xorkernel', 'fig11', 'setup', 'memory']);
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
    positive('fig7', 'throughput');
    positive('fig8', 'throughput');
    positive('fig7', 'ping RTT min');
    for (const f of ['fig7', 'fig8']) {
      const series = new Set(points.filter((p) => p.figure === f && p.metric === 'throughput').map((p) => p.series));
      assert.deepEqual([...series].sort(), ['proxy', 'router'], f);
    }
    positive('fig9', 'throughput');
    positive('xorkernel', 'speed');
    positive('fig11', 'throughput');
    positive('setup', 'setup p50');
    positive('memory', 'RSS');
    const series6 = new Set(points.filter((p) => p.figure === 'fig6').map((p) => p.series));
    assert.deepEqual([...series6].sort(), ['haproxy', 'proxy', 'router']);
    for (const svg of ['fig6-unshaped-throughput.svg', 'fig7-throughput.svg', 'fig8-throughput.svg', 'fig9-throughput.svg', 'fig11-throughput.svg', 'xorkernel.svg', 'setup-p50.svg', 'memory.svg']) {
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
