/**
 * What `Lab.up` runs, as data: per namespace, the sysctls and the `ip -batch` / `tc -batch` lines of
 * each phase. Pure (no system calls), so it is unit-tested and printable.
 *
 * Phases (each runs in every namespace in parallel, one process per namespace):
 *   1. namespaces: `ip netns add` for all (one `ip -batch`)
 *   2. sysctls: accept_dad=0, keep_addr_on_down=1, seg6_enabled=1 on all/default (so every interface
 *      made later inherits them), forwarding=1 for routers and proxies; none on a host with
 *      `kernelDefaults` (a stock host: seg6_enabled=0)
 *   3. veths: each link is made by its `a` host: `ip -n A link add ethX type veth peer name ethY netns B`
 *   4. interfaces: lo and ethN up, addresses with nodad, rate limits (tbf) with tc
 *   5. routes, and the host's own extra sysctls (which may name interfaces); loss rules (nftables)
 *
 * A link with `delay` gets a middle namespace `s6p-<lab>-_l<i>` (no host name starts with "_"): the
 * `a` end's veth peers with `la` there, `lb` peers with the `b` end, and the link emulator (linkemu/)
 * bridges la and lb with the delay (started by Lab.up after phase 4). A link with `loss` gets, at each
 * end, an nftables `netdev` ingress chain dropping that share of the frames it receives. Both set
 * `gso_max_segs 1` on the link's two ends, so every frame on the wire is one packet (MTU-sized): the
 * delay and loss apply per packet, as on a real wire, not per 64 KB GSO super-frame.
 */
import { delayMicros, lossBasisPoints, rateBytesPerSecond } from './schema.js';
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

/** The middle namespace's host key of emulated link i (not a valid host name: no clash). */
export function linkHost(i: number): string {
  return `_l${i}`;
}

/** The emulator's two interfaces in the middle namespace: `la` towards the link's a, `lb` towards b. */
export const EMU_IF = { a: 'la', b: 'lb' } as const;

/** nftables table (family netdev) holding a host's loss chains. */
export const LOSS_TABLE = 's6plink';

export interface EmulatorPlan {
  link: number;
  delayUs: number;
  mtu: number;
}

export interface NamespacePlan {
  /** a topology host, or linkHost(i) for an emulated link's middle namespace */
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
  /** phase 5: an `nft -f -` ruleset (loss on this host's lossy links), when there is one */
  nft?: string;
  /** after phase 4, only in a middle namespace: the link emulator to start */
  emulator?: EmulatorPlan;
}

/** The netdev ingress chains that drop `loss` of what each listed interface receives (counted). */
export function lossRuleset(ifaces: { iface: string; loss: string }[]): string | undefined {
  if (ifaces.length === 0) return undefined;
  const lines = [`table netdev ${LOSS_TABLE} {`];
  for (const { iface, loss } of ifaces) {
    lines.push(
      `  chain in_${iface} {`,
      `    type filter hook ingress device "${iface}" priority -500; policy accept;`,
      '    counter',
      `    numgen random mod 10000 < ${lossBasisPoints(loss)} counter drop`,
      '  }',
    );
  }
  lines.push('}', '');
  return lines.join('\n');
}

/** tbf with a 10 ms bucket (at least 32 KiB) and 50 ms of queue. */
export function tbfLine(dev: string, rate: string): string {
  const burst = Math.max(32 * 1024, Math.ceil(rateBytesPerSecond(rate) / 100));
  return `qdisc replace dev ${dev} root tbf rate ${rate} burst ${burst} latency 50ms`;
}

export function planLab(lab: string, topo: Topology): NamespacePlan[] {
  return [...Object.values(topo.hosts).map((h) => planHost(lab, topo, h.name)), ...planEmulators(lab, topo)];
}

