/**
 * examples/grafana/srv6pipes.json against live /metrics (issue 15 item 7): the controller's and an
 * access-router agent's listeners in this process, and the proxy's exposition as its admin /metrics
 * route builds it (the workers' registries with the flows' histograms and the access log's counter,
 * the primary's and a worker's process series, the merged counters). test/e2e/metrics.test.ts checks
 * the proxy's names against a lab proxy's /metrics too. Renaming a series fails here.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { DASHBOARD, dashboardQueries, metricNames, missingMetrics } from '../../test/helpers/dashboard.js';
import { fakeRunner } from '../../test/helpers/fake-agent-runner.js';
import { serveAgent } from '../access-router/http.js';
import { LocalAccessRouter } from '../access-router/local.js';
import { ControllerMetrics, serveControllerMetrics } from '../controller/metrics.js';
import { parsePrefix } from '../net/ip6.js';
import { FlowObserver } from '../proxy/flow-metrics.js';
import { exposition, primaryProcessMetrics, WorkerMetrics, type MetricsJson } from '../proxy/metrics.js';

const log = pino({ level: 'silent' });

async function proxyText(dir: string): Promise<string> {
  const w = new WorkerMetrics();
  const observer = new FlowObserver(w, 0, { to: 'file', path: join(dir, 'access.log'), maxBuffer: 1 << 20 });
  await observer.close();
  const worker = new Registry();
  collectDefaultMetrics({ register: worker, labels: { process: 'worker-0' } });
  const workerJson = [...(await w.snapshot()), ...((await worker.getMetricsAsJSON()) as MetricsJson)];
  const stats = {
    functions: [{ functionId: 1, function: 'copy', flowsTotal: 1, flowsActive: 0, bytesUp: 1, bytesDown: 1, endings: { ok: 1 } }],
    rejected: { FLOW_LIMIT: 1 },
    accepted: 1,
    bugs: { unhandledRejection: 1 },
    workerExits: { SIGKILL: 1 },
  };
  return (await exposition(stats, { load: 1 }, [workerJson], 1, { process: await primaryProcessMetrics(), restarts: 1 })).text;
}

async function controllerText(): Promise<string> {
  const m = new ControllerMetrics();
  const server = await serveControllerMetrics({ address: '::1', port: 0, hosts: [] }, m, log);
  try {
    return await (await fetch(`http://[::1]:${(server.address() as { port: number }).port}/metrics`)).text();
  } finally {
    await new Promise((r) => server.close(r));
  }
}

async function agentText(): Promise<string> {
  const agent = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), log, runner: fakeRunner().runner });
  const server = await serveAgent(agent, { address: '::1', port: 0, log });
  try {
    return await (await fetch(`http://[::1]:${server.port}/metrics`)).text();
  } finally {
    await server.close();
  }
}

test('every metric the Grafana dashboard queries exists in the live /metrics of the program it belongs to', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-dash-'));
  try {
    const queries = dashboardQueries();
    const names = new Set(queries.flatMap((q) => metricNames(q.expr)));
    // the dashboard covers what the issue asks: flows, throughput, rejections, connect/duration, controller answers and latency, BSIDs
    for (const n of ['srv6pipes_flows_accepted_total', 'srv6pipes_bytes_total', 'srv6pipes_flows_rejected_total', 'srv6pipes_flow_connect_seconds_bucket', 'srv6pipes_flow_duration_seconds_bucket', 'srv6pipes_controller_queries_total', 'srv6pipes_controller_answer_seconds_bucket', 'srv6pipes_controller_bsids']) {
      assert.ok(names.has(n), `the dashboard shows ${n}`);
    }
    const live = { proxy: await proxyText(dir), controller: await controllerText(), agent: await agentText() };
    assert.deepEqual(missingMetrics(live), []);
    // and the check bites: a renamed series is reported
    const renamed = JSON.parse(readFileSync(DASHBOARD, 'utf8').replaceAll('srv6pipes_flow_connect_seconds_bucket', 'srv6pipes_flow_connect_time_bucket').replaceAll('srv6pipes_controller_proxy_up', 'srv6pipes_controller_proxies_up')) as unknown;
    assert.deepEqual(missingMetrics(live, renamed), ['Onward connect time (p50, p99), by relay: srv6pipes_flow_connect_time_bucket (proxy)', 'Proxies up (health checks): srv6pipes_controller_proxies_up (controller)']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
