/**
 * The proxy's configuration: YAML (JSON is YAML too), validated by a zod schema. Errors name the
 * field (`functions[2].options.passes: ...`). Each function's options are validated by its own
 * descriptor's schema, once, here.
 */
import { relayOptionsSchema, type RelayOptions } from '../native/relay.js';
import { parseController } from '../dns/query.js';
import type { ReturnHop } from '../return/steering.js';
import os from 'node:os';
import { parseYamlText, readConfigText } from '../config/file.js';
import { z } from 'zod';
import { duration } from '../config/duration.js';
import { upgradeOldForms, type OldForm } from '../config/deprecated.js';
import { configInvalid, fieldPath, parseWith } from '../config/fields.js';
import { ipv6Schema, locatorsSchema, logLevelSchema, portSchema, prefixSchema, returnHopSchema, type LogLevel } from '../config/schemas.js';
import { SrError } from '../core/errors.js';
import { formatPrefix, parseAddress, parsePrefix, prefixContains, type Prefix6 } from '../net/ip6.js';
import type { SidLayout } from '../codec/sid.js';
import { dirname, resolve } from 'node:path';
import { pino } from 'pino';
import { loadFunction, type FunctionSpec } from '../sdk/loader.js';
import { BUILTINS, builtinRequires } from '../functions/registry.js';
import { MemoryMetrics } from '../sdk/metrics-memory.js';
import type { FunctionRequirement } from '../sdk/types.js';
import { ADMIN_SCHEMA, resolveAdmin, type AdminConfig } from './admin-config.js';
import { ACCESS_LOG_SCHEMA, resolveAccessLog, type AccessLogConfig } from './access-log.js';
import { DEFAULT_MARK, DEFAULT_TABLE } from './netconf-defaults.js';
import type { RestartPolicy } from './supervision.js';

/** Durations (ms numbers or "500ms", "5s", "2m", "1h"), each bounded: see src/config/duration.ts. */
const DURATIONS = {
  connect: duration({ max: 3_600_000 }),
  idle: duration(),
  drain: duration({ max: 3_600_000 }),
  lookup: duration({ min: 1, max: 60_000 }),
  cache: duration({ max: 86_400_000 }),
};

const prefix = prefixSchema;

const options = z.record(z.string(), z.unknown()).default({});
const functionName = z.string({ error: (iss) => (iss.input === undefined ? 'required (a function name, see `srv6pipes functions`)' : undefined) }).min(1, 'a function name, see `srv6pipes functions`');
const part = z.object({ function: functionName, options }).strict();
/** the id in the function bits of this proxy's SIDs (functionsConfig checks it fits every locator) */
const functionId = z
  .number({ error: (iss) => (iss.input === undefined ? 'required (a whole number 0–65535 with 16 function bits: the function field of its SIDs)' : undefined) })
  .int()
  .min(0)
  .max(2 ** 32 - 1);
/**
 * A `functions` entry, `{ id, function, options }` or `{ id, chain: [...] }`, as the FunctionSpec the
 * loader takes. One object (not a union) so that an error names the field: a missing id, both
 * `function` and `chain`, neither.
 */
const functionEntry = z
  .object({ id: functionId, function: functionName.optional(), options: z.record(z.string(), z.unknown()).optional(), chain: z.array(part).min(1, 'a chain needs at least one function').optional() })
  .strict()
  .superRefine((e, ctx) => {
    if (e.function !== undefined && e.chain !== undefined) ctx.addIssue({ code: 'custom', path: [], message: 'give either function (or its old name vf) or chain, not both' });
    else if (e.function === undefined && e.chain === undefined) ctx.addIssue({ code: 'custom', path: ['function'], message: 'required: a function name (or `chain: [...]` of functions)' });
    else if (e.chain !== undefined && e.options !== undefined) ctx.addIssue({ code: 'custom', path: ['options'], message: 'a chain takes options per function: `chain: [{ function, options }]`' });
  })
  .transform((e): FunctionSpec => (e.chain ? { id: e.id, parts: e.chain, chain: true } : { id: e.id, parts: [{ function: e.function!, options: e.options ?? {} }], chain: false }));

