import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { pino } from 'pino';
import { makeFlowContext, validateOptions } from '../../vf/context.js';
import { MemoryMetrics } from '../../vf/metrics-memory.js';
import { initFunction, runFlow, runFunction } from '../../vf/testing.js';
import { isSyncTransform, type SyncTransform } from '../../vf/types.js';
import { clientPrefix, meter } from './index.js';

/** a flow spawned directly, from a given client */
function spawnFrom(metrics: MemoryMetrics, raw: unknown, argument: bigint, client: string) {
  const options = validateOptions(meter.options, raw);
  const abort = new AbortController();
  const facts = { flowId: 1, functionId: 3, argument, sid: 'fc00:a::1', client: { address: client, port: 5000 }, server: { address: 'fc00:2::2', port: 80 }, path: ['fc00:a::1', 'fc00:2::2'], position: 0 };
  const t = meter.spawn(makeFlowContext(facts, options, undefined, { log: pino({ level: 'silent' }), metrics, signal: abort.signal, reset: () => undefined }));
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
  assert.deepEqual((await initFunction(meter, {})).options, { prefixLength: 64, perArgument: true });
  await assert.rejects(initFunction(meter, { prefixLength: 129 }), /options\.prefixLength/);
  await assert.rejects(initFunction(meter, { perArgument: 'yes' }), /options\.perArgument/);
});
