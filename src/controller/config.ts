/**
 * The controller's configuration: YAML (JSON is YAML too), validated by a zod schema. Every error
 * names the field (`policies[1].allow[0].function: ...`). See docs/controller.md for the reference.
 */
import { dirname, resolve as resolvePath } from 'node:path';
import { parseYamlText, readConfigText } from '../config/file.js';
import { z } from 'zod';
import { duration } from '../config/duration.js';
import { upgradeOldForms, type OldForm } from '../config/deprecated.js';
import { configInvalid, parseWith } from '../config/fields.js';
import { CONTROLLER_METRICS_SCHEMA, type ControllerMetricsConfig } from './metrics-config.js';
import { STORE_SCHEMA, storeConfig, type StoreConfig } from './store/config.js';
import { addressSchema, isIpv4Text, isPrefixText, locatorsSchema, networkPrefixSchema, logLevelSchema, portSchema, prefixSchema, returnHopSchema, type LogLevel } from '../config/schemas.js';
import { SrError } from '../core/errors.js';
import { formatAddress, formatPrefix, isAddress, parseAddress, parsePrefix, prefixContains, type Prefix6 } from '../net/ip6.js';
import type { SidLayout } from '../codec/sid.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nodeName = z.string().regex(NAME, 'a node name: letters, digits, _ . - (at most 63)');
const fnName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'a function name: letters, digits, _ - (no comma)');

const prefix = prefixSchema;
const address = addressSchema;
/** a function argument: a number, or a hex string such as "0x5a" */
const argument = z.union([
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  z.string().regex(/^(0x[0-9a-fA-F]+|\d+)$/, 'an integer or a hex string such as 0x5a'),
]);

const fnRef = z.union([fnName, z.object({ function: fnName, argument: argument.default(0) }).strict()]);

const proxy = z
  .object({
    name: nodeName,
    locators: locatorsSchema,
    /** function name → function id (as configured on that proxy) */
    functions: z.record(fnName, z.number().int().min(0)),
    /** the proxy's admin endpoint (its `admin` setting, on an address the controller reaches): GET /health */
    health: z.object({ address: address, port: portSchema.default(7778) }).strict().optional(),
    /** the proxy's return hop (its `returnPath`): handed to return-steering hosts (docs/return-traffic.md) */
    returnPath: returnHopSchema.optional(),
  })
  .strict();

/** the agent of an access router: `http` (a remote `srv6pipes access-router`) or `local` — one object, so that errors name the field */
const agentSpec = z
  .object({
    /** a remote `srv6pipes access-router` agent: its token, and for HTTPS the CA that signed its certificate */
    http: z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+):\d{1,5}$/, '[ADDR]:PORT of the agent, e.g. "[fc00:9::1]:7780"').optional(),
    tokenFile: z.string().min(1).optional(),
    tls: z
      .object({
        /** the CA (or self-signed certificate) the agent's certificate must chain to */
        ca: z.string().min(1),
        /** for an agent with --tls-client-ca: the controller's certificate and key */
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        /** the name in the agent's certificate, when it is not the address */
        serverName: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'a DNS name').optional(),
      })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), 'cert and key go together')
      .optional(),
    /** how long to wait for the agent's answer */
    timeout: duration({ min: 100, max: 60_000 }).optional(),
    /** the controller runs `ip`/`nft` itself, on its own host or inside a network namespace */
    local: z
      .object({
        namespace: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a network namespace name').optional(),
        tunnelSource: address.optional(),
        clientInterfaces: z.array(z.string().regex(/^[A-Za-z0-9_.@-]{1,15}$/, 'an interface name')).default([]),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if ((a.http === undefined) === (a.local === undefined)) ctx.addIssue({ code: 'custom', message: 'either `http: "[ADDR]:PORT"` (a remote agent) or `local: {...}`' });
    else if (a.local !== undefined) {
      for (const k of ['tokenFile', 'tls', 'timeout'] as const) if (a[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'only for an `http` agent' });
    }
  });
const accessRouter = z.object({ name: nodeName, bsidPrefix: networkPrefixSchema, agent: agentSpec.optional() }).strict();

