/** Conformance cases of `decompress` (run by ../conformance.test.ts, as for every built-in). */
import type { ConformanceCase } from '../../sdk/conformance.js';
import { compress } from '../compress/index.js';

export function conformanceCases(): ConformanceCase[] {
  return [{ name: 'gzip tunnel, server end', end: 'server', options: { algorithm: 'gzip' }, inverse: { descriptor: compress, options: { algorithm: 'gzip' } } }];
}
