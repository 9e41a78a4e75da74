/** Conformance cases of `exec` (run by ../conformance.test.ts, as for every built-in). */
import type { ConformanceCase } from '../../sdk/conformance.js';

export function conformanceCases(): ConformanceCase[] {
  return [
    { name: 'cat both ways', identity: true, options: { upstream: ['cat'], downstream: ['cat'] } },
    { name: 'tr upstream', options: { upstream: ['tr', 'a-z', 'A-Z'], downstream: null } },
  ];
}
