/**
 * Durations in configuration files and requests: a number of milliseconds, or a string such as
 * "500ms", "5s", "2m", "1h". Every duration is bounded when it is validated: Node's timers take at
 * most 2^31−1 ms (about 24.8 days) and turn anything above into a 1 ms timer, so an unbounded
 * `timeouts.connect: 36000m` would time every connection out at once.
 */
import { z } from 'zod';
import { SrError } from '../core/errors.js';
import { explainIssues } from './fields.js';

/** The largest delay a Node.js timer honours: 2^31−1 ms. */
export const TIMER_MAX_MS = 2 ** 31 - 1;

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
type Unit = keyof typeof UNITS;
const DURATION_RE = /^(\d{1,15}(?:\.\d{1,9})?)(ms|s|m|h)$/;

/** Milliseconds of a duration string ("1.5s" → 1500), or undefined when it is not one. */
export function parseDurationText(text: string): number | undefined {
  const m = DURATION_RE.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2] as Unit]);
}

/** "90000" → "1.5m": a limit as a reader would write it back. */
export function formatDuration(ms: number): string {
  for (const [unit, k] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms >= k && ms % k === 0) return `${ms / k}${unit}`;
  return `${ms}ms`;
}

export interface DurationBounds {
  /** at least this many ms (default 0) */
  min?: number;
  /** at most this many ms (default and ceiling: TIMER_MAX_MS) */
  max?: number;
}

/**
 * A zod schema for a duration, in ms after parsing: a non-negative integer number of ms or a
 * string with a unit (ms, s, m, h), within [min, max] (max at most TIMER_MAX_MS).
 */
export function duration(bounds: DurationBounds = {}) {
  const min = bounds.min ?? 0;
  const max = Math.min(bounds.max ?? TIMER_MAX_MS, TIMER_MAX_MS);
  const range = `between ${formatDuration(min)} and ${max === TIMER_MAX_MS ? `${max}ms (24.8 days, what a timer takes)` : formatDuration(max)}`;
  const hint = `a duration such as 500ms, 5s, 2m or 1h (a bare number counts milliseconds), ${range}`;
  // one message for every shape of mistake (a union would say "Invalid input"): the hint and what was given
  const said = (input: unknown): string => (input === undefined ? `required (${hint})` : `${hint}, not ${JSON.stringify(input)}`);
  return z
    .union(
      [
        z.number().int(),
        z.string().transform((s, ctx) => {
          const ms = parseDurationText(s.trim());
          if (ms === undefined) {
            ctx.addIssue({ code: 'custom', message: said(s), input: s });
            return z.NEVER;
          }
          return ms;
        }),
      ],
      { error: (iss) => said(iss.input) },
    )
    .pipe(z.number().min(min, { error: (iss) => `a duration ${range}, not ${formatDuration(Number(iss.input))}` }).max(max, { error: (iss) => `a duration ${range}, not ${formatDuration(Number(iss.input))}` }));
}

/**
 * A duration given outside a config file (a CLI flag, an admin request): a bare number counts in
 * `unit`, a string may carry its own unit. BAD_ARGUMENT naming `what` when it is not a duration
 * within the bounds.
 */
export function durationArgument(value: unknown, what: string, bounds: DurationBounds & { unit?: 'ms' | 's' } = {}): number {
  const k = bounds.unit === 's' ? 1000 : 1;
  const v = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) * k : typeof value === 'number' ? value * k : value;
  const schema = duration(bounds);
  const r = schema.safeParse(typeof v === 'number' ? Math.round(v) : v, { reportInput: true });
  if (!r.success) throw new SrError('BAD_ARGUMENT', `${what}: ${explainIssues(schema, r.error.issues).message} (got ${JSON.stringify(value)})`);
  return r.data;
}
