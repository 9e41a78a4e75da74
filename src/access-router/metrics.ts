/**
 * The access-router agent's Prometheus metrics, at `GET /metrics` on its own listener (http.ts):
 * binding SIDs installed, requests in flight and the limits, installs and removals asked (and how
 * they went), requests refused by code, the BSID filter's drop counters (nft), and, when the agent
 * follows the etcd store, its reconciler's installs, removals, etcd connection and last full sync. Read at each
 * scrape from the agent; docs/metrics.md lists the series.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { buildInfo, BUILD_INFO_HELP } from '../sys/build-info.js';
import type { AccessRouterAgent, AccessRouterCounters } from './api.js';
import type { AgentLimits } from './limits.js';
import type { ReconcileStats } from './reconcile.js';

/** An agent that says how busy it is (http.ts ServedAgent: LocalAccessRouter). */
type ServedAgent = AccessRouterAgent & { readonly limits: AgentLimits; stats(): { installed: number; inFlight: number } };

/** The filter's drop counters as the label `reason` */
const DROPS: Record<keyof AccessRouterCounters, string> = { unknownBsid: 'unknown_bsid', unauthorised: 'unauthorised', notBsid: 'not_bsid' };

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly installs: Counter<'result'>;
  private readonly removals: Counter<'result'>;

  constructor(agent: ServedAgent, rejected: () => ReadonlyMap<string, number>, reconcile?: () => ReconcileStats) {
    const registers = [this.registry];
    this.installs = new Counter({ name: 'srv6pipes_agent_installs_total', help: 'binding-SID installs asked of this agent, by result (ok, failed: refused by a limit or the kernel)', labelNames: ['result'], registers });
    this.removals = new Counter({ name: 'srv6pipes_agent_removals_total', help: 'binding-SID removals asked of this agent, by result', labelNames: ['result'], registers });
    new Gauge({
      name: 'srv6pipes_agent_bsids_installed',
      help: 'binding SIDs installed now (End.B6.Encaps routes with their filter entry)',
      registers,
      collect() {
        this.set(agent.stats().installed);
      },
    });
    new Gauge({
      name: 'srv6pipes_agent_requests_in_flight',
      help: 'install and remove requests being carried out',
      registers,
      collect() {
        this.set(agent.stats().inFlight);
      },
    });
    new Gauge({
      name: 'srv6pipes_agent_limit',
      help: 'the agent’s limits (--max-bsids, --max-in-flight, --max-connections)',
      labelNames: ['limit'],
      registers,
      collect() {
        const l = agent.limits;
        this.set({ limit: 'bsids' }, l.maxBsids);
        this.set({ limit: 'in_flight' }, l.maxInFlight);
        this.set({ limit: 'connections' }, l.maxConnections);
      },
    });
    new Counter({
      name: 'srv6pipes_agent_refused_total',
      help: 'requests refused, by code (AGENT_UNAUTHORISED, AGENT_BUSY, CONNECTION_LIMIT, NO_ROUTE, …)',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of rejected()) this.inc({ code }, n);
      },
    });
    new Counter({
      name: 'srv6pipes_agent_dropped_packets_total',
      help: 'packets the BSID filter dropped (nft counters), by reason: unknown_bsid, unauthorised (a source the BSID is not for), not_bsid',
      labelNames: ['reason'],
      registers,
      async collect() {
        this.reset();
        const c = await agent.counters();
        for (const [k, reason] of Object.entries(DROPS) as [keyof AccessRouterCounters, string][]) this.inc({ reason }, c[k]);
      },
    });
    if (reconcile) reconcileMetrics(registers, reconcile);
    new Gauge({ name: 'srv6pipes_build_info', help: BUILD_INFO_HELP, labelNames: ['version', 'node', 'native'], registers }).set(buildInfo(), 1);
  }

  /** The agent as its routes use it: installs and removals counted. */
  counted(agent: ServedAgent): ServedAgent {
    const count = <T>(c: Counter<'result'>, p: Promise<T>): Promise<T> =>
      p.then(
        (v) => (c.inc({ result: 'ok' }), v),
        (e: unknown) => {
          c.inc({ result: 'failed' });
          throw e;
        },
      );
    return {
      name: agent.name,
      limits: agent.limits,
      stats: () => agent.stats(),
      install: (p) => count(this.installs, agent.install(p)),
      remove: (bsid) => count(this.removals, agent.remove(bsid)),
      list: () => agent.list(),
      counters: () => agent.counters(),
    };
  }
}

/** The reconciler's series (reconcile.ts): counts read from its stats at each scrape. */
const RECONCILE_COUNTERS: { name: string; help: string; read: (s: ReconcileStats) => number }[] = [
  { name: 'srv6pipes_agent_reconcile_installs_total', help: 'routes the reconciler installed because the store wants them (missing, or different segments, source or expiry)', read: (s) => s.installs },
  { name: 'srv6pipes_agent_reconcile_removals_total', help: 'routes the reconciler removed because the store no longer has them (withdrawn, expired)', read: (s) => s.removes },
  { name: 'srv6pipes_agent_reconcile_failed_total', help: 'reconciler installs and removals the agent refused or failed (retried at the next full sync)', read: (s) => s.failed },
  { name: 'srv6pipes_agent_reconcile_corrupt_total', help: 'values under the route index that are not a binding record for this router (logged, skipped)', read: (s) => s.corrupt },
  { name: 'srv6pipes_agent_reconcile_held_total', help: 'routes installed again past their expiry while etcd was unreachable (fail static)', read: (s) => s.held },
];

function reconcileMetrics(registers: Registry[], stats: () => ReconcileStats): void {
  for (const c of RECONCILE_COUNTERS) {
    new Counter({
      name: c.name,
      help: c.help,
      registers,
      collect() {
        this.reset();
        this.inc(c.read(stats()));
      },
    });
  }
  new Gauge({
    name: 'srv6pipes_agent_etcd_connected',
    help: '1 while the reconciler reaches etcd and watches the route index, 0 while it holds its routes (fail static)',
    registers,
    collect() {
      this.set(stats().connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'srv6pipes_agent_reconcile_last_sync_timestamp_seconds',
    help: 'when the reconciler last finished a full sync with the store (Unix seconds; 0: never)',
    registers,
    collect() {
      this.set(stats().lastFullSync / 1000);
    },
  });
}
