/**
 * The values under the store's prefix: JSON with a version, checked field by field. Anything else
 * (another program's value, a truncated write, an unknown layout) decodes to undefined: the caller
 * logs it, skips it and counts it.
 *
 *   binding record v2  v1 plus `spec`, what the path was computed from (so the elected instance can
 *                      recompute every binding after a health change); a function's argument, a
 *                      64-bit number, travels as a decimal string. v1 records (no spec) still decode.
 *   health record v1   a proxy's state as the elected instance published it: up, since (ms since
 *                      the epoch), by (the instance's id), lastError.
 */
import { z } from 'zod';
import type { StoredBinding, StoredPathSpec } from './types.js';

const VERSION = 2;

const specSchema = z
  .object({
    from: z.string().min(1).max(253),
    to: z.string().min(1).max(253),
    destination: z.string().min(2).max(64),
    functions: z.array(z.object({ name: z.string().min(1).max(253), argument: z.string().regex(/^\d{1,20}$/) }).strict()).max(127),
    tieKey: z.string().max(4096),
    bandwidthKbps: z.number().nonnegative().optional(),
    maxLatencyMs: z.number().nonnegative().optional(),
  })
  .strict();

const fields = {
  key: z.string().min(1).max(4096),
  bsid: z.string().min(2).max(64),
  router: z.string().min(1).max(63),
  client: z.string().min(2).max(64),
  segments: z.array(z.string().min(2).max(64)).max(127),
  installedUntil: z.number().int().nonnegative(),
};

const recordSchema = z.union([z.object({ v: z.literal(1), ...fields }).strict(), z.object({ v: z.literal(2), ...fields, spec: specSchema.optional() }).strict()]);

export function encodeBinding(b: StoredBinding): string {
  const spec = b.spec ? { ...b.spec, functions: b.spec.functions.map((f) => ({ name: f.name, argument: f.argument.toString() })) } : undefined;
  return JSON.stringify({ v: VERSION, key: b.key, bsid: b.bsid, router: b.router, client: b.client, segments: b.segments, installedUntil: b.installedUntil, ...(spec ? { spec } : {}) });
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The record in `text`, or undefined when it is not one of ours. */
export function decodeBinding(text: string): StoredBinding | undefined {
  const r = recordSchema.safeParse(parse(text));
  if (!r.success) return undefined;
  const { v: _v, ...rest } = r.data;
  const { spec, ...b } = rest as typeof rest & { spec?: z.infer<typeof specSchema> };
  if (!spec) return b;
  const s: StoredPathSpec = { ...spec, functions: spec.functions.map((f) => ({ name: f.name, argument: BigInt(f.argument) })) };
  return { ...b, spec: s };
}

/** A proxy's health as published by the elected instance. */
export interface HealthRecord {
  node: string;
  up: boolean;
  /** since when (ms since the epoch) it is in this state */
  since: number;
  /** the id of the instance that published it */
  by: string;
  lastError?: string;
}

const healthSchema = z
  .object({ v: z.literal(1), node: z.string().min(1).max(63), up: z.boolean(), since: z.number().int().nonnegative(), by: z.string().min(1).max(256), lastError: z.string().max(512).optional() })
  .strict();

export function encodeHealth(h: HealthRecord): string {
  return JSON.stringify({ v: 1, node: h.node, up: h.up, since: h.since, by: h.by, ...(h.lastError !== undefined ? { lastError: h.lastError.slice(0, 512) } : {}) });
}

export function decodeHealth(text: string): HealthRecord | undefined {
  const r = healthSchema.safeParse(parse(text));
  if (!r.success) return undefined;
  const { v: _v, ...h } = r.data;
  return h;
}

/** The store's key names: `<prefix>/bsid/key/<key, URI-encoded>` → the record, `<prefix>/bsid/sid/<bsid>` → the key. */
export function keyPath(prefix: string, key: string): string {
  return `${prefix}/bsid/key/${encodeURIComponent(key)}`;
}

/** The binding key of a record's path (undefined: not one). */
export function keyOfPath(prefix: string, path: string): string | undefined {
  const head = `${prefix}/bsid/key/`;
  if (!path.startsWith(head)) return undefined;
  try {
    return decodeURIComponent(path.slice(head.length));
  } catch {
    return undefined;
  }
}

export function sidPath(prefix: string, bsid: string): string {
  return `${prefix}/bsid/sid/${bsid}`;
}

/** The route index: `<prefix>/route/<router>/<bsid>` → the record; an access router watches `routePrefix` (reconcile.ts). */
export function routePrefix(prefix: string, router: string): string {
  return `${prefix}/route/${encodeURIComponent(router)}/`;
}

export function routePath(prefix: string, router: string, bsid: string): string {
  return `${routePrefix(prefix, router)}${bsid}`;
}

/** `<prefix>/health/<node>` → the node's health record. */
export function healthPath(prefix: string, node: string): string {
  return `${prefix}/health/${encodeURIComponent(node)}`;
}
