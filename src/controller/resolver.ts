/**
 * The controller's answer to one question (pure apart from the config it holds): zone lookup, the
 * policy decision per address, and the path for each AAAA address. binding.ts puts paths behind
 * binding SIDs where the client sits behind an access router; the DNS layer (dns/message.ts) turns
 * the answer into wire format.
 *
 * Outcomes: a name outside every zone → REFUSED (no upstream yet); unknown in a zone → NXDOMAIN;
 * policy denial (or a client attached nowhere, when functions apply) → REFUSED; no path through the
 * functions → SERVFAIL. An A query gets its addresses only when no function applies (an IPv4 flow
 * cannot carry an SRH): otherwise NOERROR with no answer, so that the client uses IPv6.
 */
import type { ControllerConfig } from './config.js';
import { normalizeName } from './config.js';
import { attachmentOf, buildNetwork, sidOn, stagesFor, type Network } from './graph/graph.js';
import { computePath, type Edge, type PathGraph, type PathOk } from './graph/path.js';
import type { PathSpec } from './bsid/manager.js';
import { decide } from './policy.js';
import { bandwidthClass, latencyClass } from './classes.js';

export interface Question {
  client: string;
  name: string;
  type: string;
  requested: readonly string[];
  port?: number;
  /** option 65002 */
  bandwidthKbps?: number;
  /** option 65003 */
  maxLatencyMs?: number;
}

export interface SrPath {
  destination: string;
  segments: string[];
  returnSegments: string[];
  /** with a policy's `returnPath`: the return-path TLV's entries, last proxy first */
  returnPath?: string[];
  /** the walk: the client's attachment first (an access router, when the client sits behind one) */
  nodes: string[];
  cost: number;
  functions: string[];
  /** the policy that decided it */
  policy?: number;
}

/** A computed path and what it was computed from: binding SIDs key on the spec and recompute the path from it after a failure (binding.ts). */
export interface Route {
  path: SrPath;
  spec: PathSpec;
}

export type Resolution =
  | { rcode: 'NOERROR'; a: string[]; aaaa: string[]; routes: Route[]; note?: string }
  | { rcode: 'NXDOMAIN' | 'REFUSED' | 'SERVFAIL'; reason: string }
  /** a name outside every zone, and an upstream resolver is configured */
  | { rcode: 'FORWARD'; reason: string };

export class Resolver {
  readonly network: Network;

  constructor(
    readonly config: ControllerConfig,
    /** is this proxy alive? (health checks; default: all are) */
    private readonly isUp: (node: string) => boolean = () => true,
  ) {
    this.network = buildNetwork(config);
  }

  /**
   * The path for a spec, over the proxies that are up now: the segments (function SIDs, then the
   * destination), or why there is none. REFUSED-worthy when a function has no live replica.
   */
  pathFor(spec: PathSpec): { ok: true; path: PathOk } | { ok: false; rcode: 'REFUSED' | 'SERVFAIL'; reason: string } {
    const all = stagesFor(this.network, spec.functions);
    const stages = all.map((s) => ({ ...s, replicas: s.replicas.filter((r) => this.isUp(r.node)) }));
    const dead = stages.find((s, i) => s.replicas.length === 0 && all[i]!.replicas.length > 0);
    if (dead) {
      const down = all[stages.indexOf(dead)]!.replicas.map((r) => r.node).join(', ');
      return { ok: false, rcode: 'REFUSED', reason: `no live replica of function "${dead.name}" (down: ${down})` };
    }
    const graph = constrained(this.network, spec);
    const r = computePath(graph, { from: spec.from, to: spec.to, destination: spec.destination, stages, tieKey: spec.tieKey });
    if (!r.ok) return { ok: false, rcode: 'SERVFAIL', reason: spec.bandwidthKbps !== undefined ? `${r.message} (with links of at least ${spec.bandwidthKbps} kbit/s)` : r.message };
    if (spec.maxLatencyMs !== undefined) {
      const latency = walkLatency(this.network, r.nodes);
      if (latency > spec.maxLatencyMs) return { ok: false, rcode: 'SERVFAIL', reason: `no path within ${spec.maxLatencyMs} ms (the fastest takes ${latency} ms)` };
    }
    return { ok: true, path: r };
  }

  /** The zone apex that holds the name (longest), or undefined. */
  zoneOf(name: string): string | undefined {
    let best: string | undefined;
    for (const apex of this.config.zones.keys()) {
      if ((name === apex || name.endsWith(`.${apex}`)) && (best === undefined || apex.length > best.length)) best = apex;
    }
    return best;
  }

  /** Why a query for this name goes to the upstream resolver (in no zone, and there is one), or undefined. */
  forwardReason(name: string): string | undefined {
    const n = normalizeName(name);
    return this.config.upstream && this.zoneOf(n) === undefined ? `${n} is in no zone of this controller` : undefined;
  }

  /** Every proxy's return id and return SID (what return-steering hosts ask for). */
  returnHops(): { id: number; sid: string }[] {
    return this.config.proxies.flatMap((p) => (p.returnPath ? [p.returnPath] : []));
  }

