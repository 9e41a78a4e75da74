/** What a fuzz case may and may not do: the oracles' vocabulary. */
import { isDeepStrictEqual } from 'node:util';
import { isSrError, type SrError } from '../core/errors.js';

/** An oracle failed: the input found a bug. */
export class Finding extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Finding';
  }
}

/** The result of a call that may fail only with the project's typed error. */
export type Typed<T> = { ok: true; value: T } | { ok: false; error: SrError };

/** Runs `f`; an SrError is an answer, anything else thrown is a Finding. */
export function typed<T>(what: string, f: () => T): Typed<T> {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (isSrError(e)) return { ok: false, error: e };
    throw new Finding(`${what} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} (only SrError may escape)`, { cause: e });
  }
}

/** The same for an async call. */
export async function typedAsync<T>(what: string, f: () => Promise<T>): Promise<Typed<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    if (isSrError(e)) return { ok: false, error: e };
    throw new Finding(`${what} rejected with ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} (only SrError may escape)`, { cause: e });
  }
}

/** `f` must not throw at all (a function documented as total). */
export function total<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new Finding(`${what} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} (it must not throw)`, { cause: e });
  }
}

export function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Finding(message);
}

/** Deep equality (Buffers by content) or a Finding that shows both sides. */
export function same(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) throw new Finding(`${what}: ${show(actual)} ≠ ${show(expected)}`);
}

function show(v: unknown): string {
  const s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x && typeof x === 'object' && (x as { type?: string }).type === 'Buffer' ? Buffer.from((x as { data: number[] }).data).toString('hex') : x));
  return s === undefined ? String(v) : s.length > 400 ? `${s.slice(0, 400)}…` : s;
}