const endpoint = z.string().min(1);
/**
 * Link costs are integers 1..MAX_LINK_COST: the path search adds them exactly (issue 12, item 8: a
 * cost of 2e16 made it loop), and latency (ms, at most MAX_LINK_LATENCY_MS) counts in whole µs.
 */
export const MAX_LINK_COST = 1_000_000;
export const MAX_LINK_LATENCY_MS = 60_000;
export const MAX_LINK_CAPACITY_MBPS = 1e9;
const link = z
  .object({
    a: endpoint,
    b: endpoint,
    cost: z.number().int('an integer 1..1000000').min(1).max(MAX_LINK_COST).default(1),
    /** Mbit/s: a request for more bandwidth (option 65002) does not use this link */
    capacity: z.number().positive().max(MAX_LINK_CAPACITY_MBPS).optional(),
    /** ms, one way: a request with a latency bound (option 65003) minimises the sum of these (µs resolution) */
    latency: z.number().min(0).max(MAX_LINK_LATENCY_MS).optional(),
  })
  .strict();

const zoneRecords = z.record(z.string().regex(/^(@|[A-Za-z0-9*_-][A-Za-z0-9_.-]*)$/, 'a relative name or @'), z.union([address, z.array(address).min(1)]));

const policy = z
  .object({
    clients: z.union([prefix, z.array(prefix).min(1)]).default('::/0'),
    /** a name (in a zone) or an IPv6 prefix; omitted = any destination */
    destination: z.string().min(1).optional(),
    /** only requests that carry this destination port (EDNS0 option 65005) */
    port: portSchema.optional(),
    require: z.array(fnRef).default([]),
    allow: z.array(fnRef).default([]),
    deny: z.boolean().default(false),
    /**
     * answer with a return path too (TYPE 65282): each proxy's SID, last proxy first; `downstream`
     * names, per function of the chain, another function of the same proxy for the replies (asymmetric)
     */
    returnPath: z.union([z.boolean(), z.object({ downstream: z.record(fnName, fnRef).default({}) }).strict()]).default(false),
  })
  .strict();

/** a token bucket: `burst` at once, then `perSecond` */
const rate = z.object({ perSecond: z.number().positive().max(1e6), burst: z.number().int().min(1).max(1e6) }).strict();

/** `upstream`: the old form (a string: forwarding for nobody) or `{ server, allow, rate }` */
const upstreamSpec = z.union([
  z.string(),
  z
    .object({
      server: z.string(),
      /** the client prefixes whose out-of-zone names are forwarded; anyone else gets REFUSED */
      allow: z.array(prefix).default([]),
      /** forwarded queries per client network (`limits.clientPrefix`) */
      rate: rate.default({ perSecond: 20, burst: 40 }),
    })
    .strict(),
]);

const limits = z
  .object({
    /** TCP connections at once, in all and per client address */
    tcpConnections: z.number().int().min(1).max(100_000).default(256),
    tcpConnectionsPerClient: z.number().int().min(1).max(10_000).default(8),
    /** queries read from one connection and not answered yet: reading pauses beyond */
    tcpQueriesInFlight: z.number().int().min(1).max(1024).default(16),
    /** bytes of answers not yet taken by a TCP client: reading pauses beyond */
    tcpWriteBuffer: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
    /** without a complete query (or without the client reading) this long, a TCP connection is closed */
    tcpIdle: duration({ min: 100, max: 600_000 }).default(10_000),
    /** rate limits count per client network of this prefix length (IPv6) */
    clientPrefix: z.number().int().min(32).max(128).default(64),
    /** client networks the rate limiters remember (least recently seen forgotten first) */
    trackedClients: z.number().int().min(16).max(1_000_000).default(10_000),
  })
  .strict();
const LIMIT_DEFAULTS = { tcpConnections: 256, tcpConnectionsPerClient: 8, tcpQueriesInFlight: 16, tcpWriteBuffer: 64 * 1024, tcpIdle: 10_000, clientPrefix: 64, trackedClients: 10_000 };

