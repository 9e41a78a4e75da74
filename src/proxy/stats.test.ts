import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeStats, StatsBook } from './stats.js';

test('worker snapshots add up per function', () => {
  const a = new StatsBook();
  const fa = a.fn(2, 'xor');
  fa.flowsTotal = 3;
  fa.bytesUp = 10;
  fa.endings['ok'] = 3;
  a.reject('FLOW_UNKNOWN_FUNCTION');
  a.accepted = 3;
  const b = new StatsBook();
  const fb = b.fn(2, 'xor');
  fb.flowsTotal = 1;
  fb.flowsActive = 1;
  fb.endings['client_reset'] = 1;
  b.fn(1, 'copy').flowsTotal = 5;
  b.reject('FLOW_UNKNOWN_FUNCTION');
  b.accepted = 6;
  const m = mergeStats([a.snapshot(), b.snapshot()]);
  assert.equal(m.accepted, 9);
  assert.deepEqual(m.rejected, { FLOW_UNKNOWN_FUNCTION: 2 });
  assert.deepEqual(m.functions.map((f) => [f.functionId, f.flowsTotal, f.flowsActive]), [[1, 5, 0], [2, 4, 1]]);
  assert.deepEqual(m.functions[1]!.endings, { ok: 3, client_reset: 1 });
  assert.equal(a.snapshot().functions[0]!.endings['ok'], 3, 'snapshots are copies');
});
