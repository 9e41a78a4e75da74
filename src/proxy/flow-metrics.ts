/**
 * What a worker measures about its flows, apart from the counters of stats.ts: the histograms of the
 * onward connect time, the flow duration and the binding-SID lookup time (in the worker's metrics
 * snapshot: the primary sums them bucket-wise across workers, and keeps the totals of workers that
 * ended, metrics.ts RetainedMetrics), and the access log (access-log.ts), one line per flow.
 *
 * The histograms are plain bucket counts here (`Buckets`), handed over in prom-client's JSON form at
 * each snapshot: an observation costs a bucket search and three additions, not prom-client's label
 * validation and hashing (a flow's two observations: 170–220 ns here against 520–1410 ns with
 * prom-client's Histogram, 7 interleaved rounds of 200k on this 2-vCPU machine under load; the
 * numbers are in docs/metrics.md).
 *
 * The worker calls it at three points, whichever relay carries the flow (the JavaScript one,
 * sdk/relay.ts, or the native one, native-relay.ts, whose connect and end events the flow turns into
 * its own): `opened` when the server side is up, `closed` when both sides are closed, `lookedUp` when
 * a SYN's binding-SID expansion settled. Times are `performance.now()` (monotonic, sub-millisecond).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { AccessLog, type AccessLogConfig } from './access-log.js';
import type { ProxyFlow } from './flow.js';
import type { MetricsJson, WorkerMetrics } from './metrics.js';

/** Seconds: from 100 µs (a local connect, a cached lookup) to a minute (timeouts.connect's default is 5 s). */
export const CONNECT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds: from 1 ms (a refused connect) to an hour (a long download; idle flows end at timeouts.idle). */
export const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds: a cache hit (µs) to the lookup timeout (bindingSids.timeout, ≤ 60 s). */
export const LOOKUP_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The names of the series this module adds (docs/metrics.md; the dashboard test reads them). */
export const FLOW_METRICS = {
  connect: 'srv6pipes_flow_connect_seconds',
  duration: 'srv6pipes_flow_duration_seconds',
  lookup: 'srv6pipes_bsid_lookup_seconds',
  accessDropped: 'srv6pipes_access_log_dropped_total',
} as const;

type Relay = 'js' | 'native';

/** One histogram series: its buckets' own counts (not cumulative), sum and count. */
export class Buckets {
  private readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    if (i < b.length) this.counts[i]!++;
  }

  /** The series in prom-client's JSON form (cumulative `le` buckets, +Inf, sum, count). */
  values(name: string, labels: Record<string, string>): object[] {
    let acc = 0;
    const out: object[] = this.bounds.map((le, i) => {
      acc += this.counts[i]!;
      return { labels: { le, ...labels }, value: acc, metricName: `${name}_bucket` };
    });
    out.push({ labels: { le: '+Inf', ...labels }, value: this.count, metricName: `${name}_bucket` });
    out.push({ labels, value: this.sum, metricName: `${name}_sum` });
    out.push({ labels, value: this.count, metricName: `${name}_count` });
    return out;
  }
}

/** A histogram with one label: its series by the label's value, as prom-client's getMetricsAsJSON gives one. */
function histogramJson<K extends string>(name: string, help: string, label: string, series: Record<K, Buckets>): object {
  const values = (Object.entries(series) as [K, Buckets][]).flatMap(([v, b]) => b.values(name, { [label]: v }));
  return { name, help, type: 'histogram', values, aggregator: 'sum' };
}

const HELP = {
  connect: 'time from a flow’s start (its SYN accepted and placed) to its server side up, by relay',
  duration: 'time from a flow’s start to both its sides closed, by relay (flows a dying worker reset are not in it)',
  lookup: 'time a SYN’s binding-SID expansion took (a cache hit or a query to the controller), by result',
};

export class FlowObserver {
  private readonly connectBy: Record<Relay, Buckets> = { js: new Buckets(CONNECT_BUCKETS), native: new Buckets(CONNECT_BUCKETS) };
  private readonly durationBy: Record<Relay, Buckets> = { js: new Buckets(DURATION_BUCKETS), native: new Buckets(DURATION_BUCKETS) };
  private readonly lookupBy: Record<'ok' | 'failed', Buckets> = { ok: new Buckets(LOOKUP_BUCKETS), failed: new Buckets(LOOKUP_BUCKETS) };
  readonly accessLog: AccessLog | undefined;

  constructor(
    metrics: WorkerMetrics,
    private readonly worker: number,
    accessLog: AccessLogConfig | null,
    log?: Logger,
  ) {
    metrics.addJson((): MetricsJson => [
      histogramJson(FLOW_METRICS.connect, HELP.connect, 'relay', this.connectBy),
      histogramJson(FLOW_METRICS.duration, HELP.duration, 'relay', this.durationBy),
      histogramJson(FLOW_METRICS.lookup, HELP.lookup, 'result', this.lookupBy),
    ]);
    const registers = [metrics.registry];
    if (accessLog) {
      const dropped = new Counter({ name: FLOW_METRICS.accessDropped, help: 'access-log lines dropped: accessLog.maxBuffer bytes were waiting for the disk already', registers });
      this.accessLog = new AccessLog(accessLog, worker);
      this.accessLog.onDrop = (n) => dropped.inc(n);
      let warned = 0;
      this.accessLog.onError = (e) => {
        // at most one line a minute: the disk's trouble is not news on every flow
        if (Date.now() - warned < 60_000) return;
        warned = Date.now();
        log?.error({ err: e }, 'access log: writing failed');
      };
    }
  }

  /** A flow's server side is up. */
  opened(f: ProxyFlow): void {
    const ms = performance.now() - f.startedAt;
    f.connectMs = ms;
    this.connectBy[f.flow.relayKind].observe(ms / 1000);
  }

  /** A flow has closed (both sides). */
  closed(f: ProxyFlow): void {
    const ms = performance.now() - f.startedAt;
    const relay = f.flow.relayKind;
    this.durationBy[relay].observe(ms / 1000);
    const a = this.accessLog;
    if (!a) return;
    const d = f.decision;
    a.write({
      id: f.id,
      client: f.client,
      server: f.server,
      functionId: d.functionId,
      function: d.entry.name,
      argument: d.argument.toString(),
      ...(d.downstream ? { downstreamFn: d.downstream.functionId } : {}),
      path: d.path,
      position: d.position,
      ...(d.bsid !== undefined ? { bsid: d.bsid } : {}),
      up: f.flow.up.bytesOut,
      down: f.flow.down.bytesOut,
      durationMs: ms,
      ...(f.connectMs !== undefined ? { connectMs: f.connectMs } : {}),
      end: f.flow.end ?? { kind: 'ok' },
      relay,
    });
  }

  /** A SYN's binding-SID expansion settled, `since` (performance.now()) it started. */
  lookedUp(since: number, ok: boolean): void {
    this.lookupBy[ok ? 'ok' : 'failed'].observe((performance.now() - since) / 1000);
  }

  /** logrotate: the access log's file is reopened by its path. */
  reopen(): void {
    this.accessLog?.reopen();
  }

  /** The access log written out and closed (bounded: a stuck disk does not hold a drain). */
  async close(timeoutMs = 2000): Promise<void> {
    if (!this.accessLog) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.accessLog.close(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }
}
