/**
 * `store` in the controller's config (and in the access-router agent's, which follows the
 * controllers' route index: access-router/reconcile.ts): where the BSID state lives. `memory` (the
 * default): in this process alone. `etcd`: on an etcd cluster shared by every controller instance —
 * its endpoints, the key prefix, and optional TLS and a user whose password is read from a file
 * (never given on the command line or in the config itself). The controller's schema adds the keys
 * only a controller has (the degraded start, the election, re-pointing); in an agent's file they
 * are unknown keys.
 */
import { z } from 'zod';
import { duration } from './duration.js';

const endpoint = z
  .string()
  .regex(/^https?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}\/?$/, 'http(s)://HOST:PORT of an etcd member, e.g. "http://[fc00:31::2]:2379"');

/** How to reach the cluster: what every user of the store gives. */
const connection = {
  endpoints: z.array(endpoint).min(1).max(16),
  /** every key of this controller set starts with it; two sets on one cluster take two prefixes */
  prefix: z.string().regex(/^\/[A-Za-z0-9_./-]{0,200}$/, 'a key prefix such as "/srv6pipes"').default('/srv6pipes'),
  /** how long one etcd request may take before the next endpoint is tried */
  timeout: duration({ min: 100, max: 60_000 }).default(2000),
  tls: z
    .object({ ca: z.string().min(1), cert: z.string().min(1).optional(), key: z.string().min(1).optional() })
    .strict()
    .refine((t) => (t.cert === undefined) === (t.key === undefined), 'cert and key go together')
    .optional(),
  username: z.string().min(1).max(128).optional(),
  /** the etcd user's password, in a file (mode 0600) */
  passwordFile: z.string().min(1).optional(),
};

/** What only a controller instance has. */
const controllerOnly = {
  /** start even when etcd does not answer: new BSIDs fail (SERVFAIL) until it does, then the store is loaded */
  startDegraded: z.boolean().default(false),
  /** the elected instance's lease (health checks, re-pointing): a leader cut off from etcd steps down within it, a follower takes over after it */
  leaderTtl: duration({ min: 2000, max: 60_000 }).default(5000),
  /** bindings the leader re-points at once after a health change (installs and store updates in flight) */
  repointConcurrency: z.number().int().min(1).max(1024).default(32),
  /** re-pointed records written per etcd transaction: two operations each, and etcd's --max-txn-ops is 128 by default */
  repointBatch: z.number().int().min(1).max(64).default(64),
};

const usernamePaired = (e: { username?: string | undefined; passwordFile?: string | undefined }): boolean => (e.username === undefined) === (e.passwordFile === undefined);

function storeSchema<T extends z.ZodRawShape>(shape: T) {
  return z
    .union([z.literal('memory'), z.object({ etcd: z.object(shape).strict().refine(usernamePaired, 'username and passwordFile go together') }).strict()])
    .default('memory');
}

/** The controller's `store`. */
export const STORE_SCHEMA = storeSchema({ ...connection, ...controllerOnly });
/** The access-router agent's `store`: the connection alone. */
export const AGENT_STORE_SCHEMA = storeSchema(connection);

export interface EtcdConnection {
  endpoints: string[];
  prefix: string;
  timeoutMs: number;
  tls?: { ca: string; cert?: string; key?: string };
  username?: string;
  passwordFile?: string;
}

export interface EtcdStoreConfig extends EtcdConnection {
  startDegraded: boolean;
  /** the leader's lease (ms, whole seconds in etcd) */
  leaderTtlMs: number;
  repointConcurrency: number;
  repointBatch: number;
}

/** null: the in-memory store */
export type StoreConfig = { etcd: EtcdStoreConfig } | null;

const connectionOf = (e: z.infer<typeof AGENT_STORE_SCHEMA> & object): EtcdConnection => {
  const { timeout, ...rest } = e.etcd;
  return { ...rest, endpoints: rest.endpoints.map((x) => x.replace(/\/$/, '')), timeoutMs: timeout };
};

export function storeConfig(s: z.infer<typeof STORE_SCHEMA>): StoreConfig {
  if (s === 'memory') return null;
  const { startDegraded, leaderTtl, repointConcurrency, repointBatch, ...c } = s.etcd;
  return { etcd: { ...connectionOf({ etcd: c }), startDegraded, leaderTtlMs: leaderTtl, repointConcurrency, repointBatch } };
}

/** The agent's store: the connection, or undefined (memory). */
export function agentStoreConfig(s: z.infer<typeof AGENT_STORE_SCHEMA>): EtcdConnection | undefined {
  return s === 'memory' ? undefined : connectionOf(s);
}
