import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { validateOptions } from '../../sdk/context.js';
import { MemoryMetrics } from '../../sdk/metrics-memory.js';
import { initFunction, runFlow, runFunction, spawnFlow } from '../../sdk/testing.js';
import { isSyncTransform, type SyncTransform } from '../../sdk/types.js';
import { clientPrefix, meter } from './index.js';
import { LabelBudget, OTHER_LABELS } from './labels.js';

/** a flow spawned directly, from a given client */
function spawnFrom(metrics: MemoryMetrics, raw: unknown, argument: bigint, client: string, budget?: LabelBudget) {
  const options = validateOptions(meter.options, raw);
  const { transforms: t, abort } = spawnFlow(meter, options, budget ?? new LabelBudget(options.maxSeries), { functionId: 3, argument, client: { address: client, port: 5000 }, metrics });
  assert.ok(isSyncTransform(t.upstream) && isSyncTransform(t.downstream));
  return { up: t.upstream as SyncTransform, down: t.downstream as SyncTransform, end: () => (t.close?.(), abort.abort()) };
}

test('meter: counts bytes per direction, argument and client prefix; data unchanged', async () => {
  const up = [randomBytes(1000), randomBytes(1), randomBytes(70_000)];
  const down = randomBytes(123_456);
  const r = await runFunction(meter, { argument: 7n, upstream: up, downstream: down });
  assert.equal(r.reset, undefined);
  assert.ok(r.upstream.equals(Buffer.concat(up)));
  assert.ok(r.downstream.equals(down));
  const l = { argument: '7', client_prefix: 'fc00:1::/64' };
  assert.equal(r.metrics.get('meter_bytes_total', { direction: 'up', ...l }), 71_001);
  assert.equal(r.metrics.get('meter_bytes_total', { direction: 'down', ...l }), 123_456);
  assert.equal(r.metrics.get('meter_flows_total', l), 1);
  assert.equal(r.metrics.get('meter_active_flows', l), 0);
});

test('meter: flows of one instance add up per argument', async () => {
  const metrics = new MemoryMetrics();
  const inst = await initFunction(meter, {}, metrics);
  for (const [argument, n] of [[1n, 10], [2n, 20], [1n, 30]] as const) {
    await runFlow(meter, inst.options, inst.state, { argument, upstream: Buffer.alloc(n), downstream: Buffer.alloc(1) }, metrics);
  }
  const at = (argument: string) => ({ argument, client_prefix: 'fc00:1::/64' });
  assert.equal(metrics.get('meter_bytes_total', { direction: 'up', ...at('1') }), 40);
  assert.equal(metrics.get('meter_bytes_total', { direction: 'up', ...at('2') }), 20);
  assert.equal(metrics.get('meter_bytes_total', { direction: 'down', ...at('1') }), 2);
  assert.equal(metrics.get('meter_flows_total', at('1')), 2);
  assert.equal(metrics.get('meter_flows_total', at('2')), 1);
});

test('meter: clients aggregate by prefixLength; perArgument false empties the argument label', () => {
  const metrics = new MemoryMetrics();
  const opts = { prefixLength: 48, perArgument: false };
  const a = spawnFrom(metrics, opts, 5n, 'fc00:1:2:3::10');
  const b = spawnFrom(metrics, opts, 6n, 'fc00:1:2:ffff::20');
  const c = spawnFrom(metrics, opts, 5n, 'fc00:9::1');
  const same = { argument: '', client_prefix: 'fc00:1:2::/48' };
  const other = { argument: '', client_prefix: 'fc00:9::/48' };
  assert.equal(metrics.get('meter_active_flows', same), 2);
  const chunk = Buffer.from('hello');
  assert.equal(a.up.data(chunk), chunk, 'the same buffer is passed on, untouched');
  b.up.data(Buffer.alloc(10));
  b.down.data(Buffer.alloc(3));
  c.down.data(Buffer.alloc(7));
  assert.equal(metrics.get('meter_bytes_total', { direction: 'up', ...same }), 15);
  assert.equal(metrics.get('meter_bytes_total', { direction: 'down', ...same }), 3);
  assert.equal(metrics.get('meter_bytes_total', { direction: 'down', ...other }), 7);
  assert.equal(metrics.get('meter_flows_total', same), 2);
  a.end();
  a.end(); // close() and the abort signal both fire: counted once
  assert.equal(metrics.get('meter_active_flows', same), 1);
  b.end();
  c.end();
  assert.equal(metrics.get('meter_active_flows', same), 0);
  assert.equal(metrics.get('meter_active_flows', other), 0);
});