/** The middle namespaces of the links with a delay. */
function planEmulators(lab: string, topo: Topology): NamespacePlan[] {
  const out: NamespacePlan[] = [];
  topo.links.forEach((link, i) => {
    if (link.delay === undefined) return;
    const host = linkHost(i);
    const mtu = link.mtu === undefined ? '' : ` mtu ${link.mtu}`;
    out.push({
      host,
      ns: namespaceName(lab, host),
      // a wire has no addresses: no IPv6 on la/lb (no link-local, no router solicitations)
      sysctls: ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'],
      veths: [`link add name ${EMU_IF.b}${mtu} type veth peer name ${link.b.iface}${mtu} netns ${namespaceName(lab, link.b.host)}`],
      interfaces: ['link set lo up', `link set ${EMU_IF.a} up promisc on`, `link set ${EMU_IF.b} up promisc on`],
      qdiscs: [],
      routes: [],
      extraSysctls: [],
      emulator: { link: i, delayUs: delayMicros(link.delay), mtu: link.mtu ?? 1500 },
    });
  });
  return out;
}

function planHost(lab: string, topo: Topology, name: string): NamespacePlan {
  const h = topo.hosts[name]!;
  const ns = namespaceName(lab, h.name);
  const forwarding = h.role === 'host' ? '0' : '1';
  // kernelDefaults: a stock host, nothing set (seg6_enabled=0: it drops every packet with an SRH)
  const sysctls = h.kernelDefaults ? [] : [
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
  const lossy: { iface: string; loss: string }[] = [];
  for (const itf of h.interfaces) {
    const link = topo.links[itf.link]!;
    const mtu = itf.mtu === undefined ? '' : ` mtu ${itf.mtu}`;
    if (link.a.host === h.name) {
      // a delayed link's a end peers with the emulator's `la` in the middle namespace
      const [peer, peerNs] = link.delay === undefined ? [link.b.iface, namespaceName(lab, link.b.host)] : [EMU_IF.a, namespaceName(lab, linkHost(itf.link))];
      veths.push(`link add ${itf.name}${mtu} type veth peer name ${peer}${mtu} netns ${peerNs}`);
    }
    interfaces.push(`link set ${itf.name} up`);
    if (link.delay !== undefined || link.loss !== undefined) interfaces.push(`link set ${itf.name} gso_max_segs 1`);
    interfaces.push(`address add ${itf.address}/${itf.prefixLength} dev ${itf.name} nodad`);
    if (itf.rate !== undefined) qdiscs.push(tbfLine(itf.name, itf.rate));
    if (link.loss !== undefined) lossy.push({ iface: itf.name, loss: link.loss });
  }
  const routes = h.routes.map((r) => `route add ${r.to}${r.from !== undefined ? ` from ${r.from}` : ''} via ${r.via}${r.metric !== undefined ? ` metric ${r.metric}` : ''}`);
  const extraSysctls = Object.entries(h.sysctls).map(([k, v]) => `${k}=${v}`);
  const plan: NamespacePlan = { host: h.name, ns, sysctls, veths, interfaces, qdiscs, routes, extraSysctls };
  const nft = lossRuleset(lossy);
  if (nft !== undefined) plan.nft = nft;
  return plan;
}

/** The whole plan as shell commands, for `lab up --dry-run` and for reading. */
export function planAsShell(plans: NamespacePlan[]): string[] {
  const out = plans.map((p) => `ip netns add ${p.ns}`);
  for (const p of plans) if (p.sysctls.length) out.push(`ip netns exec ${p.ns} sysctl -q -w ${p.sysctls.join(' ')}`);
  for (const p of plans) for (const l of p.veths) out.push(`ip -n ${p.ns} ${l}`);
  for (const p of plans) {
    for (const l of p.interfaces) out.push(`ip -n ${p.ns} ${l}`);
    for (const l of p.qdiscs) out.push(`tc -n ${p.ns} ${l}`);
  }
  for (const p of plans) {
    if (p.emulator) out.push(`ip netns exec ${p.ns} node linkemu/main.js --a ${EMU_IF.a} --b ${EMU_IF.b} --delay-us ${p.emulator.delayUs} --mtu ${p.emulator.mtu} --stats … &`);
  }
  for (const p of plans) {
    for (const l of p.routes) out.push(`ip -6 -n ${p.ns} ${l}`);
    if (p.extraSysctls.length) out.push(`ip netns exec ${p.ns} sysctl -q -w ${p.extraSysctls.join(' ')}`);
    if (p.nft) out.push(`ip netns exec ${p.ns} nft -f - <<'EOF'\n${p.nft}EOF`);
  }
  return out;
}
