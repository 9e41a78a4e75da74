/**
 * Prometheus metrics (prom-client). Each worker keeps a registry for the functions' own metrics
 * (`srv6pipes_function_*`, labelled `fn` (the id) and `function` (the name)) and the flows' histograms
 * (flow-metrics.ts); the primary sums the workers' registries (histograms bucket-wise) and adds the
 * proxy's core series built from the merged counters, and serves them at /metrics. Every process's
 * own series (`process_*`, `nodejs_*`: prom-client's defaults) carry a label `process` — `primary`,
 * `worker-0`, `worker-1`, … — so that the memory and event-loop lag of each worker can be told apart
 * (docs/metrics.md).
 */
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { buildInfo, BUILD_INFO_HELP } from '../sys/build-info.js';

/** One registry's metrics as JSON (getMetricsAsJSON), as sent over IPC. */
export type MetricsJson = object[];
import { SrError } from '../core/errors.js';
import type { FunctionMetrics } from '../sdk/types.js';
import type { ProxyStats } from './stats.js';

/** The prefix of every metric a function declares (0.1 called it `srv6pipes_vf_`). */
export const FUNCTION_METRIC_PREFIX = 'srv6pipes_function_';
/** The labels the proxy adds to every series a function declares: the function's id and name. */
export const FUNCTION_LABELS = ['fn', 'function'] as const;
/** The core series whose name starts with the functions' prefix: a function may not declare it. */
const FUNCTION_EVENTS = 'srv6pipes_function_events_total';

export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly metrics = new Map<string, { kind: 'counter' | 'gauge'; labels: string; m: Counter | Gauge }>();

  private get(kind: 'counter' | 'gauge', name: string, help: string, labelNames: readonly string[]): Counter | Gauge {
    const full = `${FUNCTION_METRIC_PREFIX}${name}`;
    if (full === FUNCTION_EVENTS) throw new SrError('CONFIG_INVALID', `metric ${full} is one of the proxy's own series: a function cannot declare it`);
    const labels = [...labelNames, ...FUNCTION_LABELS];
    const existing = this.metrics.get(full);
    if (existing) {
      if (existing.kind !== kind || existing.labels !== labels.join(',')) {
        throw new SrError('CONFIG_INVALID', `metric ${full} is already registered as a ${existing.kind} with labels (${existing.labels})`);
      }
      return existing.m;
    }
    const m = kind === 'counter' ? new Counter({ name: full, help, labelNames: labels, registers: [this.registry] }) : new Gauge({ name: full, help, labelNames: labels, registers: [this.registry] });
    this.metrics.set(full, { kind, labels: labels.join(','), m });
    return m;
  }

  /** The FunctionMetrics a function instance gets. */
  forFunction(functionId: number, name: string): FunctionMetrics {
    const base = { fn: functionId, function: name };
    return {
      counter: (name, help, labelNames = []) => {
        const c = this.get('counter', name, help, labelNames) as Counter;
        return { inc: (labels, value = 1) => c.inc({ ...labels, ...base }, value) };
      },
      gauge: (name, help, labelNames = []) => {
        const g = this.get('gauge', name, help, labelNames) as Gauge;
        return {
          set: (labels, value) => g.set({ ...labels, ...base }, value),
          inc: (labels, value = 1) => g.inc({ ...labels, ...base }, value),
          dec: (labels, value = 1) => g.dec({ ...labels, ...base }, value),
        };
      },
    };
  }

  /** series kept outside prom-client (flow-metrics.ts: the flows' histograms), in its JSON form */
  private readonly extra: (() => MetricsJson)[] = [];

  /** Adds series made by `json` at each snapshot (prom-client's getMetricsAsJSON form). */
  addJson(json: () => MetricsJson): void {
    this.extra.push(json);
  }

  async snapshot(): Promise<MetricsJson> {
    const own = [...((await this.registry.getMetricsAsJSON()) as MetricsJson), ...this.extra.flatMap((f) => f())];
    // a forked worker's process series (a worker in the primary's process, workers: 0, has none of its own)
    return workerProcess ? [...own, ...((await workerProcess.getMetricsAsJSON()) as MetricsJson)] : own;
  }
}

