import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { exposition, WorkerMetrics } from './metrics.js';
import type { ProxyStats } from './stats.js';

test("a function's metrics are named srv6pipes_function_* and labelled with its id and name", async () => {
  const w = new WorkerMetrics();
  const m = w.forFunction(7, 'meter');
  m.counter('meter_bytes_total', 'bytes', ['direction']).inc({ direction: 'up' }, 5);
  m.gauge('meter_active_flows', 'active').set({}, 2);
  const { text } = await exposition({ functions: [], rejected: {}, accepted: 0 }, {}, [await w.snapshot()]);
  assert.match(text, /^srv6pipes_function_meter_bytes_total\{direction="up",fn="7",function="meter"\} 5$/m);
  assert.match(text, /^srv6pipes_function_meter_active_flows\{fn="7",function="meter"\} 2$/m);
  assert.doesNotMatch(text, /srv6pipes_vf_|vf="/);
});

test('the core series carry the labels fn and function', async () => {
  const stats: ProxyStats = {
    functions: [{ functionId: 3, function: 'xor', flowsTotal: 2, flowsActive: 1, bytesUp: 10, bytesDown: 20, endings: { ok: 1, server_reset: 1 } }],
    rejected: { FLOW_UNKNOWN_FUNCTION: 4 },
    accepted: 3,
  };
  const { text } = await exposition(stats, { load: 1 }, []);
  assert.match(text, /^srv6pipes_flows_total\{fn="3",function="xor",reason="ok"\} 1$/m);
  assert.match(text, /^srv6pipes_flows_total\{fn="3",function="xor",reason="server_reset"\} 1$/m);
  assert.match(text, /^srv6pipes_flows_active\{fn="3",function="xor"\} 1$/m);
  assert.match(text, /^srv6pipes_bytes_total\{fn="3",function="xor",direction="down"\} 20$/m);
  assert.match(text, /^srv6pipes_function_events_total\{event="load"\} 1$/m);
  assert.doesNotMatch(text, /vf="/);
});

test("a function cannot declare the proxy's own srv6pipes_function_events_total", () => {
  const m = new WorkerMetrics().forFunction(1, 'bad');
  assert.throws(() => m.counter('events_total', 'clash'), (e) => isSrError(e, 'CONFIG_INVALID') && /proxy's own series/.test((e as Error).message));
});