const schema = z
  .object({
    listen: z
      .object({ address: address.default('::'), port: z.number().int().min(0).max(65535).default(53) })
      .strict()
      .default({ address: '::', port: 53 }),
    ttl: z.number().int().min(0).max(86400).default(60),
    logLevel: logLevelSchema,
    /** answer with binding SIDs (TYPE 65280) for clients behind an access router that has an agent */
    bindingSids: z
      .union([
        z.literal(false),
        z
          .object({
            /** how long a BSID lives after the client's last query (a bare number: seconds, deprecated) */
            lifetime: duration({ min: 1000, max: 7 * 86_400_000 }).default(300_000),
            /** who may ask for the segments behind a BSID (the proxies): prefixes; the proxies' health addresses always may */
            lookupFrom: z.array(prefix).default([]),
            priority: z.number().int().min(0).max(65535).default(10),
            /** BSIDs one client address may hold at once (a new one beyond → REFUSED) */
            perClient: z.number().int().min(1).max(4096).default(16),
            /** BSIDs in all */
            max: z.number().int().min(1).max(1_000_000).default(10_000),
            /** new BSIDs per client network (`limits.clientPrefix`): token bucket */
            rate: rate.default({ perSecond: 2, burst: 16 }),
            /** an answer that needs a binding (or a lookup from the store) waits at most this long, then SERVFAIL; the binding goes on */
            answerWithin: duration({ min: 100, max: 60_000 }).default(3000),
          })
          .strict(),
      ])
      .default(false),
    health: z
      .object({
        interval: duration({ min: 100, max: 600_000 }).default(2000),
        timeout: duration({ min: 50, max: 60_000 }).default(1000),
        fall: z.number().int().min(1).max(100).default(2),
        rise: z.number().int().min(1).max(100).default(1),
      })
      .strict()
      .default({ interval: 2000, timeout: 1000, fall: 2, rise: 1 }),
    nodes: z
      .object({
        proxies: z.array(proxy).default([]),
        accessRouters: z.array(accessRouter).default([]),
        routers: z.array(nodeName).default([]),
      })
      .strict(),
    links: z.array(link).default([]),
    zones: z.record(z.string().min(1), zoneRecords).default({}),
    upstream: upstreamSpec.optional(),
    /** who may ask the private questions (BSID lookups, return hops) besides the proxies' `health` addresses */
    privateLookups: z.object({ allow: z.array(prefix).default([]) }).strict().default({ allow: [] }),
    limits: limits.default(LIMIT_DEFAULTS),
    policies: z.array(policy).default([]),
    /** what a query that no policy matches gets: a plain answer (no function), or REFUSED */
    unmatched: z.enum(['plain', 'refuse']).default('plain'),
    /** Prometheus metrics on a read-only HTTP listener (controller/metrics.ts, docs/metrics.md); off by default */
    metrics: z.union([z.literal('off'), z.literal(false), CONTROLLER_METRICS_SCHEMA]).default('off'),
    /** where the BSID state lives: `memory` (this process) or `{ etcd: {...} }` (shared by every instance; store/config.ts) */
    store: STORE_SCHEMA,
  })
  .strict();

export interface FunctionRef {
  name: string;
  argument: bigint;
}

export interface ProxyNode {
  name: string;
  locators: SidLayout[];
  /** function name → id */
  functions: Map<string, number>;
  health?: { address: string; port: number };
  returnPath?: { id: number; sid: string };
}

export type Endpoint = { kind: 'node'; name: string } | { kind: 'prefix'; prefix: Prefix6; text: string };

export interface LinkSpec {
  a: Endpoint;
  b: Endpoint;
  cost: number;
  capacity?: number;
  latency?: number;
}

export interface Policy {
  index: number;
  clients: Prefix6[];
  destination: { kind: 'any' } | { kind: 'name'; name: string } | { kind: 'prefix'; prefix: Prefix6 };
  port?: number;
  require: FunctionRef[];
  allow: FunctionRef[];
  deny: boolean;
  /** answers carry a return path; `downstream`: forward function name → the function for the replies */
  returnPath: { downstream: Map<string, FunctionRef> } | null;
}

export interface AgentTlsSpec {
  ca: string;
  cert?: string;
  key?: string;
  serverName?: string;
}

