/**
 * Runs fuzz targets with fast-check: `cases` inputs per target from one seed, every case under the
 * target's oracle and under a one-second limit. A failure is shrunk to a small counterexample and
 * reported with what replays it (seed and path).
 */
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { Finding } from './oracle.js';
import type { FuzzTarget } from './targets.js';

/** The longest a single case may take. */
export const CASE_LIMIT_MS = 1000;

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** replay: the path fast-check printed for a failure */
  path?: string;
  /** the longest one case may take (default CASE_LIMIT_MS) */
  limitMs?: number;
}

export interface FuzzResult {
  target: string;
  cases: number;
  ms: number;
  casesPerSecond: number;
  /** 0 or 1: a target stops at its first finding (shrunk) */
  findings: number;
  seed: number;
  /** the failing input as fed to the code (hex or text), shrunk */
  counterexample?: string;
  /** the oracle's message and stack */
  error?: string;
  path?: string;
  /** the shell command that replays this target's run */
  replay: string;
}

function withinLimit(p: Promise<void>, limitMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Finding(`no result within ${limitMs} ms`)), limitMs);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export async function runTarget(target: FuzzTarget, o: FuzzOptions): Promise<FuzzResult> {
  const prepared = await target.prepare();
  const limitMs = o.limitMs ?? CASE_LIMIT_MS;
  let cases = 0;
  const property = fc.asyncProperty(prepared.arbitrary, async (input: unknown) => {
    cases++;
    const t0 = performance.now();
    const r = prepared.run(input);
    if (r instanceof Promise) await withinLimit(r, limitMs);
    const ms = performance.now() - t0;
    if (ms > limitMs) throw new Finding(`one case took ${ms.toFixed(0)} ms (limit ${limitMs} ms)`);
  });
  const t0 = performance.now();
  const details = await fc.check(property, { numRuns: o.cases, seed: o.seed, ...(o.path ? { path: o.path } : {}) });
  const ms = performance.now() - t0;
  const replay = `npm run fuzz -- --target ${target.name} --cases ${o.cases} --seed ${o.seed}`;
  const result: FuzzResult = { target: target.name, cases, ms, casesPerSecond: cases / (ms / 1000), findings: details.failed ? 1 : 0, seed: o.seed, replay };
  if (details.failed) {
    const input = details.counterexample?.[0];
    try {
      result.counterexample = input === undefined ? '(none)' : prepared.show(input);
    } catch (e) {
      result.counterexample = `(cannot show: ${(e as Error).message})`;
    }
    const err = details.errorInstance;
    const cause = err instanceof Error && err.cause instanceof Error ? `\ncaused by: ${err.cause.stack}` : '';
    result.error = err instanceof Error ? `${err.stack ?? err.message}${cause}` : String(err);
    result.path = details.counterexamplePath ?? undefined;
    if (result.path) result.replay += ` --path ${result.path}`;
  }
  return result;
}

/** One line per target: cases, cases/s, findings. */
export function formatResult(r: FuzzResult): string {
  const line = `${r.target.padEnd(18)} ${String(r.cases).padStart(8)} cases ${r.casesPerSecond.toFixed(0).padStart(8)} cases/s  ${(r.ms / 1000).toFixed(1).padStart(6)} s  findings ${r.findings}`;
  if (!r.findings) return line;
  return `${line}\n  counterexample: ${r.counterexample}\n  ${r.error?.split('\n').join('\n  ')}\n  replay: ${r.replay}`;
}
