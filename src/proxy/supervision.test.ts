import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proxyHealth, RestartBackoff } from './supervision.js';

test('issue 15: a worker that keeps dying is restarted after 100, 200, 400 … ms, at most maxDelay; counted; reset once it ran stableMs', () => {
  let now = 0;
  const b = new RestartBackoff({ delayMs: 100, maxDelayMs: 1000, stableMs: 60_000 }, () => now);
  b.up(0);
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    now += 10;
    const d = b.died(0);
    delays.push(d);
    now += d;
    b.up(0);
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  assert.equal(b.restarts, 6);
  // another worker has its own streak
  b.up(1);
  assert.equal(b.died(1), 100);
  // a worker that ran a stable period starts again from the first delay
  now += 60_000;
  assert.equal(b.died(0), 100);
  // restarts that fail before the worker is up keep backing off (no up() in between)
  assert.equal(b.died(0), 200);
  now += 120_000;
  assert.equal(b.died(0), 400);
  assert.equal(b.restarts, 10);
});

test('issue 15: /health is 200 only when every worker listens, the host configuration is applied and the proxy is not draining', () => {
  const base = { draining: false, workersWanted: 2, workersListening: 2, restarting: new Map<number, number>(), hostConfigured: true, restarts: 0 };
  assert.deepEqual(proxyHealth(base), { status: 200, body: { ok: true, ready: true, workers: 2, workersWanted: 2, restarts: 0, draining: false } });
  const down = proxyHealth({ ...base, workersListening: 1, restarting: new Map([[1, 1400]]), restarts: 3 }, 1000);
  assert.deepEqual(down, { status: 503, body: { ok: false, ready: false, reason: '1 of 2 workers listening (restarting: worker 1 in 400 ms)', workers: 1, workersWanted: 2, restarts: 3, draining: false } });
  assert.equal(proxyHealth({ ...base, draining: true }).body.reason, 'draining: the proxy is stopping and takes no new flows');
  assert.equal(proxyHealth({ ...base, hostConfigured: false }).status, 503);
  assert.equal(proxyHealth({ ...base, hostConfigured: false }).body.reason, 'the host configuration (netconf) is not applied');
});
