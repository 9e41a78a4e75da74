/**
 * What `Lab.up` runs, as data: per namespace, the sysctls and the `ip -batch` / `tc -batch` lines of
 * each phase. Pure (no system calls), so it is unit-tested and printable.
 *
 * Phases (each runs in every namespace in parallel, one process per namespace):
 *   1. namespaces: `ip netns add` for all (one `ip -batch`)
 *   2. sysctls: accept_dad=0, keep_addr_on_down=1, seg6_enabled=1 on all/default (so every interface
 *      made later inherits them), forwarding=1 for routers and proxies
 *   3. veths: each link is made by its `a` host: `ip -n A link add ethX type veth peer name ethY netns B`
 *   4. interfaces: lo and ethN up, addresses with nodad, rate limits (tbf) with tc
 *   5. routes, and the host's own extra sysctls (which may name interfaces)
 */
import { rateBytesPerSecond } from './schema.js';
import type { Topology } from './topology.js';

export const NS_PREFIX = 's6p-';

/** s6p-<lab>-<host>. Host names have no "-", so the lab is everything between "s6p-" and the last "-". */
export function namespaceName(lab: string, host: string): string {
  return `${NS_PREFIX}${lab}-${host}`;
}

/** The lab a namespace belongs to, or undefined when the name is not a lab namespace. */
export function labOfNamespace(ns: string): string | undefined {
  if (!ns.startsWith(NS_PREFIX)) return undefined;
  const dash = ns.lastIndexOf('-');
  return dash > NS_PREFIX.length ? ns.slice(NS_PREFIX.length, dash) : undefined;
}

export interface NamespacePlan {
  host: string;
  ns: string;
  /** phase 2: key=value for `sysctl -w` */
  sysctls: string[];
  /** phase 3: `ip -batch` lines (veths this host makes) */
  veths: string[];
  /** phase 4: `ip -batch` lines */
  interfaces: string[];
  /** phase 4: `tc -batch` lines */
  qdiscs: string[];
  /** phase 5: `ip -6 -batch` lines */
  routes: string[];
  /** phase 5: key=value, the topology's own */
  extraSysctls: string[];
}

/** tbf with a 10 ms bucket (at least 32 KiB) and 50 ms of queue. */
export function tbfLine(dev: string, rate: string): string {
  const burst = Math.max(32 * 1024, Math.ceil(rateBytesPerSecond(rate) / 100));
  return `qdisc replace dev ${dev} root tbf rate ${rate} burst ${burst} latency 50ms`;
}

export function planLab(lab: string, topo: Topology): NamespacePlan[] {
  return Object.values(topo.hosts).map((h) => {
    const ns = namespaceName(lab, h.name);
    const forwarding = h.role === 'host' ? '0' : '1';
    const sysctls = [
      'net.ipv6.conf.all.accept_dad=0',
      'net.ipv6.conf.default.accept_dad=0',
      'net.ipv6.conf.all.keep_addr_on_down=1',
      // every host accepts SRHs: with seg6_enabled=0 the kernel drops any packet carrying one,
      // even one with Segments Left = 0 addressed to the host itself
      'net.ipv6.conf.all.seg6_enabled=1',
      'net.ipv6.conf.default.seg6_enabled=1',
      `net.ipv6.conf.all.forwarding=${forwarding}`,
      `net.ipv6.conf.default.forwarding=${forwarding}`,
    ];
    const veths: string[] = [];
    const interfaces = ['link set lo up'];
    const qdiscs: string[] = [];
    for (const itf of h.interfaces) {
      const link = topo.links[itf.link]!;
      const mtu = itf.mtu === undefined ? '' : ` mtu ${itf.mtu}`;
      if (link.a.host === h.name) {
        const peerNs = namespaceName(lab, link.b.host);
        veths.push(`link add ${itf.name}${mtu} type veth peer name ${link.b.iface}${mtu} netns ${peerNs}`);
      }
      interfaces.push(`link set ${itf.name} up`);
      interfaces.push(`address add ${itf.address}/${itf.prefixLength} dev ${itf.name} nodad`);
      if (itf.rate !== undefined) qdiscs.push(tbfLine(itf.name, itf.rate));
    }
    const routes = h.routes.map((r) => `route add ${r.to} via ${r.via}${r.metric !== undefined ? ` metric ${r.metric}` : ''}`);
    const extraSysctls = Object.entries(h.sysctls).map(([k, v]) => `${k}=${v}`);
    return { host: h.name, ns, sysctls, veths, interfaces, qdiscs, routes, extraSysctls };
  });
}

/** The whole plan as shell commands, for `lab up --dry-run` and for reading. */
export function planAsShell(plans: NamespacePlan[]): string[] {
  const out = plans.map((p) => `ip netns add ${p.ns}`);
  for (const p of plans) out.push(`ip netns exec ${p.ns} sysctl -q -w ${p.sysctls.join(' ')}`);
  for (const p of plans) for (const l of p.veths) out.push(`ip -n ${p.ns} ${l}`);
  for (const p of plans) {
    for (const l of p.interfaces) out.push(`ip -n ${p.ns} ${l}`);
    for (const l of p.qdiscs) out.push(`tc -n ${p.ns} ${l}`);
  }
  for (const p of plans) {
    for (const l of p.routes) out.push(`ip -6 -n ${p.ns} ${l}`);
    if (p.extraSysctls.length) out.push(`ip netns exec ${p.ns} sysctl -q -w ${p.extraSysctls.join(' ')}`);
  }
  return out;
}
