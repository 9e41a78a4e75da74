/**
 * The values under the store's prefix: JSON with a version, checked field by field. Anything else
 * (another program's value, a truncated write, an older layout) decodes to undefined: the caller
 * logs it, skips it and counts it.
 */
import { z } from 'zod';
import type { StoredBinding } from './types.js';

const VERSION = 1;

const recordSchema = z
  .object({
    v: z.literal(VERSION),
    key: z.string().min(1).max(4096),
    bsid: z.string().min(2).max(64),
    router: z.string().min(1).max(63),
    client: z.string().min(2).max(64),
    segments: z.array(z.string().min(2).max(64)).max(127),
    installedUntil: z.number().int().nonnegative(),
  })
  .strict();

export function encodeBinding(b: StoredBinding): string {
  return JSON.stringify({ v: VERSION, key: b.key, bsid: b.bsid, router: b.router, client: b.client, segments: b.segments, installedUntil: b.installedUntil });
}

/** The record in `text`, or undefined when it is not one of ours. */
export function decodeBinding(text: string): StoredBinding | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = recordSchema.safeParse(doc);
  if (!r.success) return undefined;
  const { v: _v, ...b } = r.data;
  return b;
}

/** The store's key names: `<prefix>/bsid/key/<key, URI-encoded>` → the record, `<prefix>/bsid/sid/<bsid>` → the key. */
export function keyPath(prefix: string, key: string): string {
  return `${prefix}/bsid/key/${encodeURIComponent(key)}`;
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
