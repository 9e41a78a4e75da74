/**
 * The controller's Prometheus metrics (config `metrics`, off by default): DNS queries by type and
 * rcode, the answer latency, binding SIDs (allocated, active, installed; installs and removals on the
 * access routers and their failures), and the health of each proxy. Served read-only at `/metrics`
 * (and `/health`) on its own HTTP listener, with the proxy admin endpoint's checks (Host, Origin: a
 * browser cannot read it from another site); no route changes anything. docs/metrics.md lists the series.
 */
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AccessRouterAgent } from '../access-router/api.js';
import type { ControllerMetricsConfig } from './metrics-config.js';
import { buildInfo, BUILD_INFO_HELP } from '../sys/build-info.js';
import { serveMetrics } from '../sys/metrics-http.js';
import type { Binding } from './bsid/manager.js';
import type { QueryLog } from './dns/message.js';

/** Seconds: an answer from the zones (tens of µs) to a forwarded one or a BSID install (seconds). */
export const ANSWER_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Query types with a label of their own; any other type a client sends is `other` (a client cannot grow the series). */
const TYPES = new Set(['A', 'AAAA', 'ANY', 'CNAME', 'HTTPS', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'SVCB', 'TXT', 'UNKNOWN_65280', 'UNKNOWN_65281', 'UNKNOWN_65282']);
const RCODES = new Set(['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED']);

/** The labels of one query: its type (bounded), its rcode (`dropped`: no answer), whether it was forwarded upstream. */
export function queryLabels(l: QueryLog): { type: string; rcode: string; transport: string; forwarded: string } {
  const type = l.type === undefined ? 'none' : TYPES.has(l.type) ? l.type : 'other';
  const rcode = l.rcode === undefined ? 'dropped' : RCODES.has(l.rcode) ? l.rcode : 'other';
  return { type, rcode, transport: l.transport, forwarded: l.forwarded ? 'yes' : 'no' };
}

/** What the gauges read at each scrape. */
export interface ControllerSources {
  bindings?(): readonly Binding[];
  proxies?(): readonly { node: string; up: boolean }[];
  /** values under the store's prefix that did not decode, by kind (binding, health) */
  storeCorrupt?(): Record<string, number>;
}

export class ControllerMetrics {
  readonly registry = new Registry();
  private readonly queries: Counter<'type' | 'rcode' | 'transport' | 'forwarded'>;
  private readonly answer: Histogram<'transport'>;
  private readonly installs: Counter<'router' | 'result'>;
  private readonly removals: Counter<'router' | 'result'>;
  private readonly leaderGauge: Gauge;
  private readonly leaderChanges: Counter;
  sources: ControllerSources = {};

