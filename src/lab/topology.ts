/**
 * Topologies: YAML files describing hosts (network namespaces), links (veth pairs), routes, SID
 * locators and services. `parseTopology` validates one and resolves it into plain data (interface
 * names, addresses) that the rest of the lab code and the state file use. Reading files: load.ts.
 *
 * Rules, also in README (lab):
 * - each host's interfaces are eth0, eth1, ... in the order of the links it appears in;
 * - a link end is `host` or `[host, "address/len"]`; a bare host takes an address from the link's
 *   `net`: the network address + 1 for `a`, + 2 for `b` (net fc00:1::/64 → a fc00:1::1, b fc00:1::2);
 * - a host's primary address is the first address on its first link.
 */
import { SrError } from '../core/errors.js';
import { formatAddress, formatPrefix, maskBuffer, parseAddress, parsePrefix, prefixContains, type Prefix6 } from '../net/ip6.js';
import { fieldPath, parseWith } from '../config/fields.js';
import { HOST_NAME, HOST_NAME_RULE, isLabAddress, topologySchema, type RawLink, type RawTopology } from './schema.js';

export type Role = 'host' | 'router' | 'proxy';

export interface Interface {
  /** eth0, eth1, ... */
  name: string;
  /** index into Topology.links */
  link: number;
  /** without length: fc00:1::2 */
  address: string;
  prefixLength: number;
  peer: { host: string; iface: string; address: string };
  mtu?: number;
  rate?: string;
}

export interface Route {
  /** 'default' or a prefix */
  to: string;
  via: string;
  metric?: number;
  /** a source prefix: the route serves only packets from it (source-based routing) */
  from?: string;
}

export interface Service {
  name: string;
  argv: string[];
  env: Record<string, string>;
}

export interface Host {
  name: string;
  role: Role;
  locators: string[];
  routes: Route[];
  services: Service[];
  sysctls: Record<string, string>;
  /** the lab sets none of its own sysctls on this host (kernel defaults: seg6_enabled=0) */
  kernelDefaults: boolean;
  interfaces: Interface[];
}

export interface LinkEnd {
  host: string;
  iface: string;
  address: string;
}

export interface Link {
  a: LinkEnd;
  b: LinkEnd;
  /** the link's subnet */
  net: string;
  mtu?: number;
  rate?: string;
  /** one-way delay in each direction, e.g. "25ms" (a link emulator in a middle namespace) */
  delay?: string;
  /** random loss in each direction, e.g. "1%" (nftables at each receiving end) */
  loss?: string;
}

export interface Topology {
  name: string;
  description: string;
  /** a built-in's name or a file path */
  source: string;
  /** in file order */
  hosts: Record<string, Host>;
  links: Link[];
}

function invalid(source: string, path: readonly PropertyKey[], message: string): SrError {
  return new SrError('TOPOLOGY_INVALID', `${source}: ${fieldPath(path)}: ${message}`);
}

/** The address `n` after `base` (no carry past byte 0: prefixes in a lab are far from that). */
function offsetAddress(base: Buffer, n: number): Buffer {
  const out = Buffer.from(base);
  let carry = n;
  for (let i = 15; i >= 0 && carry > 0; i--) {
    const v = out[i]! + carry;
    out[i] = v & 0xff;
    carry = v >> 8;
  }
  return out;
}

/** "fc00:1::2/64" (or "fc00:1::2" with the net's length) → address and length. */
function parseEndAddress(text: string, net: Prefix6 | undefined): { addr: Buffer; length: number } | string {
  const [a, len] = text.split('/');
  let addr: Buffer;
  try {
    addr = parseAddress(a ?? '');
  } catch {
    return `not an IPv6 address: "${text}"`;
  }
  if (len === undefined) {
    if (!net) return `"${text}" needs a /length (or give the link a net)`;
    return { addr, length: net.length };
  }
  const length = Number(len);
  if (!/^\d{1,3}$/.test(len) || length < 1 || length > 128) return `bad prefix length in "${text}"`;
  return { addr, length };
}

