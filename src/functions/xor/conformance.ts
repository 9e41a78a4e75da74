/** Conformance cases of `xor` (run by ../conformance.test.ts, as for every built-in). */
import type { ConformanceCase } from '../../sdk/conformance.js';
import { xor } from './index.js';

export function conformanceCases(): ConformanceCase[] {
  return [
    { name: 'one pass', argument: 0x5a },
    { name: 'inverse pair', argument: 0x5a, options: { passes: 3 }, inverse: { descriptor: xor, options: { passes: 1 } } },
  ];
}
