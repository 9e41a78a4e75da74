/** Conformance cases of `compress` (run by ../conformance.test.ts, as for every built-in). */
import type { ConformanceCase } from '../../sdk/conformance.js';
import { decompress } from '../decompress/index.js';

export function conformanceCases(): ConformanceCase[] {
  return (['gzip', 'deflate', 'brotli'] as const).map((algorithm) => ({
    name: `${algorithm} tunnel`,
    options: { algorithm },
    argument: 6,
    inverse: { descriptor: decompress, options: { algorithm } },
  }));
}
