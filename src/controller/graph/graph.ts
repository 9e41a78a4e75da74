/**
 * The controller's view of the network, built from the config: nodes (proxies, access routers,
 * routers), attached prefixes (client and destination networks) as leaf nodes, links with costs,
 * and where each function runs. Pure.
 */
import { encodeSid } from '../../codec/sid.js';
import { formatAddress, parseAddress, prefixContains, type Prefix6 } from '../../net/ip6.js';
import type { ControllerConfig, FunctionRef, ProxyNode } from '../config.js';
import type { Edge, PathGraph, Stage } from './path.js';

export interface Network extends PathGraph {
  /** attached prefixes, longest first: their graph node id is `net:<prefix text>` */
  attachments: { id: string; prefix: Prefix6 }[];
  proxies: ProxyNode[];
}

export function buildNetwork(cfg: ControllerConfig): Network {
  const adjacency = new Map<string, Edge[]>();
  const ensure = (n: string): Edge[] => {
    let l = adjacency.get(n);
    if (!l) adjacency.set(n, (l = []));
    return l;
  };
  for (const p of cfg.proxies) ensure(p.name);
  for (const a of cfg.accessRouters) ensure(a.name);
  for (const r of cfg.routers) ensure(r);
  const attachments = new Map<string, Prefix6>();
  const idOf = (e: ControllerConfig['links'][number]['a']): string => {
    if (e.kind === 'node') return e.name;
    const id = `net:${formatAddress(e.prefix.addr)}/${e.prefix.length}`;
    attachments.set(id, e.prefix);
    return id;
  };
  for (const l of cfg.links) {
    const a = idOf(l.a);
    const b = idOf(l.b);
    const extra = { ...(l.capacity !== undefined ? { capacity: l.capacity } : {}), ...(l.latency !== undefined ? { latency: l.latency } : {}) };
    ensure(a).push({ to: b, cost: l.cost, ...extra });
    ensure(b).push({ to: a, cost: l.cost, ...extra });
  }
  const sorted = [...attachments].map(([id, prefix]) => ({ id, prefix })).sort((x, y) => y.prefix.length - x.prefix.length || (x.id < y.id ? -1 : 1));
  return {
    adjacency,
    transit: (n) => !n.startsWith('net:'),
    attachments: sorted,
    proxies: cfg.proxies,
  };
}

/** The attached prefix (graph node id) that holds the address: longest match, or undefined. */
export function attachmentOf(net: Network, address: string | Buffer): string | undefined {
  const bytes = typeof address === 'string' ? parseAddress(address) : address;
  return net.attachments.find((a) => prefixContains(a.prefix, bytes))?.id;
}

/** One stage per function: every proxy that hosts it, with its SID for the argument (first locator). */
export function stagesFor(net: Network, fns: readonly FunctionRef[]): Stage[] {
  return fns.map((f) => ({
    name: f.name,
    replicas: net.proxies.flatMap((p) => {
      const id = p.functions.get(f.name);
      const loc = p.locators[0];
      if (id === undefined || loc === undefined) return [];
      return [{ node: p.name, sid: formatAddress(encodeSid(loc, id, f.argument)) }];
    }),
  }));
}

/** The SID of a function (with its argument) on one proxy (first locator), or undefined when it does not host it. */
export function sidOn(net: Network, node: string, f: FunctionRef): string | undefined {
  const p = net.proxies.find((x) => x.name === node);
  const id = p?.functions.get(f.name);
  const loc = p?.locators[0];
  return id === undefined || loc === undefined ? undefined : formatAddress(encodeSid(loc, id, f.argument));
}
