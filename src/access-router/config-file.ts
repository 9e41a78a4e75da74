/**
 * The access-router agent's config file (`srv6pipes access-router --config agent.yaml`;
 * examples/access-router.yaml): the command's flags as YAML keys, validated by zod. A flag given on
 * the command line wins over the file. Files named in it (token, TLS, the etcd store's TLS and
 * password) are relative to the file. `store: { etcd }` (the controllers' schema,
 * config/store.ts) makes the agent follow the store's route index (reconcile.ts), tuned
 * by `reconcile`; both exist only in the file (credentials from files, never on the command line).
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { parseYamlText, readConfigText } from '../config/file.js';
import { configInvalid, parseWith } from '../config/fields.js';
import { ipv6Schema, logLevelSchema, prefixSchema } from '../config/schemas.js';
import { duration } from '../config/duration.js';
import { AGENT_STORE_SCHEMA, agentStoreConfig } from '../config/store.js';
import { agentLimitsSchema } from './limits.js';
import type { RunAccessRouterOptions } from './daemon.js';

const schema = z
  .object({
    /** the router's node name in the controller config */
    name: z.string().min(1).default('ar'),
    /** the prefix binding SIDs are allocated from */
    bsidPrefix: prefixSchema,
    /** where the controller reaches the agent: [ADDR]:PORT */
    listen: z.string().regex(/^\[[0-9a-fA-F:.]+\]:\d+$|^[0-9.]+:\d+$/, '[ADDR]:PORT, e.g. "[fc00:9::1]:7780"'),
    tunnelSource: ipv6Schema.optional(),
    clientInterfaces: z.array(z.string().min(1)).default([]),
    tokenFile: z.string().min(1).optional(),
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1), clientCa: z.string().min(1).optional() }).strict().optional(),
    limits: agentLimitsSchema.partial().default({}),
    logLevel: logLevelSchema,
    /** the controllers' etcd store: the agent makes its routes match `<prefix>/route/<name>/` */
    store: AGENT_STORE_SCHEMA,
    reconcile: z
      .object({
        /** a full re-list and diff this often while connected (routes changed behind the store's back come back) */
        resync: duration({ min: 1000, max: 86_400_000 }).default(60_000),
        /** a probe of etcd this often while watching: a silent member is noticed within about probe + timeout */
        probe: duration({ min: 100, max: 600_000 }).default(5000),
        /** while etcd is unreachable, routes are held past their own expiry for at most this long after the cut */
        hold: duration({ min: 0, max: 7 * 86_400_000 }).default(3_600_000),
        /** the retry back-off's cap (it starts at 250 ms and doubles) */
        backoffMax: duration({ min: 250, max: 600_000 }).default(10_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The options a config file gives `runAccessRouter` (paths resolved against the file's directory). */
export function loadAccessRouterConfig(path: string): RunAccessRouterOptions {
  const c = parseWith(schema, parseYamlText(readConfigText(path), path), (p, m) => configInvalid(path, p, m));
  const rel = (f: string): string => resolve(dirname(path), f);
  return {
    name: c.name,
    bsidPrefix: c.bsidPrefix,
    listen: c.listen,
    clientInterfaces: c.clientInterfaces,
    limits: c.limits,
    logLevel: c.logLevel,
    ...storeOptions(c.store, c.reconcile, rel),
    ...(c.tunnelSource !== undefined ? { tunnelSource: c.tunnelSource } : {}),
    ...(c.tokenFile !== undefined ? { tokenFile: rel(c.tokenFile) } : {}),
    ...(c.tls ? { tlsCert: rel(c.tls.cert), tlsKey: rel(c.tls.key), ...(c.tls.clientCa !== undefined ? { tlsClientCa: rel(c.tls.clientCa) } : {}) } : {}),
  };
}

function storeOptions(s: z.infer<typeof AGENT_STORE_SCHEMA>, r: z.infer<typeof schema>['reconcile'], rel: (f: string) => string): Pick<RunAccessRouterOptions, 'store' | 'reconcile'> {
  const e = agentStoreConfig(s);
  if (!e) return {};
  const tls = e.tls ? { ca: rel(e.tls.ca), ...(e.tls.cert ? { cert: rel(e.tls.cert), key: rel(e.tls.key!) } : {}) } : undefined;
  return {
    store: { ...e, ...(tls ? { tls } : {}), ...(e.passwordFile !== undefined ? { passwordFile: rel(e.passwordFile) } : {}) },
    reconcile: { resyncMs: r.resync, probeMs: r.probe, holdMs: r.hold, backoffMaxMs: r.backoffMax },
  };
}
