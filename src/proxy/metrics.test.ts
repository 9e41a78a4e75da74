import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { VERSION } from '../core/version.js';
import type { ProxyFlow } from './flow.js';
import { FlowObserver } from './flow-metrics.js';
import { exposition, primaryProcessMetrics, RetainedMetrics, WorkerMetrics, type MetricsJson } from './metrics.js';
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

test('srv6pipes_flows_accepted_total counts the started flows by function; build_info is 1 with the versions; restarts are counted', async () => {
  const stats: ProxyStats = {
    functions: [
      { functionId: 1, function: 'copy', flowsTotal: 5, flowsActive: 2, bytesUp: 0, bytesDown: 0, endings: { ok: 3 } },
      { functionId: 2, function: 'xor', flowsTotal: 4, flowsActive: 0, bytesUp: 0, bytesDown: 0, endings: { ok: 4 } },
    ],
    rejected: {},
    accepted: 9,
  };
  const { text } = await exposition(stats, {}, [], 2, { restarts: 3 });
  assert.match(text, /^# TYPE srv6pipes_flows_accepted_total counter$/m);
  assert.match(text, /^srv6pipes_flows_accepted_total\{fn="1",function="copy"\} 5$/m);
  assert.match(text, /^srv6pipes_flows_accepted_total\{fn="2",function="xor"\} 4$/m);
  const info = /^srv6pipes_build_info\{version="([^"]+)",node="([^"]+)",native="(built|prebuilt|missing)"\} 1$/m.exec(text);
  assert.ok(info, text);
  assert.equal(info[1], VERSION);
  assert.equal(info[2], process.versions.node);
  assert.match(text, /^srv6pipes_worker_restarts_total 3$/m);
});

test("each process's own series (process_*, nodejs_*) are kept apart by the label process, none merged or dropped", async () => {
  const worker = new Registry();
  collectDefaultMetrics({ register: worker, labels: { process: 'worker-0' } });
  const primary = await primaryProcessMetrics();
  const { text } = await exposition({ functions: [], rejected: {}, accepted: 0 }, {}, [(await worker.getMetricsAsJSON()) as object[]], 1, { process: primary });
  for (const p of ['primary', 'worker-0']) {
    assert.match(text, new RegExp(`^process_cpu_user_seconds_total\\{process="${p}"\\} [0-9.e-]+$`, 'm'));
    assert.match(text, new RegExp(`^process_resident_memory_bytes\\{process="${p}"\\} [0-9]+$`, 'm'));
    // prom-client's cluster mode would drop this one (aggregator omit) and average the lag
    assert.match(text, new RegExp(`^process_start_time_seconds\\{process="${p}"\\} [0-9]+$`, 'm'));
    assert.match(text, new RegExp(`^nodejs_eventloop_lag_p99_seconds\\{process="${p}"\\} [0-9.e-]+$`, 'm'));
    assert.match(text, new RegExp(`^nodejs_heap_size_used_bytes\\{process="${p}"\\} [0-9]+$`, 'm'));
  }
});

test("the flows' histograms are summed bucket-wise across workers, and a worker that ended keeps its share: the counts never go down", async () => {
  const w1 = new WorkerMetrics();
  const w2 = new WorkerMetrics();
  const o1 = new FlowObserver(w1, 0, null);
  const o2 = new FlowObserver(w2, 1, null);
  const flow = (startedAt: number, relay: 'js' | 'native') => ({ startedAt, flow: { relayKind: relay } }) as unknown as ProxyFlow;
  const now = performance.now();
  o1.closed(flow(now - 2, 'js')); // ~2 ms
  o1.closed(flow(now - 2000, 'js')); // ~2 s
  o2.closed(flow(now - 0.5, 'native'));
  o2.opened(flow(now - 0.3, 'native'));
  const retained = new RetainedMetrics();
  const stats: ProxyStats = { functions: [], rejected: {}, accepted: 0 };
  const read = async (live: [object, MetricsJson][]) => (await exposition(stats, {}, retained.merge(live))).text;
  const sample = (text: string, series: string): number => {
    const m = new RegExp(`^${series.replace(/[{}".+]/g, (c) => `\\${c}`)} ([0-9.e+-]+)$`, 'm').exec(text);
    assert.ok(m, `${series} in\n${text}`);
    return Number(m[1]);
  };
  let text = await read([[w1, await w1.snapshot()], [w2, await w2.snapshot()]]);
  assert.match(text, /^# TYPE srv6pipes_flow_duration_seconds histogram$/m);
  assert.equal(sample(text, 'srv6pipes_flow_duration_seconds_count{relay="js"}'), 2);
  assert.equal(sample(text, 'srv6pipes_flow_duration_seconds_bucket{le="0.005",relay="js"}'), 1);
  assert.equal(sample(text, 'srv6pipes_flow_duration_seconds_bucket{le="5",relay="js"}'), 2);
  assert.equal(sample(text, 'srv6pipes_flow_duration_seconds_bucket{le="+Inf",relay="native"}'), 1);
  assert.equal(sample(text, 'srv6pipes_flow_connect_seconds_count{relay="native"}'), 1);
  // worker 0 ends; worker 1 goes on and sees one more flow: nothing goes down
  await retained.retire(w1);
  o2.closed(flow(performance.now() - 1, 'js'));
  text = await read([[w2, await w2.snapshot()]]);
  assert.equal(sample(text, 'srv6pipes_flow_duration_seconds_count{relay="js"}'), 3);
  assert.equal(sample(text, 'srv6pipes_flow_duration_seconds_bucket{le="0.005",relay="js"}'), 2);
  assert.equal(sample(text, 'srv6pipes_flow_duration_seconds_bucket{le="5",relay="js"}'), 3);
  assert.ok(sample(text, 'srv6pipes_flow_duration_seconds_sum{relay="js"}') >= 2.003);
});
