/**
 * What a worker measures about its flows, apart from the counters of stats.ts: the histograms of the
 * onward connect time, the flow duration and the binding-SID lookup time (prom-client, in the
 * worker's registry: the primary sums them bucket-wise across workers, and keeps the totals of workers
 * that ended, metrics.ts RetainedMetrics), and the access log (access-log.ts), one line per flow.
 *
 * The worker calls it at three points, whichever relay carries the flow (the JavaScript one,
 * sdk/relay.ts, or the native one, native-relay.ts, whose connect and end events the flow turns into
 * its own): `opened` when the server side is up, `closed` when both sides are closed, `lookedUp` when
 * a SYN's binding-SID expansion settled. Times are `performance.now()` (monotonic, sub-millisecond).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { AccessLog, type AccessLogConfig } from './access-log.js';
import type { ProxyFlow } from './flow.js';

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
type Observe = { observe(v: number): void };

export class FlowObserver {
  private readonly connect: Histogram<'relay'>;
  private readonly duration: Histogram<'relay'>;
  private readonly lookup: Histogram<'result'>;
  /** the label children, made once (an observe with a label object hashes it every time) */
  private readonly connectBy: Record<Relay, Observe>;
  private readonly durationBy: Record<Relay, Observe>;
  private readonly lookupBy: Record<'ok' | 'failed', Observe>;
  readonly accessLog: AccessLog | undefined;

  constructor(
    registry: Registry,
    private readonly worker: number,
    accessLog: AccessLogConfig | null,
    log?: Logger,
  ) {
    const registers = [registry];
    this.connect = new Histogram({ name: FLOW_METRICS.connect, help: 'time from a flow’s start (its SYN accepted and placed) to its server side up, by relay', labelNames: ['relay'], buckets: CONNECT_BUCKETS, registers });
    this.duration = new Histogram({ name: FLOW_METRICS.duration, help: 'time from a flow’s start to both its sides closed, by relay (flows a dying worker reset are not in it)', labelNames: ['relay'], buckets: DURATION_BUCKETS, registers });
    this.lookup = new Histogram({ name: FLOW_METRICS.lookup, help: 'time a SYN’s binding-SID expansion took (a cache hit or a query to the controller), by result', labelNames: ['result'], buckets: LOOKUP_BUCKETS, registers });
    this.connectBy = { js: this.connect.labels('js'), native: this.connect.labels('native') };
    this.durationBy = { js: this.duration.labels('js'), native: this.duration.labels('native') };
    this.lookupBy = { ok: this.lookup.labels('ok'), failed: this.lookup.labels('failed') };
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
