import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import type { ProxyFlow } from './flow.js';
import { Buckets, FlowObserver } from './flow-metrics.js';
import { WorkerMetrics } from './metrics.js';

test('Buckets: a value equal to a bound is in that bucket (le), one above every bound only in +Inf; cumulative export', () => {
  const b = new Buckets([0.001, 0.01, 1]);
  for (const v of [0.001, 0.005, 0.01, 0.5, 2]) b.observe(v);
  const values = b.values('x', { relay: 'js' }) as { labels: Record<string, unknown>; value: number; metricName: string }[];
  assert.deepEqual(
    values.map((v) => [v.metricName, v.labels['le'], v.value]),
    [
      ['x_bucket', 0.001, 1],
      ['x_bucket', 0.01, 3],
      ['x_bucket', 1, 4],
      ['x_bucket', '+Inf', 5],
      ['x_sum', undefined, 2.516],
      ['x_count', undefined, 5],
    ],
  );
  assert.equal(values[0]!.labels['relay'], 'js');
});

test('a closed flow: its duration observed by relay, its access-log line written from the flow itself', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-observer-'));
  try {
    const path = join(dir, 'access.log');
    const w = new WorkerMetrics();
    const o = new FlowObserver(w, 2, { to: 'file', path, maxBuffer: 1 << 20 });
    const f = {
      id: 2_000_000_001,
      startedAt: performance.now() - 30,
      connectMs: undefined as number | undefined,
      client: { address: 'fc00:1::2', port: 41000 },
      server: { address: 'fc00:2::2', port: 8080 },
      decision: { functionId: 3, entry: { name: 'xor' }, argument: 90n, path: ['fc00:a::3:0:5a', 'fc00:2::2'], position: 0, downstream: { functionId: 4 }, bsid: 'fc00:f::7' },
      flow: { relayKind: 'native', up: { bytesOut: 10 }, down: { bytesOut: 20 }, end: { kind: 'ok' } },
    };
    o.opened(f as unknown as ProxyFlow);
    assert.ok(f.connectMs !== undefined && f.connectMs >= 30);
    o.closed(f as unknown as ProxyFlow);
    await o.close();
    const line = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(line), ['time', 'client', 'server', 'fn', 'function', 'argument', 'downstreamFn', 'path', 'position', 'bsid', 'up', 'down', 'durationMs', 'connectMs', 'end', 'by', 'relay', 'worker', 'flow']);
    assert.equal(line['client'], '[fc00:1::2]:41000');
    assert.equal(line['server'], '[fc00:2::2]:8080');
    assert.equal(line['argument'], '90');
    assert.equal(line['downstreamFn'], 4);
    assert.equal(line['relay'], 'native');
    assert.equal(line['worker'], 2);
    assert.ok((line['durationMs'] as number) >= 30);
    const snap = (await w.snapshot()) as { name: string; values: { metricName: string; labels: Record<string, string>; value: number }[] }[];
    const count = (name: string, relay: string): number | undefined => snap.find((m) => m.name === name)?.values.find((v) => v.metricName === `${name}_count` && v.labels['relay'] === relay)?.value;
    assert.equal(count('srv6pipes_flow_duration_seconds', 'native'), 1);
    assert.equal(count('srv6pipes_flow_duration_seconds', 'js'), 0);
    assert.equal(count('srv6pipes_flow_connect_seconds', 'native'), 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
