/**
 * Naming a field of a config file or request in an error: `functions[2].options.passes`. Every
 * loader (proxy, controller, lab topologies, function options) words its errors this way.
 */
import type { z } from 'zod';
import { SrError } from '../core/errors.js';

/** A zod issue path as a reader writes it: `hosts.p1.routes[0].via`; `empty` for the top level. */
export function fieldPath(path: readonly PropertyKey[], empty = '(top level)'): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || empty;
}

/** CONFIG_INVALID: `SOURCE: FIELD: MESSAGE`. */
export function configInvalid(source: string, path: readonly PropertyKey[], message: string, hint?: string): SrError {
  return new SrError('CONFIG_INVALID', `${source}: ${fieldPath(path)}: ${message}`, hint ? { hint } : {});
}

/** Parses `input` with `schema`; the first issue becomes `invalid(path, message)`. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, invalid: (path: readonly PropertyKey[], message: string) => Error): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw invalid(issue.path, issue.message);
}
