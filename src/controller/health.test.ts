import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { HealthMonitor } from './health.js';

describe('health checks', () => {
  test('down after `fall` failures, up after `rise` successes; onChange on each transition only', async () => {
    const ok = new Map([['p1', true], ['p2', true]]);
    const changes: string[] = [];
    const h = new HealthMonitor({
      intervalMs: 1000,
      timeoutMs: 100,
      fall: 2,
      rise: 2,
      log: pino({ level: 'silent' }),
      onChange: (n, up) => changes.push(`${n} ${up ? 'up' : 'down'}`),
      probe: (t) => (ok.get(t.node) ? Promise.resolve() : Promise.reject(new Error('refused'))),
    });
    h.setTargets([{ node: 'p1', address: 'fc00::1', port: 7778 }, { node: 'p2', address: 'fc00::2', port: 7778 }]);
    assert.equal(h.isUp('p1'), true, 'optimistic start');
    assert.equal(h.isUp('unchecked'), true, 'a proxy without health checks is up');
    ok.set('p1', false);
    await h.checkAll();
    assert.equal(h.isUp('p1'), true, 'one failure is not enough');
    await h.checkAll();
    assert.equal(h.isUp('p1'), false);
    assert.match(h.status().find((s) => s.node === 'p1')!.lastError!, /refused/);
    await h.checkAll();
    ok.set('p1', true);
    await h.checkAll();
    assert.equal(h.isUp('p1'), false, 'one success is not enough');
    await h.checkAll();
    assert.equal(h.isUp('p1'), true);
    assert.deepEqual(changes, ['p1 down', 'p1 up']);
    h.setTargets([{ node: 'p2', address: 'fc00::2', port: 7778 }]);
    assert.deepEqual(h.status().map((s) => s.node), ['p2']);
  });

  test('the HTTP probe: a closed port fails within the timeout', async () => {
    const h = new HealthMonitor({ intervalMs: 1000, timeoutMs: 300, fall: 1, rise: 1, log: pino({ level: 'silent' }) });
    h.setTargets([{ node: 'p', address: '::1', port: 1 }]);
    const t0 = Date.now();
    await h.checkAll();
    assert.equal(h.isUp('p'), false);
    assert.ok(Date.now() - t0 < 2000);
  });
});
