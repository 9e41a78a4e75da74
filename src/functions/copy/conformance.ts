/** Conformance cases of `copy` (run by ../conformance.test.ts, as for every built-in). */
import type { ConformanceCase } from '../../sdk/conformance.js';

export function conformanceCases(): ConformanceCase[] {
  return [{ identity: true }];
}