function resolveLinks(raw: RawTopology, source: string, hosts: ReadonlyMap<string, Host>): Link[] {
  const owners = new Map<string, string>(); // address → "host ethN"
  const subnets: { prefix: Prefix6; index: number }[] = [];
  return raw.links.map((l: RawLink, i) => {
    const net = l.net === undefined ? undefined : parsePrefix(l.net);
    const ends = (['a', 'b'] as const).map((side, k) => {
      const e = l[side];
      const [hostName, text] = typeof e === 'string' ? [e, undefined] : e;
      const path = typeof e === 'string' ? ['links', i, side] : ['links', i, side, 1];
      const host = hosts.get(hostName);
      if (!host) {
        throw invalid(source, ['links', i, side], `unknown host "${hostName}" (hosts: ${[...hosts.keys()].join(', ')})`);
      }
      let addr: Buffer;
      let length: number;
      if (text === undefined) {
        if (!net) throw invalid(source, ['links', i, 'net'], `needed: "${hostName}" has no address of its own`);
        if (net.length > 126) throw invalid(source, ['links', i, 'net'], 'too long to pick addresses from (at most /126)');
        [addr, length] = [offsetAddress(net.addr, k + 1), net.length];
      } else {
        const r = parseEndAddress(text, net);
        if (typeof r === 'string') throw invalid(source, path, r);
        ({ addr, length } = r);
        if (!isLabAddress(addr)) throw invalid(source, path, `${text}: labs use only ULA (fc00::/7) or 2001:db8::/32 addresses`);
        if (net && (length !== net.length || !prefixContains(net, addr))) throw invalid(source, path, `${text} is not in net ${l.net}`);
      }
      const address = formatAddress(addr);
      const iface = `eth${host.interfaces.length}`;
      const taken = owners.get(address);
      if (taken) throw invalid(source, path, `address ${address} is already used by ${taken}`);
      owners.set(address, `${hostName} ${iface}`);
      const itf: Interface = { name: iface, link: i, address, prefixLength: length, peer: { host: '', iface: '', address: '' } };
      if (l.mtu !== undefined) itf.mtu = l.mtu;
      if (l.rate !== undefined) itf.rate = l.rate;
      host.interfaces.push(itf);
      return { end: { host: hostName, iface, address }, itf, addr, length };
    });
    const [a, b] = ends as [(typeof ends)[0], (typeof ends)[0]];
    if (a.end.host === b.end.host) throw invalid(source, ['links', i, 'b'], `a link joins two different hosts (both are "${a.end.host}")`);
    const prefix: Prefix6 = { addr: maskBuffer(a.addr, a.length), length: a.length };
    if (b.length !== a.length || !prefixContains(prefix, b.addr)) {
      throw invalid(source, ['links', i, 'b'], `${b.end.address}/${b.length} is not in the subnet of a (${formatPrefix(prefix)})`);
    }
    for (const s of subnets) {
      if (prefixContains(s.prefix, prefix.addr) || prefixContains(prefix, s.prefix.addr)) {
        throw invalid(source, ['links', i], `subnet ${formatPrefix(prefix)} overlaps that of links[${s.index}] (${formatPrefix(s.prefix)})`);
      }
    }
    subnets.push({ prefix, index: i });
    a.itf.peer = { ...b.end };
    b.itf.peer = { ...a.end };
    const link: Link = { a: a.end, b: b.end, net: formatPrefix(prefix) };
    if (l.mtu !== undefined) link.mtu = l.mtu;
    if (l.rate !== undefined) link.rate = l.rate;
    if (l.delay !== undefined) link.delay = l.delay;
    if (l.loss !== undefined) link.loss = l.loss;
    return link;
  });
}

/** A prefix in canonical form; complains about host bits. */
function canonicalPrefix(source: string, path: PropertyKey[], text: string): Prefix6 {
  const p = parsePrefix(text);
  const [addr] = text.split('/');
  if (!parseAddress(addr ?? '').equals(p.addr)) {
    throw invalid(source, path, `${text} has host bits set (write ${formatPrefix(p)})`);
  }
  return p;
}

