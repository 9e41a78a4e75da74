import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogLimiter } from './log-limit.js';

function limiter(burst: number, intervalMs: number) {
  let t = 1000;
  const summaries: [string, number][] = [];
  const l = new LogLimiter({ burst, intervalMs, now: () => t, timer: false }, (k, n) => summaries.push([k, n]));
  return { l, summaries, advance: (ms: number) => (t += ms) };
}

test('the first `burst` events per key and window pass, the rest are counted and summarised once', () => {
  const { l, summaries, advance } = limiter(3, 1000);
  const passed = Array.from({ length: 10 }, () => l.allow('FLOW_NOT_OURS')).filter(Boolean).length;
  assert.equal(passed, 3);
  assert.equal(l.allow('FLOW_NO_SRH'), true, 'keys are independent');
  assert.deepEqual(summaries, []);
  advance(999);
  l.flush();
  assert.deepEqual(summaries, [], 'not before the window ends');
  advance(1);
  assert.equal(l.allow('FLOW_NOT_OURS'), true, 'a new window');
  assert.deepEqual(summaries, [['FLOW_NOT_OURS', 7]]);
  l.flush(true);
  assert.deepEqual(summaries, [['FLOW_NOT_OURS', 7]], 'nothing suppressed in the new window: no summary');
});

test('flush emits the summary of a window that is over even with no further event; stop emits the rest', () => {
  const { l, summaries, advance } = limiter(1, 500);
  l.allow('a');
  l.allow('a');
  l.allow('b');
  l.allow('b');
  l.allow('b');
  advance(600);
  l.flush();
  assert.deepEqual(summaries.sort(), [['a', 1], ['b', 2]]);
  l.allow('c');
  l.allow('c');
  l.stop();
  assert.deepEqual(summaries.at(-1), ['c', 1]);
});

test('the timer emits the summary on its own', async () => {
  const summaries: [string, number][] = [];
  const l = new LogLimiter({ burst: 1, intervalMs: 50 }, (k, n) => summaries.push([k, n]));
  for (let i = 0; i < 5; i++) l.allow('k');
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(summaries, [['k', 4]]);
  l.stop();
});

test('bad options are refused', () => {
  assert.throws(() => new LogLimiter({ burst: 0, intervalMs: 10 }, () => undefined), RangeError);
  assert.throws(() => new LogLimiter({ burst: 1, intervalMs: 0 }, () => undefined), RangeError);
});
