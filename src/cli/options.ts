/** Option values shared by several commands. */
import { SrError } from '../core/errors.js';

/** "a, b,c" → ['a', 'b', 'c']; anything else → []. */
export function listOption(v: unknown): string[] {
  return typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

/** An optional TCP port option: undefined when absent, BAD_ARGUMENT when not 1–65535. */
export function portOption(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const port = Number(v);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SrError('BAD_ARGUMENT', `bad port "${String(v)}"`, { hint: 'a TCP port, 1–65535' });
  return port;
}
