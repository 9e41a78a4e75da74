/**
 * Naming a field of a config file or request in an error: `functions[2].options.passes`. Every
 * loader (proxy, controller, lab topologies, function options) words its errors this way, and
 * `explainIssues` turns zod's issues into the message a reader needs: the field, the real mistake
 * (not zod's "Invalid input" of a union), an unknown key with the key that was probably meant.
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

/** Parses `input` with `schema`; the most telling issue (explainIssues) becomes `invalid(path, message)`. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, invalid: (path: readonly PropertyKey[], message: string) => Error): z.output<S> {
  const r = schema.safeParse(input, { reportInput: true });
  if (r.success) return r.data;
  const { path, message } = explainIssues(schema, r.error.issues);
  throw invalid(path, message);
}

/** Levenshtein distance, for "did you mean" (short strings only: config keys). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = here;
    }
  }
  return row[b.length]!;
}

/** The candidate closest to `word` (case, plural, a typo or two), or undefined when none is close. */
export function nearestKey(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.min(3, Math.floor(word.length / 3))) ? best : undefined;
}

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; in?: z.ZodType; out?: z.ZodType; options?: z.ZodType[]; element?: z.ZodType; valueType?: z.ZodType; items?: z.ZodType[]; left?: z.ZodType; right?: z.ZodType; getter?: () => z.ZodType };
/** A zod 4 schema (its definition readable); a module may bring zod 3 or a hand-written safeParse. */
export const isZod4 = (s: unknown): boolean => typeof (s as { _zod?: { def?: { type?: unknown } } } | null)?._zod?.def?.type === 'string';
const defOf = (s: z.ZodType): Def => (isZod4(s) ? (s as unknown as { _zod: { def: Def } })._zod.def : { type: 'unknown' });

/** The schemas that may describe the value at `path` below `schema` (several through unions). */
function schemasAt(schema: z.ZodType, path: readonly PropertyKey[], keepUnion = false): z.ZodType[] {
  const d = defOf(schema);
  if (keepUnion && path.length === 0 && d.type === 'union') return [schema];
  switch (d.type) {
    case 'optional': case 'nullable': case 'default': case 'prefault': case 'catch': case 'readonly': case 'nonoptional':
      return schemasAt(d.innerType!, path, keepUnion);
    case 'pipe':
      // a preprocess is a pipe from a transform, a .transform() a pipe into one: the schemas on either side
      return [d.in!, d.out!].filter((s) => defOf(s).type !== 'transform').flatMap((s) => schemasAt(s, path, keepUnion));
    case 'union':
      return d.options!.flatMap((o) => schemasAt(o, path));
    case 'intersection':
      return [...schemasAt(d.left!, path), ...schemasAt(d.right!, path)];
    case 'lazy':
      return schemasAt(d.getter!(), path, keepUnion);
  }
  if (path.length === 0) return [schema];
  const [head, ...rest] = path;
  if (d.type === 'object' && typeof head === 'string' && d.shape && Object.hasOwn(d.shape, head)) return schemasAt(d.shape[head]!, rest, keepUnion);
  if (d.type === 'array' && typeof head === 'number') return schemasAt(d.element!, rest, keepUnion);
  if (d.type === 'tuple' && typeof head === 'number' && d.items?.[head]) return schemasAt(d.items[head], rest, keepUnion);
  if (d.type === 'record') return schemasAt(d.valueType!, rest, keepUnion);
  return [];
}

/** The keys an object at `path` may have. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(schema, path)) {
    const d = defOf(s);
    if (d.type === 'object' && d.shape) for (const k of Object.keys(d.shape)) keys.add(k);
  }
  return [...keys];
}

type Issue = z.core.$ZodIssue & { input?: unknown };

const WORDS: Record<string, string> = { object: 'a mapping (key: value)', array: 'a list', number: 'a number', int: 'a whole number', string: 'a string', boolean: 'true or false', nan: 'a number', bigint: 'a number', null: 'null', undefined: 'nothing' };
const word = (expected: string): string => WORDS[expected] ?? expected;

/** The value as a reader would name it: `the string "2"`, `the number 7`, `a list`. */
function describe(v: unknown): string {
  if (v === null) return 'an empty value (null)';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string': return `the string ${JSON.stringify(v)}`;
    case 'number': case 'boolean': return `${typeof v === 'number' ? 'the number ' : ''}${String(v)}`;
    case 'object': return 'a mapping';
    default: return typeof v;
  }
}

const DEFAULT_MESSAGE = /^(Invalid input|Invalid option|Too (big|small)|Unrecognized keys?|Invalid (string|number|type|element|key|value))/;

