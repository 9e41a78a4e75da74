/**
 * Old forms a config file may still use, as a table: a renamed key (`vf` → `function`) or a value
 * in an old unit (`bindingSids.lifetime: 300`, seconds). Before validation, `upgradeOldForms` rewrites
 * each into the new form (the input itself is not changed) and returns one deprecation line per old
 * form found, naming every place it was found — the caller logs or prints them once per load.
 */
import { SrError } from '../core/errors.js';
import { fieldPath } from './fields.js';

export interface OldForm {
  /** the objects it may appear in: keys from the top; '*' is any array index or record key */
  at: readonly string[];
  /** the old key in that object */
  key: string;
  /** whether the value is in the old form (default: any value under the old key) */
  old?: (value: unknown) => boolean;
  /** the new key (default: the same key) */
  to?: string;
  /** the new value (default: unchanged) */
  upgrade?: (value: unknown) => unknown;
  /** what the deprecation line says, e.g. "the key `vf` is deprecated: write `function`" */
  says: string;
}

type Json = unknown;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Rewrites every old form of `forms` found in `input` into its new form. A renamed key given together
 * with its new name is CONFIG_INVALID (which one is meant?). Returns the rewritten value and one line
 * per deprecation found (`SOURCE: SAYS (at PATH, PATH)`; forms with the same `says` share a line).
 */
export function upgradeOldForms(input: Json, forms: readonly OldForm[], source = 'config'): { value: Json; deprecations: string[] } {
  // forms that say the same thing (one key at several depths) make one line
  const found = new Map<string, string[]>();
  let value = input;
  for (const form of forms) {
    const at = found.get(form.says) ?? [];
    value = rewrite(value, form, 0, [], at, source);
    if (at.length) found.set(form.says, at);
  }
  return { value, deprecations: [...found].map(([says, at]) => `${source}: ${says} (at ${at.join(', ')})`) };
}

function rewrite(node: Json, form: OldForm, depth: number, path: (string | number)[], found: string[], source: string): Json {
  if (depth === form.at.length) {
    if (!isObject(node) || !(form.key in node)) return node;
    const v = node[form.key];
    if (form.old && !form.old(v)) return node;
    const to = form.to ?? form.key;
    if (to !== form.key && to in node) {
      throw new SrError('CONFIG_INVALID', `${source}: ${fieldPath([...path, form.key])}: \`${form.key}\` is the old name of \`${to}\`: give \`${to}\` only`);
    }
    found.push(fieldPath([...path, form.key]));
    const out: Record<string, unknown> = {};
    // keep the key order (error messages and round trips read better)
    for (const [k, x] of Object.entries(node)) {
      if (k === form.key) out[to] = form.upgrade ? form.upgrade(x) : x;
      else out[k] = x;
    }
    return out;
  }
  const step = form.at[depth]!;
  if (Array.isArray(node)) {
    if (step !== '*') return node;
    let changed = false;
    const out = node.map((x, i) => {
      const y = rewrite(x, form, depth + 1, [...path, i], found, source);
      changed ||= y !== x;
      return y;
    });
    return changed ? out : node;
  }
  if (!isObject(node)) return node;
  let out: Record<string, unknown> | undefined;
  for (const k of step === '*' ? Object.keys(node) : [step]) {
    if (!(k in node)) continue;
    const y = rewrite(node[k], form, depth + 1, [...path, k], found, source);
    if (y !== node[k]) (out ??= { ...node })[k] = y;
  }
  return out ?? node;
}