  constructor(private readonly now: () => number = Date.now) {
    const registers = [this.registry];
    this.queries = new Counter({ name: 'srv6pipes_controller_queries_total', help: 'DNS queries, by type (other: a type without a label of its own), rcode (dropped: not answered), transport and whether forwarded upstream', labelNames: ['type', 'rcode', 'transport', 'forwarded'], registers });
    this.answer = new Histogram({ name: 'srv6pipes_controller_answer_seconds', help: 'time from a query read to its answer ready (zones, policies, BSID installs, forwarding), by transport', labelNames: ['transport'], buckets: ANSWER_BUCKETS, registers });
    this.installs = new Counter({ name: 'srv6pipes_controller_bsid_installs_total', help: 'binding-SID installs asked of an access router’s agent, by router and result (ok, failed)', labelNames: ['router', 'result'], registers });
    this.removals = new Counter({ name: 'srv6pipes_controller_bsid_removals_total', help: 'binding-SID removals asked of an access router’s agent, by router and result (ok, failed)', labelNames: ['router', 'result'], registers });
    const self = this;
    new Gauge({
      name: 'srv6pipes_controller_bsids',
      help: 'binding SIDs by router and state: allocated (known to the controller, expired or not, until swept), active (not expired: answered to clients and proxies), installed (the agent keeps the route now)',
      labelNames: ['router', 'state'],
      registers,
      collect() {
        this.reset();
        const now = self.now();
        const by = new Map<string, { allocated: number; active: number; installed: number }>();
        for (const b of self.sources.bindings?.() ?? []) {
          let c = by.get(b.router);
          if (!c) by.set(b.router, (c = { allocated: 0, active: 0, installed: 0 }));
          c.allocated++;
          if (b.expiresAt > now) c.active++;
          if (b.installedUntil > now) c.installed++;
        }
        for (const [router, c] of by) for (const state of ['allocated', 'active', 'installed'] as const) this.set({ router, state }, c[state]);
      },
    });
    new Gauge({
      name: 'srv6pipes_controller_proxy_up',
      help: '1 while a proxy passes its health checks (health: fall/rise), 0 while it is down; proxies without a health entry are not listed',
      labelNames: ['proxy'],
      registers,
      collect() {
        this.reset();
        for (const p of self.sources.proxies?.() ?? []) this.set({ proxy: p.node }, p.up ? 1 : 0);
      },
    });
    this.leaderGauge = new Gauge({ name: 'srv6pipes_controller_leader', help: 'with a shared store: 1 while this instance is the elected one (it health-checks the proxies and re-points the binding SIDs), 0 while it follows', registers });
    this.leaderChanges = new Counter({ name: 'srv6pipes_controller_leader_changes_total', help: 'with a shared store: times this instance became leader or lost leadership', registers });
    const seen = new Map<string, number>();
    new Counter({
      name: 'srv6pipes_controller_store_corrupt_total',
      help: 'values under the store’s prefix that are not one of ours (corrupt, foreign, an unknown version): logged and skipped, by kind (binding, health)',
      labelNames: ['kind'],
      registers,
      collect() {
        for (const [kind, n] of Object.entries(self.sources.storeCorrupt?.() ?? {})) {
          const d = n - (seen.get(kind) ?? 0);
          if (d > 0) this.inc({ kind }, d);
          seen.set(kind, n);
        }
      },
    });
    const info = new Gauge({ name: 'srv6pipes_build_info', help: BUILD_INFO_HELP, labelNames: ['version', 'node', 'native'], registers });
    info.set(buildInfo(), 1);
  }

  /** A query handled (answered, refused or dropped), `since` (performance.now()) it was read. */
  query(l: QueryLog, since: number): void {
    const labels = queryLabels(l);
    this.queries.inc(labels);
    if (l.rcode !== undefined) this.answer.observe({ transport: labels.transport }, (performance.now() - since) / 1000);
  }

  /** This instance became leader (true) or lost leadership (false). */
  leader(leading: boolean): void {
    this.leaderGauge.set(leading ? 1 : 0);
    this.leaderChanges.inc();
  }

  /** The agent as the BSID manager uses it, its installs and removals counted. */
  agent(router: string, a: AccessRouterAgent): AccessRouterAgent {
    const count = <T>(c: Counter<'router' | 'result'>, p: Promise<T>): Promise<T> =>
      p.then(
        (v) => (c.inc({ router, result: 'ok' }), v),
        (e: unknown) => {
          c.inc({ router, result: 'failed' });
          throw e;
        },
      );
    return {
      name: a.name,
      install: (p) => count(this.installs, a.install(p)),
      remove: (bsid) => count(this.removals, a.remove(bsid)),
      list: () => a.list(),
      counters: () => a.counters(),
    };
  }

}

/** The read-only listener (sys/metrics-http.ts): GET /metrics and GET /health, no credential, Host and Origin checked. */
export function serveControllerMetrics(cfg: ControllerMetricsConfig, metrics: ControllerMetrics, log: Logger): Promise<http.Server> {
  return serveMetrics(cfg, { metrics: () => metrics.registry.metrics(), contentType: metrics.registry.contentType }, 'metrics.address / metrics.port', (r) => log.warn(r, 'metrics request refused'));
}
