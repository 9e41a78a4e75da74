import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { mergeStats, RetainedStats, StatsBook, type ProxyStats } from './stats.js';

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

/** Every counter of a merged snapshot, flattened (flowsActive is a gauge: left out). */
function counters(s: ProxyStats): Map<string, number> {
  const m = new Map<string, number>([['accepted', s.accepted]]);
  for (const [k, v] of Object.entries(s.rejected)) m.set(`rejected.${k}`, v);
  for (const [k, v] of Object.entries(s.bugs ?? {})) m.set(`bugs.${k}`, v);
  for (const [k, v] of Object.entries(s.workerExits ?? {})) m.set(`exits.${k}`, v);
  for (const f of s.functions) {
    m.set(`fn${f.functionId}.flowsTotal`, f.flowsTotal);
    m.set(`fn${f.functionId}.bytesUp`, f.bytesUp);
    for (const [k, v] of Object.entries(f.endings)) m.set(`fn${f.functionId}.endings.${k}`, v);
  }
  return m;
}

test('retained totals: a dead worker’s counters stay in the sums, its active flows end as worker_exit (issue 12 item 17)', () => {
  const r = new RetainedStats();
  const w1 = {};
  const w2 = {};
  const a = new StatsBook();
  const f = a.fn(1, 'copy');
  f.flowsTotal = 5;
  f.flowsActive = 2;
  f.endings['ok'] = 3;
  a.accepted = 5;
  a.reject('FLOW_NOT_OURS');
  const b = new StatsBook();
  b.fn(1, 'copy').flowsTotal = 1;
  b.accepted = 1;
  r.merge([[w1, a.snapshot()], [w2, b.snapshot()]]);
  r.retire(w1, 'SIGKILL');
  const m = r.merge([[w2, b.snapshot()]]);
  assert.equal(m.accepted, 6);
  assert.deepEqual(m.rejected, { FLOW_NOT_OURS: 1 });
  assert.equal(m.functions[0]!.flowsTotal, 6);
  assert.equal(m.functions[0]!.flowsActive, 0);
  assert.deepEqual(m.functions[0]!.endings, { ok: 3, worker_exit: 2 });
  assert.deepEqual(m.workerExits, { SIGKILL: 1 });
  // a final snapshot (newer than the last scrape) wins over the last one seen
  const c = new StatsBook();
  c.accepted = 9;
  r.merge([[w2, c.snapshot()]]);
  const fin = new StatsBook();
  fin.accepted = 12;
  r.retire(w2, 'exit 70', fin.snapshot());
  assert.equal(r.merge([]).accepted, 5 + 12);
});

test('property: through any sequence of scrapes, worker deaths and restarts, no counter goes down', () => {
  const step = fc.oneof(
    fc.record({ kind: fc.constant('work' as const), w: fc.nat(2), fn: fc.integer({ min: 1, max: 2 }), n: fc.integer({ min: 0, max: 5 }), code: fc.constantFrom('FLOW_LIMIT' as const, 'FLOW_NO_SRH' as const) }),
    fc.record({ kind: fc.constant('scrape' as const) }),
    fc.record({ kind: fc.constant('die' as const), w: fc.nat(2), final: fc.boolean() }),
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      const r = new RetainedStats();
      const live: { id: object; book: StatsBook }[] = [0, 1, 2].map(() => ({ id: {}, book: new StatsBook() }));
      let before = new Map<string, number>();
      for (const s of steps) {
        if (s.kind === 'work') {
          const b = live[s.w]!.book;
          const f = b.fn(s.fn, 'copy');
          f.flowsTotal += s.n;
          f.flowsActive += s.n;
          const done = Math.min(f.flowsActive, 1);
          f.flowsActive -= done;
          f.endings['ok'] = (f.endings['ok'] ?? 0) + done;
          f.bytesUp += s.n * 100;
          b.accepted += s.n;
          b.reject(s.code);
        } else if (s.kind === 'die') {
          const dead = live[s.w]!;
          r.retire(dead.id, 'SIGKILL', s.final ? dead.book.snapshot() : undefined);
          live[s.w] = { id: {}, book: new StatsBook() };
        } else {
          const now = counters(r.merge(live.map((l) => [l.id, l.book.snapshot()])));
          for (const [k, v] of before) assert.ok((now.get(k) ?? 0) >= v, `${k}: ${v} → ${now.get(k)}`);
          before = now;
        }
      }
    }),
    { numRuns: 500 },
  );
});