  resolve(q: Question): Resolution {
    const name = normalizeName(q.name);
    const apex = this.zoneOf(name);
    if (apex === undefined) {
      const forward = this.forwardReason(name);
      if (forward !== undefined) return { rcode: 'FORWARD', reason: forward };
      return { rcode: 'REFUSED', reason: `${name} is in no zone of this controller (no upstream)` };
    }
    const rr = this.config.zones.get(apex)!.get(name);
    if (!rr) return { rcode: 'NXDOMAIN', reason: `${name} does not exist in zone ${apex}` };

    if (q.type !== 'A' && q.type !== 'AAAA') {
      if (q.requested.length > 0) return { rcode: 'REFUSED', reason: `functions are requested with an AAAA query, not ${q.type}` };
      return { rcode: 'NOERROR', a: [], aaaa: [], routes: [] };
    }
    const addresses = q.type === 'AAAA' ? rr.aaaa : rr.a;
    const routes: Route[] = [];
    for (const destination of addresses) {
      const d = decide(this.config.policies, { client: q.client, name, destination, requested: q.requested, ...(q.port !== undefined ? { port: q.port } : {}) }, this.config.unmatched);
      if (d.kind === 'deny') return { rcode: 'REFUSED', reason: d.reason };
      if (d.functions.length === 0) continue;
      if (q.type === 'A') return { rcode: 'NOERROR', a: [], aaaa: [], routes: [], note: `functions apply to ${name}: IPv6 only` };
      const from = attachmentOf(this.network, q.client);
      if (from === undefined) return { rcode: 'REFUSED', reason: `client ${q.client} is attached to no node (see links)` };
      const to = attachmentOf(this.network, destination);
      if (to === undefined) return { rcode: 'SERVFAIL', reason: `destination ${destination} is attached to no node (see links; ::/0 for any)` };
      const spec: PathSpec = {
        from,
        to,
        destination,
        functions: d.functions,
        tieKey: q.client,
        // classes, not the client's numbers: they are part of the binding-SID key (classes.ts)
        ...(q.bandwidthKbps !== undefined ? { bandwidthKbps: bandwidthClass(q.bandwidthKbps) } : {}),
        ...(q.maxLatencyMs !== undefined ? { maxLatencyMs: latencyClass(q.maxLatencyMs) } : {}),
      };
      const r = this.pathFor(spec);
      if (!r.ok) return { rcode: r.rcode, reason: r.reason };
      const rp = d.policy !== undefined ? this.config.policies[d.policy]?.returnPath : null;
      // the downstream function of each hop runs on the same proxy (checked when the config was loaded)
      const returnPath = rp
        ? r.path.hops
            .map((h) => {
              const f = rp.downstream.get(h.function);
              return (f && sidOn(this.network, h.node, f)) ?? h.sid;
            })
            .reverse()
        : undefined;
      const path: SrPath = {
        ...(returnPath ? { returnPath } : {}),
        destination,
        segments: r.path.segments,
        returnSegments: r.path.returnSegments,
        nodes: r.path.nodes,
        cost: r.path.cost,
        functions: d.functions.map((f) => f.name),
        ...(d.policy !== undefined ? { policy: d.policy } : {}),
      };
      routes.push({ path, spec });
    }
    return q.type === 'AAAA' ? { rcode: 'NOERROR', a: [], aaaa: addresses, routes } : { rcode: 'NOERROR', a: addresses, aaaa: [], routes };
  }
}

/**
 * The graph a request sees: without the links too thin for its bandwidth, and — with a latency bound —
 * with latency as the cost (in whole microseconds: exact sums) and the configured cost as the tie
 * breaker, so the path found is the fastest one.
 */
function constrained(net: Network, spec: PathSpec): PathGraph {
  if (spec.bandwidthKbps === undefined && spec.maxLatencyMs === undefined) return net;
  const adjacency = new Map<string, Edge[]>();
  for (const [node, edges] of net.adjacency) {
    adjacency.set(
      node,
      edges
        .filter((e) => spec.bandwidthKbps === undefined || e.capacity === undefined || e.capacity * 1000 >= spec.bandwidthKbps)
        .map((e) => (spec.maxLatencyMs === undefined ? e : { ...e, cost: Math.round((e.latency ?? 0) * 1000), tie: e.cost })),
    );
  }
  return { adjacency, ...(net.transit ? { transit: net.transit } : {}) };
}

/** The sum of the latencies along a node walk (links without one count 0). */
function walkLatency(net: Network, nodes: readonly string[]): number {
  let sum = 0;
  for (let i = 1; i < nodes.length; i++) {
    const edges = net.adjacency.get(nodes[i - 1]!) ?? [];
    const e = edges.filter((x) => x.to === nodes[i]).sort((x, y) => (x.latency ?? 0) - (y.latency ?? 0))[0];
    sum += e?.latency ?? 0;
  }
  return sum;
}