export type AgentSpec =
  | { kind: 'http'; endpoint: string; tokenFile?: string; tls?: AgentTlsSpec; timeoutMs: number }
  | { kind: 'local'; namespace?: string; tunnelSource?: string; clientInterfaces: string[] };

export interface AccessRouterNode {
  name: string;
  bsidPrefix: Prefix6;
  agent?: AgentSpec;
}

export interface RateSpec {
  perSecond: number;
  burst: number;
}

export interface BindingSidConfig {
  lifetimeMs: number;
  lookupFrom: Prefix6[];
  priority: number;
  perClient: number;
  max: number;
  rate: RateSpec;
  /** an answer waits at most this long for its binding (ms) */
  answerWithinMs: number;
}

export interface UpstreamConfig {
  address: string;
  port: number;
  /** client prefixes whose out-of-zone names are forwarded (empty: nobody) */
  allow: Prefix6[];
  rate: RateSpec;
}

export interface DnsLimits {
  tcpConnections: number;
  tcpConnectionsPerClient: number;
  tcpQueriesInFlight: number;
  tcpWriteBuffer: number;
  tcpIdleMs: number;
  clientPrefix: number;
  trackedClients: number;
}

export interface ControllerConfig {
  listen: { address: string; port: number };
  bindingSids: BindingSidConfig | null;
  health: { intervalMs: number; timeoutMs: number; fall: number; rise: number };
  /** other names are forwarded there, for the clients in `allow` */
  upstream?: UpstreamConfig;
  /** who may ask the private questions (BSID lookups, return hops), besides the proxies' `health` addresses and `bindingSids.lookupFrom` */
  privateLookups: Prefix6[];
  limits: DnsLimits;
  ttl: number;
  logLevel: LogLevel;
  proxies: ProxyNode[];
  accessRouters: AccessRouterNode[];
  routers: string[];
  links: LinkSpec[];
  /** zone apex (lower case, no trailing dot) → owner name (lower case, fully qualified) → addresses */
  zones: Map<string, Map<string, { aaaa: string[]; a: string[] }>>;
  policies: Policy[];
  unmatched: 'plain' | 'refuse';
  /** the /metrics listener; null: none */
  metrics: ControllerMetricsConfig | null;
  /** the shared BSID store; null: in memory */
  store: StoreConfig;
  /** old forms the file used (one line each, to log once per load): see src/config/deprecated.ts */
  deprecations: string[];
}

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.+$/, '');
}

type Raw = z.infer<typeof schema>;
type Invalid = (path: readonly PropertyKey[], message: string) => SrError;

/** Old forms still accepted, with a deprecation line (src/config/deprecated.ts). */
const OLD_FORMS: readonly OldForm[] = [
  {
    at: ['bindingSids'],
    key: 'lifetime',
    old: (v) => typeof v === 'number',
    upgrade: (v) => `${String(v)}s`,
    says: 'a bare number in `bindingSids.lifetime` counts seconds, which is deprecated (a bare number is milliseconds everywhere else): write the unit, e.g. `300s` or `5m`',
  },
];

/** `upstream`: the old string form or `{ server, allow, rate }`; the server's address and port checked. */
function upstreamConfig(u: Raw['upstream'], invalid: Invalid): UpstreamConfig | undefined {
  if (u === undefined) return undefined;
  const spec = typeof u === 'string' ? { server: u, allow: [], rate: { perSecond: 20, burst: 40 } } : u;
  const text = spec.server.trim();
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(text);
  const addr = m ? m[1]! : text;
  const port = m?.[2] !== undefined ? Number(m[2]) : 53;
  if (!(isAddress(addr) || isIpv4Text(addr)) || port < 1 || port > 65535) throw invalid(typeof u === 'string' ? ['upstream'] : ['upstream', 'server'], 'ADDR, [ADDR]:PORT or IPv4:PORT of a DNS resolver');
  return { address: addr, port, allow: spec.allow.map((x) => parsePrefix(x)), rate: spec.rate };
}