/** `vf`, the old name of `function` in a functions entry and in a chain's parts. */
const VF_KEY = { key: 'vf', to: 'function', says: 'the key `vf` is deprecated: write `function`' } as const;
const OLD_FORMS: readonly OldForm[] = [
  { at: ['functions', '*'], ...VF_KEY },
  { at: ['functions', '*', 'chain', '*'], ...VF_KEY },
];
const OLD_ENTRY_FORMS: readonly OldForm[] = [
  { at: [], ...VF_KEY },
  { at: ['chain', '*'], ...VF_KEY },
];

/** Limits on flows and descriptors (docs/security.md "Limits"): the defaults when `limits` is absent. */
export const LIMIT_DEFAULTS = { flows: 10_000, flowsPerClient: 1000, clientPrefix: 64 } as const;

/**
 * One `functions` entry (what `srv6pipes ctl load --spec` takes) as a FunctionSpec: the old key `vf`
 * is accepted, with a deprecation line. CONFIG_INVALID naming the field.
 */
export function parseFunctionEntry(input: unknown, source = 'spec'): { spec: FunctionSpec; deprecations: string[] } {
  const { value, deprecations } = upgradeOldForms(input, OLD_ENTRY_FORMS, source);
  return { spec: parseWith(functionEntry, value, (path, message) => configInvalid(source, path, message)), deprecations };
}

