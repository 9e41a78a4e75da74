/** Conformance cases of `ratelimit` (run by ../conformance.test.ts, as for every built-in). */
import type { ConformanceCase } from '../../sdk/conformance.js';

export function conformanceCases(): ConformanceCase[] {
  return [{ name: '200 MB/s', identity: true, argument: 200_000_000 }];
}