interface Nodes {
  proxies: ProxyNode[];
  accessRouters: AccessRouterNode[];
  routers: string[];
  /** every node name */
  names: Set<string>;
  /** every function some proxy hosts */
  hosted: Set<string>;
}

/** `nodes`: names unique, function ids fitting the locators, return SIDs inside them, return ids unique. */
function nodesConfig(n: Raw['nodes'], invalid: Invalid): Nodes {
  const names = new Set<string>();
  const addName = (name: string, path: PropertyKey[]): void => {
    if (names.has(name)) throw invalid(path, `node name "${name}" is used twice`);
    names.add(name);
  };
  const hosted = new Set<string>();
  const proxies: ProxyNode[] = n.proxies.map((p, i) => {
    addName(p.name, ['nodes', 'proxies', i, 'name']);
    for (const [fn, id] of Object.entries(p.functions)) {
      hosted.add(fn);
      p.locators.forEach((l, j) => {
        if (id >= 2 ** l.functionBits) throw invalid(['nodes', 'proxies', i, 'functions', fn], `${id} does not fit the ${l.functionBits} function bits of locators[${j}] (${formatPrefix(l.locator)}): 0–${2 ** l.functionBits - 1}`);
      });
    }
    p.locators.forEach((l, j) => {
      n.proxies.slice(0, i).forEach((q, k) => {
        const clash = q.locators.find((o) => prefixContains(o.locator, l.locator.addr) || prefixContains(l.locator, o.locator.addr));
        if (clash) throw invalid(['nodes', 'proxies', i, 'locators', j, 'prefix'], `${formatPrefix(l.locator)} overlaps ${formatPrefix(clash.locator)} of nodes.proxies[${k}] (${q.name}): a SID would name two proxies`);
      });
    });
    const rp = p.returnPath;
    if (rp && !p.locators.some((l) => prefixContains(l.locator, parseAddress(rp.sid)))) throw invalid(['nodes', 'proxies', i, 'returnPath', 'sid'], `${rp.sid} is in none of ${p.name}'s locators`);
    const twin = rp && n.proxies.findIndex((q) => q.returnPath?.id === rp.id);
    if (rp && twin !== i) throw invalid(['nodes', 'proxies', i, 'returnPath', 'id'], `return id ${rp.id} is nodes.proxies[${twin}]'s too`);
    return {
      name: p.name,
      locators: p.locators,
      functions: new Map(Object.entries(p.functions)),
      ...(p.health ? { health: p.health } : {}),
      ...(rp ? { returnPath: { id: rp.id, sid: formatAddress(parseAddress(rp.sid)) } } : {}),
    };
  });
  n.accessRouters.forEach((a, i) => addName(a.name, ['nodes', 'accessRouters', i, 'name']));
  n.routers.forEach((r, i) => addName(r, ['nodes', 'routers', i]));
  const accessRouters = n.accessRouters.map((a) => ({ name: a.name, bsidPrefix: parsePrefix(a.bsidPrefix), ...(a.agent ? { agent: agentOf(a.agent) } : {}) }));
  return { proxies, accessRouters, routers: n.routers, names, hosted };
}

/** `links`: each end a node name or a prefix, never two prefixes, never a node to itself. */
function linksConfig(links: Raw['links'], names: ReadonlySet<string>, invalid: Invalid): LinkSpec[] {
  const endpointOf = (text: string, path: PropertyKey[]): Endpoint => {
    if (names.has(text)) return { kind: 'node', name: text };
    if (text.includes('/') && isPrefixText(text)) return { kind: 'prefix', prefix: parsePrefix(text), text };
    throw invalid(path, `"${text}" is neither a node name nor an IPv6 prefix`);
  };
  return links.map((l, i) => {
    const a = endpointOf(l.a, ['links', i, 'a']);
    const b = endpointOf(l.b, ['links', i, 'b']);
    if (a.kind === 'prefix' && b.kind === 'prefix') throw invalid(['links', i], 'a link joins a node to a node or to a prefix, not two prefixes');
    if (l.a === l.b) throw invalid(['links', i], 'a link joins two different nodes');
    return { a, b, cost: l.cost, ...(l.capacity !== undefined ? { capacity: l.capacity } : {}), ...(l.latency !== undefined ? { latency: l.latency } : {}) };
  });
}

