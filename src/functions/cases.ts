/** The conformance cases of a built-in: `functions/<name>/conformance.ts` exports `conformanceCases()`. */
import { existsSync } from 'node:fs';
import type { ConformanceCase } from '../sdk/conformance.js';
import type { FunctionDescriptor } from '../sdk/types.js';

/** The cases in a built-in's folder: [] when it has none (no conformance.js, or no cases in it). */
export async function casesOf(d: FunctionDescriptor): Promise<ConformanceCase[]> {
  const url = new URL(`./${d.name}/conformance.js`, import.meta.url);
  if (!existsSync(url)) return [];
  const mod = (await import(url.href)) as { conformanceCases?: () => ConformanceCase[] };
  return typeof mod.conformanceCases === 'function' ? mod.conformanceCases() : [];
}