test('meter: clientPrefix', () => {
  assert.equal(clientPrefix('fc00:1:2:3:4:5:6:7', 64), 'fc00:1:2:3::/64');
  assert.equal(clientPrefix('fc00:1:2:3:4:5:6:7', 128), 'fc00:1:2:3:4:5:6:7/128');
  assert.equal(clientPrefix('fc00:1:2:3:4:5:6:7', 0), '::/0');
  assert.equal(clientPrefix('fc00:1:2:3:4:5:6:7', 20), 'fc00::/20');
  assert.equal(clientPrefix('[2001:db8::1]', 32), '2001:db8::/32');
  assert.equal(clientPrefix('10.0.0.1', 64), 'unknown');
});

test('meter options: defaults and errors', async () => {
  assert.deepEqual((await initFunction(meter, {})).options, { prefixLength: 64, perArgument: true, maxSeries: 100 });
  await assert.rejects(initFunction(meter, { prefixLength: 129 }), /options\.prefixLength/);
  await assert.rejects(initFunction(meter, { perArgument: 'yes' }), /options\.perArgument/);
  await assert.rejects(initFunction(meter, { maxSeries: 1e6 }), /options\.maxSeries/);
});

test('meter: label sets are bounded: 20k distinct arguments make at most maxSeries + 1 label sets (issue 12 item 14)', async () => {
  for (const raw of [{}, { maxSeries: 10 }, { maxSeries: 10, prefixLength: 128 }]) {
    const metrics = new MemoryMetrics();
    const inst = await initFunction(meter, raw, metrics);
    const n = inst.options.maxSeries;
    for (let a = 0; a < 20_000; a++) {
      const f = spawnFrom(metrics, raw, BigInt(a) * 65_537n, `fc00:${(a % 2) + 1}::${(a % 7).toString(16)}`, inst.state);
      f.up.data(Buffer.alloc(3));
      f.down.data(Buffer.alloc(1));
      f.end();
    }
    assert.equal(metrics.values.get('meter_flows_total')!.size, n + 1, `label sets for ${JSON.stringify(raw)}`);
    assert.equal(metrics.values.get('meter_active_flows')!.size, n + 1);
    assert.equal(metrics.values.get('meter_bytes_total')!.size, 2 * (n + 1), 'up and down per label set');
    // the first n pairs keep their own series; the rest add up under other
    assert.equal(metrics.get('meter_flows_total', { argument: '0', client_prefix: raw.prefixLength === 128 ? 'fc00:1::/128' : 'fc00:1::/64' }), 1);
    assert.equal(metrics.get('meter_flows_total', OTHER_LABELS), 20_000 - n);
    assert.equal(metrics.get('meter_bytes_total', { direction: 'up', ...OTHER_LABELS }), 3 * (20_000 - n));
    assert.equal(metrics.get('meter_active_flows', OTHER_LABELS), 0);
  }
});

test('meter: a label set already admitted keeps its series after the budget is full', () => {
  const b = new LabelBudget(2);
  assert.deepEqual(b.labelsFor('1', 'p'), { argument: '1', client_prefix: 'p' });
  assert.deepEqual(b.labelsFor('2', 'p'), { argument: '2', client_prefix: 'p' });
  assert.equal(b.labelsFor('3', 'p'), OTHER_LABELS);
  assert.deepEqual(b.labelsFor('1', 'p'), { argument: '1', client_prefix: 'p' });
  assert.equal(b.size, 2);
  assert.equal(b.overflowed, 1);
  assert.equal(new LabelBudget(0).labelsFor('1', 'p'), OTHER_LABELS);
});