/** One issue, with zod's default wording replaced by what the value is and what was expected. */
function reword(schema: z.ZodType, base: readonly PropertyKey[], i: Issue): { path: PropertyKey[]; message: string } {
  const path = [...base, ...i.path];
  if (i.code === 'unrecognized_keys') {
    const known = keysAt(schema, i.path).filter((k) => !i.keys.includes(k));
    const key = i.keys[0]!;
    const near = nearestKey(key, known);
    const also = i.keys.length > 1 ? ` (and ${i.keys.slice(1).map((k) => `\`${k}\``).join(', ')})` : '';
    const tail = near !== undefined ? `: did you mean \`${near}\`?` : known.length && known.length <= 16 ? `: the keys here are ${known.join(', ')}` : '';
    return { path: [...path, key], message: `unknown key${also}${tail}` };
  }
  if (!DEFAULT_MESSAGE.test(i.message)) return { path, message: i.message };
  const has = 'input' in i && i.input !== undefined;
  switch (i.code) {
    case 'invalid_type': {
      if (!has) return { path, message: `required (${word(i.expected)})` };
      const text = typeof i.input === 'string' ? i.input.trim() : '';
      const numeric = i.expected === 'number' && /^-?\d+(\.\d+)?$/.test(text);
      return { path, message: `expected ${word(i.expected)}, not ${describe(i.input)}${numeric ? ` (write ${text} without quotes)` : ''}` };
    }
    case 'too_big': case 'too_small': {
      const big = i.code === 'too_big';
      const bound = Number(big ? (i as { maximum: number | bigint }).maximum : (i as { minimum: number | bigint }).minimum);
      const exclusive = (i as { inclusive?: boolean }).inclusive === false;
      const plural = bound === 1 ? '' : 's';
      const what = i.origin === 'array' || i.origin === 'set' ? ` item${plural}` : i.origin === 'string' ? ` character${plural}` : '';
      const limit = `${big ? (exclusive ? 'less than' : 'at most') : exclusive ? 'more than' : 'at least'} ${bound}${what}`;
      const got = typeof i.input === 'number' ? ` (got ${i.input})` : Array.isArray(i.input) ? ` (got ${i.input.length})` : typeof i.input === 'string' && what ? ` (got ${i.input.length})` : '';
      return { path, message: `${limit}${got}` };
    }
    case 'invalid_value':
      return { path, message: `expected ${i.values.map((v) => JSON.stringify(v)).join(', ').replace(/, ([^,]*)$/, ' or $1')}${has ? `, not ${describe(i.input)}` : ''}` };
    default:
      return { path, message: i.message };
  }
}

/** Does a union branch's failure only say that the value is of another type (another branch's case)? */
function typeMismatch(issues: readonly Issue[]): boolean {
  return issues.every((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value' || (i.code === 'invalid_union' && i.errors.every((b) => typeMismatch(b as Issue[])))));
}

/** What a union branch expects, as words: `"off"`, `a mapping (key: value)`. */
function expects(issues: readonly Issue[]): string[] {
  return issues.flatMap((i) => (i.code === 'invalid_type' ? [word(i.expected)] : i.code === 'invalid_value' ? i.values.map((v) => JSON.stringify(v)) : i.code === 'invalid_union' ? i.errors.flatMap((b) => expects(b as Issue[])) : []));
}

/**
 * The most telling of zod's issues, as `{ path, message }`: an unknown key that is a typo of a known
 * one first (the missing key it causes is the symptom), else the first issue; inside a union, the
 * branch whose type matches the value (its own message, not "Invalid input"), or, when none does,
 * what each branch would take.
 */
export function explainIssues(schema: z.ZodType, issues: readonly z.core.$ZodIssue[], base: readonly PropertyKey[] = []): { path: PropertyKey[]; message: string } {
  const list = issues as readonly Issue[];
  const typo = list.find((i) => i.code === 'unrecognized_keys' && nearestKey(i.keys[0]!, keysAt(schema, i.path)) !== undefined);
  const first = typo ?? list[0]!;
  if (first.code !== 'invalid_union' || !DEFAULT_MESSAGE.test(first.message)) return reword(schema, base, first);
  const branches = first.errors as Issue[][];
  const matching = branches.filter((b) => b.length && !typeMismatch(b));
  if (matching.length) {
    const best = matching.reduce((a, b) => (b.length < a.length ? b : a));
    // the branch's own schema, for the keys of an unknown-key issue inside it
    const union = schemasAt(schema, first.path, true).find((s) => defOf(s).type === 'union' && defOf(s).options!.length === branches.length);
    if (union) return explainIssues(defOf(union).options![branches.indexOf(best)]!, best, [...base, ...first.path]);
    return explainIssues(schema, best.map((i) => ({ ...i, path: [...first.path, ...i.path] })), base);
  }
  const words = [...new Set(branches.flatMap((b) => expects(b)))];
  const input = first.input;
  return { path: [...base, ...first.path], message: `expected ${words.join(', ').replace(/, ([^,]*)$/, ' or $1')}${input !== undefined ? `, not ${describe(input)}` : ''}` };
}