/** The label of every process's own series (`process_*`, `nodejs_*`): `primary` or `worker-N`. */
export const PROCESS_LABEL = 'process';

/** a forked worker's own process series, once it asked for them (worker-main.ts) */
let workerProcess: Registry | undefined;
/** the primary's own process series */
let primaryProcess: Registry | undefined;

function processRegistry(value: string): Registry {
  const r = new Registry();
  collectDefaultMetrics({ register: r, labels: { [PROCESS_LABEL]: value } });
  return r;
}

/** In a forked worker (worker-main.ts): its process_* and nodejs_* series, labelled `worker-N`, go with its metrics snapshot. */
export function collectWorkerProcessMetrics(index: number): void {
  workerProcess ??= processRegistry(`worker-${index}`);
}

/** The primary's process_* and nodejs_* series (labelled `primary`), collected from the first call on. */
export async function primaryProcessMetrics(): Promise<MetricsJson> {
  primaryProcess ??= processRegistry('primary');
  return (await primaryProcess.getMetricsAsJSON()) as MetricsJson;
}

/** What the primary adds besides the merged counters: its own process series, the workers it restarted. */
export interface PrimaryMetrics {
  /** primaryProcessMetrics() */
  process?: MetricsJson;
  /** workers started again after one ended while the proxy ran */
  restarts?: number;
}

/**
 * Each process's own series sum nothing across processes (their `process` label differs); a worker
 * that ended and its successor share one, and their counters then add up. prom-client marks some of
 * them `first`, `average`, `omit`… for its cluster mode, which would merge or drop them: here they are
 * all summed by label set.
 */
function ownProcessSeries(m: MetricsJson): MetricsJson {
  return m.map((x) => {
    const name = String((x as { name?: string }).name);
    return name.startsWith('process_') || name.startsWith('nodejs_') ? { ...x, aggregator: 'sum' } : x;
  });
}