function checkHost(raw: RawTopology, source: string, host: Host, links: Link[]): void {
  const base = ['hosts', host.name];
  if (host.interfaces.length === 0) throw invalid(source, base, 'is not on any link');
  const connected = host.interfaces.map((i) => parsePrefix(links[i.link]!.net));
  const tos = new Set<string>();
  raw.hosts[host.name]!.routes.forEach((r, k) => {
    const path = [...base, 'routes', k];
    const to = r.to === 'default' ? 'default' : formatPrefix(canonicalPrefix(source, [...path, 'to'], r.to));
    const from = r.from === undefined ? undefined : formatPrefix(canonicalPrefix(source, [...path, 'from'], r.from));
    const key = `${to} from ${from ?? '::/0'} metric ${r.metric ?? 1024}`;
    if (tos.has(key)) throw invalid(source, [...path, 'to'], `a second route to ${to} with the same metric (give a backup route a higher \`metric\`)`);
    tos.add(key);
    const via = parseAddress(r.via);
    if (!connected.some((c) => prefixContains(c, via))) {
      throw invalid(source, [...path, 'via'], `${r.via} is not on any of ${host.name}'s links (${connected.map(formatPrefix).join(', ')})`);
    }
    if (host.interfaces.some((i) => i.address === formatAddress(via))) {
      throw invalid(source, [...path, 'via'], `${r.via} is ${host.name}'s own address`);
    }
    host.routes.push({ to, via: formatAddress(via), ...(r.metric !== undefined ? { metric: r.metric } : {}), ...(from !== undefined ? { from } : {}) });
  });
  host.locators = raw.hosts[host.name]!.locators.map((l, k) => formatPrefix(canonicalPrefix(source, [...base, 'locators', k], l)));
  const names = new Set<string>();
  host.services.forEach((s, k) => {
    if (names.has(s.name)) throw invalid(source, [...base, 'services', k, 'name'], `a second service named "${s.name}"`);
    names.add(s.name);
  });
}

function checkLocators(source: string, hosts: Host[], links: Link[]): void {
  const taken: { p: Prefix6; what: string }[] = links.map((l, i) => ({ p: parsePrefix(l.net), what: `the subnet of links[${i}]` }));
  for (const h of hosts) {
    h.locators.forEach((text, k) => {
      const p = parsePrefix(text);
      const clash = taken.find((t) => prefixContains(t.p, p.addr) || prefixContains(p, t.p.addr));
      if (clash) throw invalid(source, ['hosts', h.name, 'locators', k], `${text} overlaps ${clash.what}`);
      taken.push({ p, what: `locator ${text} of ${h.name}` });
    });
  }
}

/** Validates a parsed YAML document and resolves it. */
export function validateTopology(doc: unknown, source = 'topology'): Topology {
  // zod drops a `__proto__` key silently: names are checked on the document as parsed
  const rawHosts: unknown = doc !== null && typeof doc === 'object' && Object.hasOwn(doc, 'hosts') ? (doc as { hosts: unknown }).hosts : undefined;
  if (rawHosts !== null && typeof rawHosts === 'object' && !Array.isArray(rawHosts)) {
    for (const name of Object.keys(rawHosts)) if (!HOST_NAME.test(name)) throw invalid(source, ['hosts', name], `bad host name: ${HOST_NAME_RULE}`);
  }
  const raw = parseWith(topologySchema, doc, (path, message) => invalid(source, path, message));
  // a Map, not a plain object: a name from the file (`toString`, `__proto__`) must not find Object.prototype's members
  const hosts = new Map<string, Host>();
  for (const [name, h] of Object.entries(raw.hosts)) {
    if (!HOST_NAME.test(name)) throw invalid(source, ['hosts', name], `bad host name: ${HOST_NAME_RULE}`);
    hosts.set(name, { name, role: h.role, locators: [], routes: [], services: h.services, sysctls: h.sysctls, kernelDefaults: h.kernelDefaults, interfaces: [] });
  }
  const links = resolveLinks(raw, source, hosts);
  for (const h of hosts.values()) checkHost(raw, source, h, links);
  checkLocators(source, [...hosts.values()], links);
  return { name: raw.name, description: raw.description, source, hosts: Object.fromEntries(hosts), links };
}

function hostOf(topo: Topology, host: string): Host {
  const h = Object.hasOwn(topo.hosts, host) ? topo.hosts[host] : undefined;
  if (!h) {
    throw new SrError('LAB_UNKNOWN_HOST', `no host "${host}" in topology ${topo.name} (hosts: ${Object.keys(topo.hosts).join(', ')})`);
  }
  return h;
}

/** A host's primary address: the first address on its first link. LAB_UNKNOWN_HOST. */
export function hostAddress(topo: Topology, host: string): string {
  return hostOf(topo, host).interfaces[0]!.address;
}

/** Every address of a host, in interface order (no prefix lengths). */
export function hostAddresses(topo: Topology, host: string): string[] {
  return hostOf(topo, host).interfaces.map((i) => i.address);
}

export function topologyHost(topo: Topology, host: string): Host {
  return hostOf(topo, host);
}
