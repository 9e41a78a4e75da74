/**
 * `store` in the controller's config: where the BSID state lives. `memory` (the default): in this
 * process alone. `etcd`: on an etcd cluster shared by every controller instance — its endpoints,
 * the key prefix, and optional TLS and a user whose password is read from a file (never given on the
 * command line or in the config itself).
 */
import { z } from 'zod';
import { duration } from '../../config/duration.js';

const endpoint = z
  .string()
  .regex(/^https?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}\/?$/, 'http(s)://HOST:PORT of an etcd member, e.g. "http://[fc00:31::2]:2379"');

export const STORE_SCHEMA = z
  .union([
    z.literal('memory'),
    z
      .object({
        etcd: z
          .object({
            endpoints: z.array(endpoint).min(1).max(16),
            /** every key of this controller set starts with it; two sets on one cluster take two prefixes */
            prefix: z.string().regex(/^\/[A-Za-z0-9_./-]{0,200}$/, 'a key prefix such as "/srv6pipes"').default('/srv6pipes'),
            /** how long one etcd request may take before the next endpoint is tried */
            timeout: duration({ min: 100, max: 60_000 }).default(2000),
            /** the elected instance's lease (health checks, re-pointing): a leader cut off from etcd steps down within it, a follower takes over after it */
            leaderTtl: duration({ min: 2000, max: 60_000 }).default(5000),
            /** bindings the leader re-points at once after a health change (installs and store updates in flight) */
            repointConcurrency: z.number().int().min(1).max(1024).default(32),
            /** re-pointed records written per etcd transaction (etcd's --max-txn-ops, 128 by default, bounds it) */
            repointBatch: z.number().int().min(1).max(128).default(64),
            tls: z
              .object({ ca: z.string().min(1), cert: z.string().min(1).optional(), key: z.string().min(1).optional() })
              .strict()
              .refine((t) => (t.cert === undefined) === (t.key === undefined), 'cert and key go together')
              .optional(),
            username: z.string().min(1).max(128).optional(),
            /** the etcd user's password, in a file (mode 0600) */
            passwordFile: z.string().min(1).optional(),
          })
          .strict()
          .refine((e) => (e.username === undefined) === (e.passwordFile === undefined), 'username and passwordFile go together'),
      })
      .strict(),
  ])
  .default('memory');

export interface EtcdStoreConfig {
  endpoints: string[];
  prefix: string;
  timeoutMs: number;
  /** the leader's lease (ms, whole seconds in etcd) */
  leaderTtlMs: number;
  repointConcurrency: number;
  repointBatch: number;
  tls?: { ca: string; cert?: string; key?: string };
  username?: string;
  passwordFile?: string;
}

/** null: the in-memory store */
export type StoreConfig = { etcd: EtcdStoreConfig } | null;

export function storeConfig(s: z.infer<typeof STORE_SCHEMA>): StoreConfig {
  if (s === 'memory') return null;
  const { timeout, leaderTtl, ...e } = s.etcd;
  return { etcd: { ...e, endpoints: e.endpoints.map((x) => x.replace(/\/$/, '')), timeoutMs: timeout, leaderTtlMs: leaderTtl } };
}