/** `zones`: apex → owner → addresses (AAAA and A apart), names lower case and fully qualified. */
function zonesConfig(zones: Raw['zones'], invalid: Invalid): ControllerConfig['zones'] {
  const out: ControllerConfig['zones'] = new Map();
  for (const [apexText, records] of Object.entries(zones)) {
    const apex = normalizeName(apexText);
    if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(apex)) throw invalid(['zones', apexText], 'a domain name such as lab.example');
    const owners = new Map<string, { aaaa: string[]; a: string[] }>();
    for (const [rel, value] of Object.entries(records)) {
      const owner = rel === '@' ? apex : `${normalizeName(rel)}.${apex}`;
      const list = Array.isArray(value) ? value : [value];
      owners.set(owner, { aaaa: list.filter((x) => isAddress(x)).map((x) => parseAddressText(x)), a: list.filter((x) => !isAddress(x)) });
    }
    out.set(apex, owners);
  }
  return out;
}

/** `policies`: every function hosted somewhere, every argument fitting, reply functions beside their forward ones. */
function policiesConfig(policies: Raw['policies'], nodes: Nodes, invalid: Invalid): Policy[] {
  const ref = (f: z.infer<typeof fnRef>, path: PropertyKey[]): FunctionRef => {
    const name = typeof f === 'string' ? f : f.function;
    if (!nodes.hosted.has(name)) throw invalid(path, `function "${name}" is hosted by no proxy (nodes.proxies[].functions)`);
    const arg = BigInt(typeof f === 'string' ? 0 : f.argument);
    for (const p of nodes.proxies) {
      const loc = p.functions.has(name) ? p.locators[0] : undefined;
      const bits = loc ? 128 - loc.locator.length - loc.functionBits : 128;
      if (arg >= 1n << BigInt(bits)) throw invalid(path, `argument ${arg} of "${name}" does not fit in the ${bits} argument bits of proxy ${p.name}`);
    }
    return { name, argument: arg };
  };
  const downstreamOf = (rp: true | { downstream: Record<string, z.infer<typeof fnRef>> }, i: number): Map<string, FunctionRef> => {
    const out = new Map<string, FunctionRef>();
    if (rp === true) return out;
    for (const [fwd, f] of Object.entries(rp.downstream)) {
      const path = ['policies', i, 'returnPath', 'downstream', fwd];
      const down = ref(f, path);
      const lacking = nodes.proxies.find((p) => p.functions.has(fwd) && !p.functions.has(down.name));
      if (lacking) throw invalid(path, `proxy ${lacking.name} hosts "${fwd}" but not "${down.name}": the function for the replies runs on the same proxy`);
      out.set(fwd, down);
    }
    return out;
  };
  return policies.map((p, i) => {
    const dest = p.destination;
    let destination: Policy['destination'] = { kind: 'any' };
    if (dest !== undefined) destination = dest.includes('/') ? { kind: 'prefix', prefix: parsePrefixOr(dest, () => invalid(['policies', i, 'destination'], 'an IPv6 prefix or a name')) } : { kind: 'name', name: normalizeName(dest) };
    return {
      index: i,
      clients: (Array.isArray(p.clients) ? p.clients : [p.clients]).map((x) => parsePrefix(x)),
      destination,
      ...(p.port !== undefined ? { port: p.port } : {}),
      require: p.require.map((f, j) => ref(f, ['policies', i, 'require', j])),
      allow: p.allow.map((f, j) => ref(f, ['policies', i, 'allow', j])),
      deny: p.deny,
      returnPath: p.returnPath === false ? null : { downstream: downstreamOf(p.returnPath, i) },
    };
  });
}

/** `bindingSids`: needs an access router with an agent. */
function bindingSidsConfig(c: Raw, invalid: Invalid): BindingSidConfig | null {
  const b = c.bindingSids;
  if (b === false) return null;
  if (!c.nodes.accessRouters.some((a) => a.agent)) throw invalid(['bindingSids'], 'binding SIDs need at least one access router with an `agent` (nodes.accessRouters[].agent)');
  return { lifetimeMs: b.lifetime, lookupFrom: b.lookupFrom.map((x) => parsePrefix(x)), priority: b.priority, perClient: b.perClient, max: b.max, rate: b.rate, answerWithinMs: b.answerWithin };
}

