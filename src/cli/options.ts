/**
 * Typed CLI options: each constructor declares a flag and how its text becomes a value. A bad value
 * is BAD_ARGUMENT naming the flag and what it takes (one line and a hint; no stack).
 */
import { durationArgument, formatDuration, type DurationBounds } from '../config/duration.js';
import { SrError } from '../core/errors.js';
import type { OptionSpec } from './spec.js';

function bad(flag: string, raw: unknown, wants: string, example: string): SrError {
  return new SrError('BAD_ARGUMENT', `${flag}: ${JSON.stringify(raw)} is not ${wants}`, { hint: `e.g. ${flag} ${example}; see --help` });
}

/** A string; undefined when absent (or the default). */
export function text(flags: string, description: string): OptionSpec<string | undefined>;
export function text(flags: string, description: string, fallback: string): OptionSpec<string>;
export function text(flags: string, description: string, fallback?: string): OptionSpec<string | undefined> {
  return { flags, description, ...(fallback !== undefined ? { default: fallback } : {}), parse: (raw) => (typeof raw === 'string' ? raw : fallback) };
}

/** A switch: true when given. */
export function flag(flags: string, description: string): OptionSpec<boolean> {
  return { flags, description, parse: (raw) => raw === true };
}

/** A comma-separated list ("a, b,c" → ['a', 'b', 'c']); [] when absent. */
export function list(flags: string, description: string): OptionSpec<string[]> {
  return { flags, description, parse: (raw) => listOption(raw) };
}

/** "a, b,c" → ['a', 'b', 'c']; anything else → []. */
export function listOption(v: unknown): string[] {
  return typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

export interface IntBounds {
  min?: number;
  max?: number;
}

function intValue(raw: string | boolean | undefined, flag: string, b: IntBounds): number {
  const s = typeof raw === 'string' ? raw.trim() : '';
  const n = /^-?\d+$/.test(s) ? Number(s) : Number.NaN;
  const min = b.min ?? Number.MIN_SAFE_INTEGER;
  const max = b.max ?? Number.MAX_SAFE_INTEGER;
  const range = b.min !== undefined && b.max !== undefined ? ` from ${b.min} to ${b.max}` : b.min !== undefined ? ` of at least ${b.min}` : '';
  if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(flag, raw, `a whole number${range}`, String(b.min !== undefined && b.min > 0 ? b.min : 1));
  return n;
}

/** A whole number within the bounds; undefined when absent. */
export function int(flags: string, description: string, bounds?: IntBounds): OptionSpec<number | undefined>;
export function int(flags: string, description: string, bounds: IntBounds & { default: number }): OptionSpec<number>;
export function int(flags: string, description: string, bounds: IntBounds & { default?: number } = {}): OptionSpec<number | undefined> {
  return {
    flags,
    description,
    ...(bounds.default !== undefined ? { default: String(bounds.default) } : {}),
    parse: (raw, f) => (raw === undefined ? bounds.default : intValue(raw, f, bounds)),
  };
}

/** A TCP or UDP port, 1–65535; undefined when absent. */
export function port(flags: string, description: string): OptionSpec<number | undefined> {
  return int(flags, description, { min: 1, max: 65535 });
}

/** A port given as a positional argument: BAD_ARGUMENT when not 1–65535. */
export function portArgument(text: string | undefined, what = 'port'): number {
  return intValue(text, what, { min: 1, max: 65535 });
}

/**
 * A duration in ms: a string with its unit (500ms, 5s, 2m, 1h) or a bare number in `unit` (the flag
 * documents it); undefined when absent and no default.
 */
export function duration(flags: string, description: string, bounds: DurationBounds & { unit: 'ms' | 's' }): OptionSpec<number | undefined>;
export function duration(flags: string, description: string, bounds: DurationBounds & { unit: 'ms' | 's'; default: string }): OptionSpec<number>;
export function duration(flags: string, description: string, bounds: DurationBounds & { unit: 'ms' | 's'; default?: string }): OptionSpec<number | undefined> {
  return {
    flags,
    description,
    ...(bounds.default !== undefined ? { default: bounds.default } : {}),
    parse: (raw, f) => {
      const v = raw ?? bounds.default;
      if (v === undefined) return undefined;
      if (typeof v !== 'string') throw bad(f, v, 'a duration', '5s');
      try {
        return durationArgument(v, f, bounds);
      } catch (e) {
        const range = `${formatDuration(bounds.min ?? 0)} to ${formatDuration(bounds.max ?? 2 ** 31 - 1)}`;
        throw new SrError('BAD_ARGUMENT', (e as Error).message, { hint: `a duration from ${range}, with a unit (500ms, 5s, 2m, 1h) or a bare number of ${bounds.unit === 's' ? 'seconds' : 'milliseconds'}; see --help` });
      }
    },
  };
}

/** One of a few words. */
export function oneOf<const V extends string>(flags: string, description: string, values: readonly V[], fallback: V): OptionSpec<V> {
  return {
    flags,
    description,
    default: fallback,
    parse: (raw, f) => {
      const v = raw ?? fallback;
      if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw bad(f, raw, `one of ${values.join(', ')}`, fallback);
      return v as V;
    },
  };
}

/** The long flag of commander flags ('-c, --config <file>' → '--config'). */
export function longFlag(flags: string): string {
  return /--[a-z0-9-]+/.exec(flags)?.[0] ?? flags;
}

/** One of `values`, or undefined when absent (something else decides: a config file's setting). */
export function optionalOneOf<const V extends string>(flags: string, description: string, values: readonly V[]): OptionSpec<V | undefined> {
  return {
    flags,
    description,
    parse: (raw, f) => {
      if (raw === undefined) return undefined;
      if (typeof raw !== 'string' || !(values as readonly string[]).includes(raw)) throw bad(f, raw, `one of ${values.join(', ')}`, values[Math.floor(values.length / 2)]!);
      return raw as V;
    },
  };
}