const schema = z
  .object({
    port: portSchema.default(7777),
    listen: ipv6Schema.default('::'),
    /** worker processes; 0: none, the primary serves the flows itself (small hosts: one Node process) */
    workers: z.number().int().min(0).max(256).default(() => os.availableParallelism()),
    locators: locatorsSchema,
    functions: z.array(functionEntry).min(1, 'at least one function'),
    /** the bytes of flows whose functions have native ops (copy, xor, meter, ratelimit, chains of them) moved by the addon's relay thread instead of JavaScript (src/native/relay.ts, proxy/native-relay.ts); `off`: every flow on the JavaScript relay */
    nativeRelay: z.union([z.literal('off'), z.literal(false), relayOptionsSchema]).prefault({}),
    timeouts: z
      .object({ connect: DURATIONS.connect.default(5000), idle: DURATIONS.idle.default(300_000), drain: DURATIONS.drain.default(10_000) })
      .strict()
      .default({ connect: 5000, idle: 300_000, drain: 10_000 }),
    admin: z.union([z.literal('off'), z.literal(false), ADMIN_SCHEMA]).prefault({}),
    netconf: z
      .union([
        z.literal('off'),
        z.literal(false),
        z.literal('on'),
        z.literal(true),
        z
          .object({
            /** the packet-mark bit(s) of intercepted packets: ORed in, matched under their own mask (netconf.ts) */
            mark: z.number().int().min(1).max(0xffffffff).default(DEFAULT_MARK),
            /** the routing table of `local ::/0 dev lo` (not 253–255: default, main, local) */
            table: z.number().int().min(1).max(0xfffffffe).refine((t) => t < 253 || t > 255, 'tables 253, 254 and 255 are the kernel’s default, main and local tables').default(DEFAULT_TABLE),
            /** how SYNs reach the listener: an nft tproxy rule, or a BPF sk_lookup program (docs/security.md);
             *  auto: sklookup when the listener is bound to `::` (what it needs), else tproxy */
            intercept: z.enum(['auto', 'tproxy', 'sklookup']).default('auto'),
            /** sklookup: capacity of the trie of the host's own prefixes (addresses + locators) */
            ownPrefixes: z.number().int().min(16).max(1_000_000).default(4096),
          })
          .strict(),
      ])
      .default('on'),
    logLevel: logLevelSchema,
    /** one JSON line per flow at its end (access-log.ts, docs/metrics.md); off by default */
    accessLog: z.union([z.literal('off'), z.literal(false), ACCESS_LOG_SCHEMA]).default('off'),
    /** repeated warnings (a rejected flow, per error code): the first `burst` per `interval` are logged, then one line says how many were suppressed */
    logLimit: z
      .object({ burst: z.number().int().min(1).max(1_000_000).default(10), interval: duration({ min: 100, max: 3_600_000 }).default(10_000) })
      .strict()
      .default({ burst: 10, interval: 10_000 }),
    /** this proxy's return id (the SRH tag of its onward connections) and return SID (in a locator) */
    returnPath: returnHopSchema.optional(),
    /** previous hops whose replies this proxy steers back to them: id → return SID */
    returnHops: z.array(returnHopSchema).default([]),
    /** Multipath TCP on this host (docs/mptcp.md): path manager, subflow limit, the converter listener */
    mptcp: z
      .object({
        /** userspace: per-connection subflows (the `mptcp` function needs it); kernel: the in-kernel path manager */
        pathManager: z.enum(['kernel', 'userspace']).default('kernel'),
        /** `ip mptcp limits set subflows N`: extra subflows a connection may have (also accepted joins) */
        subflows: z.number().int().min(0).max(8).default(2),
        /** the operator-side converter: an MPTCP listener on this port for converted flows */
        converter: z
          .object({
            port: portSchema,
            /** the customer-side converters' addresses (their uplinks): only they may open converted flows */
            from: z.array(prefix).min(1, 'at least one prefix: a converted flow is opened from any address its header names'),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    /** flows that arrive through an access router's binding SID: ask the controller what it stands for */
    bindingSids: z
      .object({
        /** one controller, or several instances sharing one store (asked in turn when one does not answer) */
        controller: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(8)]),
        /** the access routers' bsidPrefix values: only a segment inside one of them is looked up */
        prefixes: z.array(prefix).min(1, 'the access routers’ bsidPrefix values: only segments inside them are looked up'),
        timeout: DURATIONS.lookup.default(2000),
        maxCache: DURATIONS.cache.default(60_000),
        /** how long an unknown BSID (or a refusal) is remembered */
        negativeCache: duration({ max: 3_600_000 }).default(1000),
        /** cached answers, least recently used dropped first */
        cacheSize: z.number().int().min(1).max(1_000_000).default(4096),
        /** segments of one SYN that are looked up */
        maxCandidates: z.number().int().min(1).max(8).default(1),
        /** lookups in flight per worker; a flow beyond is reset (BSID_LOOKUP_BUSY) */
        maxInflight: z.number().int().min(1).max(4096).default(16),
      })
      .strict()
      .optional(),
    /** a worker that dies is restarted after `delay`, twice as long each time it dies again before it ran `stableAfter`, at most `maxDelay` (src/proxy/supervision.ts) */
    workerRestart: z
      .object({ delay: duration({ min: 10, max: 60_000 }).default(100), maxDelay: duration({ min: 100, max: 3_600_000 }).default(30_000), stableAfter: duration({ min: 1000, max: 86_400_000 }).default(60_000) })
      .strict()
      .default({ delay: 100, maxDelay: 30_000, stableAfter: 60_000 }),
    /** concurrent flows per proxy, per client (its /clientPrefix), per function id; the descriptor limit */
    limits: z
      .object({
        flows: z.number().int().min(1).max(1_000_000).default(LIMIT_DEFAULTS.flows),
        flowsPerClient: z.number().int().min(1).max(1_000_000).default(LIMIT_DEFAULTS.flowsPerClient),
        clientPrefix: z.number().int().min(1).max(128).default(LIMIT_DEFAULTS.clientPrefix),
        /** one cap for every function id, or caps by id ({ "3": 100 }) */
        perFunction: z.union([z.number().int().min(1).max(1_000_000), z.record(z.string().regex(/^\d+$/, 'a function id'), z.number().int().min(1).max(1_000_000))]).optional(),
        /** RLIMIT_NOFILE of the proxy's processes: auto (what the limits need) or a number */
        nofile: z.union([z.literal('auto'), z.number().int().min(32).max(1 << 30)]).default('auto'),
      })
      .strict()
      .default({ ...LIMIT_DEFAULTS, nofile: 'auto' }),
  })
  .strict();

export type RawProxyConfig = z.infer<typeof schema>;


export interface MptcpConfig {
  pathManager: 'kernel' | 'userspace';
  subflows: number;
  /** the converter listener's port, when this proxy is an operator-side converter */
  converterPort: number | null;
  /** who may connect to it */
  converterFrom: Prefix6[];
}

/** `bindingSids`: how this proxy asks the controller what a binding SID stands for (bindings.ts). */
export interface BindingSidsConfig {
  /** the controller's instances: ADDR, [ADDR]:PORT (asked in turn when one does not answer or says SERVFAIL) */
  controllers: readonly string[];
  /** the access routers' BSID prefixes: only segments inside them are looked up */
  prefixes: readonly Prefix6[];
  timeoutMs: number;
  /** an answer is kept at most this long (and never longer than its TTL) */
  maxCacheMs: number;
  /** an unknown BSID (NXDOMAIN, or no record) or a refusal is remembered this long */
  negativeCacheMs: number;
  /** entries in the cache */
  cacheSize: number;
  /** segments of one SYN that are looked up */
  maxCandidates: number;
  /** lookups in flight at once */
  maxInflight: number;
}

export interface ProxyConfig {
  port: number;
  listen: string;
  workers: number;
  locators: SidLayout[];
  /** the function table as configured (resolved and validated by checkFunctions / the loader) */
  functions: FunctionSpec[];
  /** the config file's directory: relative module and option paths start there */
  baseDir: string;
  timeouts: { connect: number; idle: number; drain: number };
  /** null: every flow uses the JavaScript relay */
  nativeRelay: RelayOptions | null;
  admin: AdminConfig | null;
  netconf: { mark: number; table: number; intercept: 'tproxy' | 'sklookup'; ownPrefixes: number } | null;
  logLevel: LogLevel;
  logLimit: { burst: number; intervalMs: number };
  /** null: no access log */
  accessLog: AccessLogConfig | null;
  bindingSids: BindingSidsConfig | null;
  returnPath: { id: number; sid: string } | null;
  returnHops: ReturnHop[];
  mptcp: MptcpConfig | null;
  /** the back-off between restarts of a worker that died */
  workerRestart: RestartPolicy;
  /** per proxy; each worker enforces its share (src/proxy/admission.ts) */
  limits: { flows: number; flowsPerClient: number; clientPrefix: number; perFunction: number | Record<string, number> | null; nofile: 'auto' | number };
  /** the validated source object (workers re-validate it) */
  raw: unknown;
  /** old forms the file used (one line each, to log once per load): see src/config/deprecated.ts */
  deprecations: string[];
}

/** `::` however it is written */
function isUnspecified(a: string): boolean {
  return parseAddress(a).every((b) => b === 0);
}

type Invalid = (path: readonly PropertyKey[], message: string) => SrError;

/** How this proxy's config meets each requirement a function may declare (`requires`): why not, or undefined when it does. */
const REQUIREMENT_CHECKS: Record<FunctionRequirement, (c: { mptcp?: { pathManager: string } | null }) => string | undefined> = {
  'mptcp-userspace': (c) => (c.mptcp?.pathManager === 'userspace' ? undefined : 'it asks for subflows per connection: it needs `mptcp: { pathManager: userspace }`'),
};

function unmetRequirement(r: FunctionRequirement, c: { mptcp?: { pathManager: string } | null }): string | undefined {
  return REQUIREMENT_CHECKS[r](c);
}

function bindingSidsConfig(b: NonNullable<RawProxyConfig['bindingSids']>, invalid: Invalid): BindingSidsConfig {
  const { controller, prefixes, timeout, maxCache, negativeCache, cacheSize, maxCandidates, maxInflight } = b;
  const controllers = typeof controller === 'string' ? [controller] : controller;
  controllers.forEach((c, i) => {
    try {
      parseController(c);
    } catch (e) {
      throw invalid(['bindingSids', 'controller', ...(typeof controller === 'string' ? [] : [i])], (e as Error).message);
    }
  });
  return { controllers, prefixes: prefixes.map((x) => parsePrefix(x)), timeoutMs: timeout, maxCacheMs: maxCache, negativeCacheMs: negativeCache, cacheSize, maxCandidates, maxInflight };
}

/** The function table: ids unique, each fitting in every locator's function bits, requirements met. */
function functionsConfig(c: RawProxyConfig, invalid: Invalid): FunctionSpec[] {
  const seen = new Set<number>();
  c.functions.forEach((f, i) => {
    if (seen.has(f.id)) throw invalid(['functions', i, 'id'], `function id ${f.id} is used twice`);
    seen.add(f.id);
  });
  c.functions.forEach((f, i) => {
    c.locators.forEach((l, k) => {
      const max = 2 ** l.functionBits - 1;
      if (f.id > max) throw invalid(['functions', i, 'id'], `${f.id} does not fit the ${l.functionBits} function bits of locators[${k}] (${formatPrefix(l.locator)}): 0–${max}`);
    });
  });
  // what built-ins declare they need (modules: checkFunctions, once they are imported)
  c.functions.forEach((f, i) => {
    f.parts.forEach((p, k) => {
      for (const r of builtinRequires(p.function)) {
        const why = unmetRequirement(r, c);
        if (why !== undefined) throw invalid(f.chain ? ['functions', i, 'chain', k, 'function'] : ['functions', i, 'function'], `the ${p.function} function requires ${r}: ${why}`);
      }
    });
  });
  return c.functions;
}

/** `returnPath` inside a locator, `returnHops` ids unique. */
function returnConfig(c: RawProxyConfig, invalid: Invalid): Pick<ProxyConfig, 'returnPath' | 'returnHops'> {
  const rp = c.returnPath;
  if (rp && !c.locators.some((l) => prefixContains(l.locator, parseAddress(rp.sid)))) throw invalid(['returnPath', 'sid'], `${rp.sid} is in none of this proxy's locators`);
  const ids = new Set<number>();
  c.returnHops.forEach((h, i) => {
    if (ids.has(h.id)) throw invalid(['returnHops', i, 'id'], `return id ${h.id} is given twice`);
    ids.add(h.id);
  });
  return { returnPath: rp ?? null, returnHops: c.returnHops };
}

/** `netconf`: on/off/object, `intercept: auto` resolved from the listener's address. */
function netconfConfig(c: RawProxyConfig, invalid: Invalid): ProxyConfig['netconf'] {
  if (typeof c.netconf === 'object' && c.netconf.intercept === 'sklookup' && !isUnspecified(c.listen)) {
    throw invalid(['listen'], 'with netconf.intercept: sklookup the listener must be bound to `::` (the return-traffic rule tells the proxy\'s outbound sockets from its listener by the wildcard address)');
  }
  const given = c.netconf === 'off' || c.netconf === false ? null : c.netconf === 'on' || c.netconf === true ? { mark: DEFAULT_MARK, table: DEFAULT_TABLE, intercept: 'auto' as const, ownPrefixes: 4096 } : c.netconf;
  // auto: the kernel's own TIME_WAIT handling (sklookup) wherever the listener allows it
  return given && { ...given, intercept: given.intercept === 'auto' ? (isUnspecified(c.listen) ? ('sklookup' as const) : ('tproxy' as const)) : given.intercept };
}

/** The TCP ports this proxy listens on, by the field that sets them: no two the same (each would take the other's connections, or fail with EADDRINUSE). */
function checkPorts(c: RawProxyConfig, invalid: Invalid): void {
  const ports: [PropertyKey[], string, number | undefined][] = [
    [['port'], 'the transparent listener', c.port],
    [['admin', 'port'], 'the admin endpoint', typeof c.admin === 'object' && typeof c.admin.port === 'number' ? c.admin.port : undefined],
    [['mptcp', 'converter', 'port'], 'the MPTCP converter', c.mptcp?.converter?.port],
  ];
  ports.forEach(([path, , port], i) => {
    const other = ports.findIndex(([, , p], j) => j < i && p === port);
    if (port !== undefined && other >= 0) throw invalid(path, `${port} is the port of ${ports[other]![1]} (${fieldPath(ports[other]![0])}) too: give each listener its own port`);
  });
}

function mptcpConfig(c: RawProxyConfig): MptcpConfig | null {
  if (!c.mptcp) return null;
  const conv = c.mptcp.converter;
  return { pathManager: c.mptcp.pathManager, subflows: c.mptcp.subflows, converterPort: conv?.port ?? null, converterFrom: (conv?.from ?? []).map((x) => parsePrefix(x)) };
}

function workerRestartConfig(c: RawProxyConfig, invalid: Invalid): RestartPolicy {
  const { delay, maxDelay, stableAfter } = c.workerRestart;
  if (delay > maxDelay) throw invalid(['workerRestart', 'maxDelay'], `${maxDelay} ms is less than workerRestart.delay (${delay} ms)`);
  return { delayMs: delay, maxDelayMs: maxDelay, stableMs: stableAfter };
}

/** Validates a parsed config object. */
export function validateProxyConfig(input: unknown, source = 'config', baseDir = process.cwd()): ProxyConfig {
  const invalid: Invalid = (path, message) => configInvalid(source, path, message);
  const { value, deprecations } = upgradeOldForms(input ?? {}, OLD_FORMS, source);
  const c = parseWith(schema, value, invalid);
  checkPorts(c, invalid);
  return {
    port: c.port,
    listen: c.listen,
    workers: c.workers,
    locators: c.locators,
    functions: functionsConfig(c, invalid),
    baseDir,
    timeouts: c.timeouts,
    nativeRelay: c.nativeRelay === 'off' || c.nativeRelay === false ? null : c.nativeRelay,
    admin: c.admin === 'off' || c.admin === false ? null : resolveAdmin(c.admin, baseDir, invalid, source),
    netconf: netconfConfig(c, invalid),
    logLevel: c.logLevel,
    logLimit: { burst: c.logLimit.burst, intervalMs: c.logLimit.interval },
    accessLog: c.accessLog === 'off' || c.accessLog === false ? null : resolveAccessLog(c.accessLog, baseDir),
    bindingSids: c.bindingSids ? bindingSidsConfig(c.bindingSids, invalid) : null,
    ...returnConfig(c, invalid),
    limits: { ...c.limits, perFunction: c.limits.perFunction ?? null },
    workerRestart: workerRestartConfig(c, invalid),
    mptcp: mptcpConfig(c),
    raw: input,
    deprecations,
  };
}

/** Parses YAML/JSON text and validates it. */
export function parseProxyConfig(text: string, source = 'config', baseDir = process.cwd()): ProxyConfig {
  const doc = parseYamlText(text, source);
  return validateProxyConfig(doc, source, baseDir);
}

export function loadProxyConfig(path: string): ProxyConfig {
  return parseProxyConfig(readConfigText(path), path, dirname(resolve(path)));
}

/**
 * Resolves, validates and initialises every function once, then de-initialises them: a start or a
 * reload fails here, with the field named, before anything changes.
 */
export async function checkFunctions(cfg: ProxyConfig, source = 'config'): Promise<void> {
  const ctx = { registry: BUILTINS, baseDir: cfg.baseDir, log: pino({ level: 'silent' }), metricsFor: () => new MemoryMetrics(), unmet: (r: FunctionRequirement) => unmetRequirement(r, cfg) };
  for (const [i, spec] of cfg.functions.entries()) {
    let f;
    try {
      f = await loadFunction(spec, ctx, 0, `functions[${i}]`, true);
    } catch (e) {
      if (e instanceof SrError) throw new SrError(e.code === 'UNKNOWN_FUNCTION' || e.code === 'BAD_FUNCTION_MODULE' ? e.code : 'CONFIG_INVALID', `${source}: ${e.message}`, { cause: e });
      throw e;
    }
    await f.retire();
  }
}
