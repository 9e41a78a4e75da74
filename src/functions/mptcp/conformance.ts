/** Conformance cases of `mptcp` (run by ../conformance.test.ts, as for every built-in). */
import type { ConformanceCase } from '../../sdk/conformance.js';

export function conformanceCases(): ConformanceCase[] {
  return [{ name: 'bond: relays unchanged (the MPTCP carrier is opened by the proxy, not here)', identity: true, options: { uplinks: ['fc00:31::1', 'fc00:32::1'] } }];
}
