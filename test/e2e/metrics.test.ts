/**
 * Observability (issue 15 item 7) through a lab proxy: the histograms and counters measured on both
 * relays, each process's own series, and the access log — one JSON line per flow, reopened on SIGHUP
 * after logrotate moved the file.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import type { AccessLine } from '../../src/proxy/access-log.js';
import { missingMetrics } from '../helpers/dashboard.js';
import { BIN, proxyYaml, startProxy, startServer, withLab } from '../helpers/harness.js';

/** copy: carried by the native relay (unless the run forces the JavaScript one); ids: always JavaScript */
const FUNCTIONS = ['{ id: 1, function: copy }', '{ id: 2, function: ids, options: { action: alert, signatures: [ { pattern: NEVER-SEEN-HERE } ] } }'];
const NATIVE = process.env['SRV6PIPES_TEST_RELAY'] === 'js' ? 'js' : 'native';

async function flow(lab: Lab, segment: string, port: number, expectCode = 0): Promise<void> {
  const r = await lab.exec('client', [process.execPath, BIN, 'connect', '--segments', segment, 'fc00:2::2', String(port)], { input: 'x'.repeat(1000), timeoutMs: 10000 });
  assert.equal(r.code, expectCode, r.stderr);
}

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

function lines(path: string): AccessLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AccessLine);
}

async function eventually<T>(what: string, ms: number, get: () => T, ok: (v: T) => boolean): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('metrics and the access log (issue 15 item 7)', () => {
  test('histograms and counters from real flows on both relays; one access-log line per flow; SIGHUP reopens the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-access-'));
    const path = join(dir, 'access.log');
    try {
      await withLab('fig5', async (lab) => {
        const proxy = await startProxy(lab, 'm1', `${proxyYaml('fc00:a::/80', FUNCTIONS)}\naccessLog: { path: ${path} }\nadmin: { address: 127.0.0.1, port: 7778 }`);
        const echo = await startServer(lab, 'server', ['--port', '9001', '--echo']);
        try {
          for (let i = 0; i < 3; i++) await flow(lab, 'fc00:a::1:0:0', 9001);
          for (let i = 0; i < 2; i++) await flow(lab, 'fc00:a::2:0:0', 9001);
          // nobody listens on 9009: the onward connect is refused
          await flow(lab, 'fc00:a::1:0:0', 9009, 1);
          const all = await eventually('six access-log lines', 15000, () => lines(path), (l) => l.length >= 6);
          assert.equal(all.length, 6);
          const ok = all.filter((l) => l.end === 'ok');
          assert.equal(ok.length, 5, JSON.stringify(all));
          for (const l of ok) {
            assert.match(l.client, /^\[fc00:[0-9a-f:]+\]:\d+$/);
            assert.equal(l.server, '[fc00:2::2]:9001');
            assert.equal(l.up, 1000);
            assert.equal(l.down, 1000);
            assert.deepEqual(l.path, [l.fn === 1 ? 'fc00:a::1:0:0' : 'fc00:a::2:0:0', 'fc00:2::2']);
            assert.equal(l.position, 0);
            assert.equal(l.argument, '0');
            assert.ok(l.durationMs > 0 && l.connectMs !== undefined && l.connectMs > 0 && l.connectMs <= l.durationMs, JSON.stringify(l));
            assert.equal(l.relay, l.fn === 1 ? NATIVE : 'js');
            assert.equal(l.function, l.fn === 1 ? 'copy' : 'ids');
            assert.ok(!Number.isNaN(Date.parse(l.time)));
          }
          const refused = all.find((l) => l.end !== 'ok')!;
          assert.equal(refused.end, 'connect_failed');
          assert.equal(refused.code, 'FLOW_CONNECT_FAILED');
          assert.equal(refused.connectMs, undefined);
          assert.equal(refused.server, '[fc00:2::2]:9009');

          const text = (await lab.exec('m1', ['curl', '-s', 'http://127.0.0.1:7778/metrics'])).stdout;
          assert.equal(sample(text, 'srv6pipes_flows_accepted_total{fn="1",function="copy"}'), 4);
          assert.equal(sample(text, 'srv6pipes_flows_accepted_total{fn="2",function="ids"}'), 2);
          // the connect time of the five flows that connected, the duration of all six
          const connected = (r: string): number => (text.includes(`srv6pipes_flow_connect_seconds_count{relay="${r}"}`) ? sample(text, `srv6pipes_flow_connect_seconds_count{relay="${r}"}`) : 0);
          assert.equal(connected('js') + connected('native'), 5);
          if (NATIVE === 'native') assert.equal(connected('native'), 3);
          assert.equal(sample(text, 'srv6pipes_flow_connect_seconds_bucket{le="+Inf",relay="js"}'), connected('js'));
          const durations = ['js', 'native'].reduce((n, r) => n + (text.includes(`srv6pipes_flow_duration_seconds_count{relay="${r}"}`) ? sample(text, `srv6pipes_flow_duration_seconds_count{relay="${r}"}`) : 0), 0);
          assert.equal(durations, 6);
          assert.match(text, /^srv6pipes_build_info\{version="[^"]+",node="[^"]+",native="(built|prebuilt)"\} 1$/m);
          assert.equal(sample(text, 'srv6pipes_worker_restarts_total'), 0);
          for (const p of ['primary', 'worker-0', 'worker-1']) assert.ok(sample(text, `process_resident_memory_bytes{process="${p}"}`) > 0, p);
          // the Grafana dashboard's proxy series are all in this live /metrics
          assert.deepEqual(missingMetrics({ proxy: text }), []);

          // logrotate: the file moved away, SIGHUP, the next flow's line in a new file at the same path
          renameSync(path, `${path}.1`);
          proxy.child.kill('SIGHUP');
          await proxy.out.next((l) => l['msg'] === 'configuration reloaded', 10000, 'the reload after SIGHUP');
          await flow(lab, 'fc00:a::2:0:0', 9001);
          const fresh = await eventually('a line in the reopened file', 10000, () => lines(path), (l) => l.length >= 1);
          assert.equal(fresh.length, 1);
          assert.equal(fresh[0]!.fn, 2);
          assert.equal(lines(`${path}.1`).length, 6);
        } finally {
          echo.stop();
          await proxy.stop();
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