/** Core series from the merged counters, plus the workers' function metrics summed. */
export async function exposition(stats: ProxyStats, events: Record<string, number>, workerMetrics: MetricsJson[], liveWorkers?: number, primary: PrimaryMetrics = {}): Promise<{ text: string; contentType: string }> {
  const core = new Registry();
  const accepted = new Counter({ name: 'srv6pipes_flows_accepted_total', help: 'flows accepted and started (past the SRH checks and admission), by function', labelNames: [...FUNCTION_LABELS], registers: [core] });
  const build = new Gauge({ name: 'srv6pipes_build_info', help: BUILD_INFO_HELP, labelNames: ['version', 'node', 'native'], registers: [core] });
  const restarts = new Counter({ name: 'srv6pipes_worker_restarts_total', help: 'worker processes started again after one ended while the proxy ran', registers: [core] });
  const flows = new Counter({ name: 'srv6pipes_flows_total', help: 'flows ended, by function and reason (ok, client_reset, server_reset, connect_failed, idle_timeout, … or the reason a function reset with)', labelNames: [...FUNCTION_LABELS, 'reason'], registers: [core] });
  const active = new Gauge({ name: 'srv6pipes_flows_active', help: 'flows in progress', labelNames: [...FUNCTION_LABELS], registers: [core] });
  const bytes = new Counter({ name: 'srv6pipes_bytes_total', help: 'bytes sent on by the proxy, by direction', labelNames: [...FUNCTION_LABELS, 'direction'], registers: [core] });
  const rejected = new Counter({ name: 'srv6pipes_flows_rejected_total', help: 'SYNs refused at accept, by error code', labelNames: ['code'], registers: [core] });
  const ev = new Counter({ name: FUNCTION_EVENTS, help: 'function table changes (load, unload, reload)', labelNames: ['event'], registers: [core] });
  const workers = new Gauge({ name: 'srv6pipes_workers', help: 'worker processes', registers: [core] });
  const bugs = new Counter({ name: 'srv6pipes_worker_bugs_total', help: 'bugs caught in workers (unhandledRejection: logged, the worker goes on; uncaughtException: flows reset, worker restarted)', labelNames: ['kind'], registers: [core] });
  const exits = new Counter({ name: 'srv6pipes_worker_exits_total', help: 'worker processes that ended while the proxy ran (restarted), by how', labelNames: ['how'], registers: [core] });
  const early = new Counter({ name: 'srv6pipes_early_connects_total', help: 'onward connects started in the accept before the decision (nativeRelay.connectEarly), by result: adopted by the flow, or reset (refused, or another onward header)', labelNames: ['result'], registers: [core] });
  for (const f of stats.functions) {
    const l = { fn: f.functionId, function: f.function };
    for (const [reason, n] of Object.entries(f.endings)) flows.inc({ ...l, reason }, n);
    accepted.inc(l, f.flowsTotal);
    active.set(l, f.flowsActive);
    bytes.inc({ ...l, direction: 'up' }, f.bytesUp);
    bytes.inc({ ...l, direction: 'down' }, f.bytesDown);
  }
  for (const [code, n] of Object.entries(stats.rejected)) rejected.inc({ code }, n);
  for (const [event, n] of Object.entries(events)) ev.inc({ event }, n);
  for (const [kind, n] of Object.entries(stats.bugs ?? {})) bugs.inc({ kind }, n);
  for (const [how, n] of Object.entries(stats.workerExits ?? {})) exits.inc({ how }, n);
  for (const [result, n] of Object.entries(stats.earlyConnects ?? {})) early.inc({ result }, n);
  workers.set(liveWorkers ?? workerMetrics.length);
  build.set(buildInfo(), 1);
  restarts.inc(primary.restarts ?? 0);
  const all = [...(primary.process ? [primary.process] : []), ...workerMetrics].map(ownProcessSeries);
  const merged = Registry.merge([core, AggregatorRegistry.aggregate(all as object[])]);
  return { text: await merged.metrics(), contentType: merged.contentType };
}

/** The kinds of metric that only add up (kept for workers that ended); gauges end with their worker. */
const MONOTONIC = new Set(['counter', 'histogram']);

/**
 * The functions' metrics of workers that ended, kept by the primary (issue 12 item 17): as
 * `RetainedStats` for the core counters, each live worker's latest registry snapshot is remembered,
 * and when the worker ends its counters and histograms join the retired sum.
 */
export class RetainedMetrics {
  private readonly latest = new Map<object, MetricsJson>();
  private retired: MetricsJson = [];

  seen(worker: object, m: MetricsJson): void {
    this.latest.set(worker, m);
  }

  async retire(worker: object): Promise<void> {
    const last = this.latest.get(worker);
    const kept = (last ?? []).filter((x) => MONOTONIC.has(String((x as { type?: string }).type)));
    // the snapshot stays among the live ones until the sum holds it: no scrape in between sees less
    const sum = kept.length ? ((await AggregatorRegistry.aggregate([this.retired, kept] as object[][]).getMetricsAsJSON()) as MetricsJson) : this.retired;
    this.retired = sum;
    this.latest.delete(worker);
  }

  /** The retired sum and these live snapshots (recorded as seen), ready for `exposition`. */
  merge(live: [worker: object, metrics: MetricsJson][]): MetricsJson[] {
    for (const [w, m] of live) this.seen(w, m);
    // a worker being retired is no longer live but not yet in the sum: its latest snapshot counts
    const ending = [...this.latest].filter(([w]) => !live.some(([l]) => l === w)).map(([, m]) => m);
    return [this.retired, ...ending, ...live.map(([, m]) => m)];
  }
}