function limitsConfig(l: Raw['limits']): DnsLimits {
  const { tcpIdle, ...rest } = l;
  return { ...rest, tcpIdleMs: tcpIdle };
}

/** Validates a parsed config object, section by section; CONFIG_INVALID names the field. */
export function validateControllerConfig(input: unknown, source = 'config'): ControllerConfig {
  const invalid: Invalid = (path, message) => configInvalid(source, path, message, 'fix the field named above; see docs/controller.md (configuration)');
  const { value, deprecations } = upgradeOldForms(input ?? {}, OLD_FORMS, source);
  const c = parseWith(schema, value, invalid);
  const upstream = upstreamConfig(c.upstream, invalid);
  const bindingSids = bindingSidsConfig(c, invalid);
  const nodes = nodesConfig(c.nodes, invalid);
  return {
    listen: { address: c.listen.address, port: c.listen.port },
    bindingSids,
    privateLookups: c.privateLookups.allow.map((x) => parsePrefix(x)),
    limits: limitsConfig(c.limits),
    health: { intervalMs: c.health.interval, timeoutMs: c.health.timeout, fall: c.health.fall, rise: c.health.rise },
    ...(upstream ? { upstream } : {}),
    ttl: c.ttl,
    logLevel: c.logLevel,
    proxies: nodes.proxies,
    accessRouters: nodes.accessRouters,
    routers: nodes.routers,
    links: linksConfig(c.links, nodes.names, invalid),
    zones: zonesConfig(c.zones, invalid),
    policies: policiesConfig(c.policies, nodes, invalid),
    unmatched: c.unmatched,
    metrics: c.metrics === 'off' || c.metrics === false ? null : c.metrics,
    store: storeConfig(c.store),
    deprecations,
  };
}

function agentOf(a: z.infer<typeof agentSpec>): AgentSpec {
  if (a.http !== undefined) return { kind: 'http', endpoint: a.http, timeoutMs: a.timeout ?? 5000, ...(a.tokenFile ? { tokenFile: a.tokenFile } : {}), ...(a.tls ? { tls: a.tls } : {}) };
  const local = a.local!;
  return { kind: 'local', clientInterfaces: local.clientInterfaces, ...(local.namespace ? { namespace: local.namespace } : {}), ...(local.tunnelSource ? { tunnelSource: local.tunnelSource } : {}) };
}

function parseAddressText(x: string): string {
  return parseAddress(x) && x.trim();
}

function parsePrefixOr(text: string, err: () => SrError): Prefix6 {
  try {
    return parsePrefix(text);
  } catch {
    throw err();
  }
}

export function parseControllerConfig(text: string, source = 'config'): ControllerConfig {
  const doc = parseYamlText(text, source);
  return validateControllerConfig(doc, source);
}

export function loadControllerConfig(path: string): ControllerConfig {
  const cfg = parseControllerConfig(readConfigText(path), path);
  // an agent's token and TLS files are relative to the config file
  const rel = (f: string): string => resolvePath(dirname(path), f);
  for (const a of cfg.accessRouters) {
    const g = a.agent;
    if (g?.kind !== 'http') continue;
    if (g.tokenFile) g.tokenFile = rel(g.tokenFile);
    if (g.tls) g.tls = { ...g.tls, ca: rel(g.tls.ca), ...(g.tls.cert ? { cert: rel(g.tls.cert) } : {}), ...(g.tls.key ? { key: rel(g.tls.key) } : {}) };
  }
  // and so are the store's credentials
  const e = cfg.store?.etcd;
  if (e) {
    if (e.passwordFile) e.passwordFile = rel(e.passwordFile);
    if (e.tls) e.tls = { ca: rel(e.tls.ca), ...(e.tls.cert ? { cert: rel(e.tls.cert) } : {}), ...(e.tls.key ? { key: rel(e.tls.key) } : {}) };
  }
  return cfg;
}
