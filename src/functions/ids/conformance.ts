/** Conformance cases of `ids` (run by ../conformance.test.ts, as for every built-in). */
import type { ConformanceCase } from '../../sdk/conformance.js';

export function conformanceCases(): ConformanceCase[] {
  return [
    { name: 'block, no match', identity: true, options: { action: 'block', signatures: [{ pattern: 'NEVER-IN-THE-SAMPLE' }] } },
    { name: 'alert, regex', identity: true, options: { action: 'alert', signatures: [{ regex: 'fox jumps over the lazy cat' }] } },
  ];
}
