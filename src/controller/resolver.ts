/**
 * The controller's answer to one question (pure apart from the config it holds): zone lookup, the
 * policy decision per address, and the path for each AAAA address. The DNS layer (dns/message.ts)
 * turns a Resolution into wire format.
 *
 * Outcomes: a name outside every zone → REFUSED (no upstream yet); unknown in a zone → NXDOMAIN;
 * policy denial (or a client attached nowhere, when functions apply) → REFUSED; no path through the
 * functions → SERVFAIL. An A query gets its addresses only when no function applies (an IPv4 flow
 * cannot carry an SRH): otherwise NOERROR with no answer, so that the client uses IPv6.
 */
import type { ControllerConfig } from './config.js';
import { normalizeName } from './config.js';
import { attachmentOf, buildNetwork, stagesFor, type Network } from './graph/graph.js';
import { computePath, type PathOk } from './graph/path.js';
import { decide } from './policy.js';

export interface Question {
  client: string;
  name: string;
  type: string;
  requested: readonly string[];
  port?: number;
}

export interface SrPath {
  destination: string;
  segments: string[];
  returnSegments: string[];
  nodes: string[];
  cost: number;
  functions: string[];
}

export type Resolution =
  | { rcode: 'NOERROR'; a: string[]; aaaa: string[]; paths: SrPath[]; note?: string }
  | { rcode: 'NXDOMAIN' | 'REFUSED' | 'SERVFAIL'; reason: string };

export class Resolver {
  readonly network: Network;

  constructor(readonly config: ControllerConfig) {
    this.network = buildNetwork(config);
  }

  /** The zone apex that holds the name (longest), or undefined. */
  zoneOf(name: string): string | undefined {
    let best: string | undefined;
    for (const apex of this.config.zones.keys()) {
      if ((name === apex || name.endsWith(`.${apex}`)) && (best === undefined || apex.length > best.length)) best = apex;
    }
    return best;
  }

  resolve(q: Question): Resolution {
    const name = normalizeName(q.name);
    const apex = this.zoneOf(name);
    if (apex === undefined) return { rcode: 'REFUSED', reason: `${name} is in no zone of this controller (no upstream)` };
    const rr = this.config.zones.get(apex)!.get(name);
    if (!rr) return { rcode: 'NXDOMAIN', reason: `${name} does not exist in zone ${apex}` };

    if (q.type !== 'A' && q.type !== 'AAAA') {
      if (q.requested.length > 0) return { rcode: 'REFUSED', reason: `functions are requested with an AAAA query, not ${q.type}` };
      return { rcode: 'NOERROR', a: [], aaaa: [], paths: [] };
    }
    const addresses = q.type === 'AAAA' ? rr.aaaa : rr.a;
    const paths: SrPath[] = [];
    for (const destination of addresses) {
      const d = decide(this.config.policies, { client: q.client, name, destination, requested: q.requested, ...(q.port !== undefined ? { port: q.port } : {}) }, this.config.unmatched);
      if (d.kind === 'deny') return { rcode: 'REFUSED', reason: d.reason };
      if (d.functions.length === 0) continue;
      if (q.type === 'A') return { rcode: 'NOERROR', a: [], aaaa: [], paths: [], note: `functions apply to ${name}: IPv6 only` };
      const from = attachmentOf(this.network, q.client);
      if (from === undefined) return { rcode: 'REFUSED', reason: `client ${q.client} is attached to no node (see links)` };
      const to = attachmentOf(this.network, destination);
      if (to === undefined) return { rcode: 'SERVFAIL', reason: `destination ${destination} is attached to no node (see links; ::/0 for any)` };
      const r = computePath(this.network, { from, to, destination, stages: stagesFor(this.network, d.functions), tieKey: q.client });
      if (!r.ok) return { rcode: 'SERVFAIL', reason: r.message };
      paths.push(toSrPath(destination, r, d.functions.map((f) => f.name)));
    }
    return q.type === 'AAAA' ? { rcode: 'NOERROR', a: [], aaaa: addresses, paths } : { rcode: 'NOERROR', a: addresses, aaaa: [], paths };
  }
}

function toSrPath(destination: string, r: PathOk, functions: string[]): SrPath {
  return { destination, segments: r.segments, returnSegments: r.returnSegments, nodes: r.nodes, cost: r.cost, functions };
}
