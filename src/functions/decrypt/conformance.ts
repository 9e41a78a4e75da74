/** Conformance cases of `decrypt` (run by ../conformance.test.ts, as for every built-in). */
import type { ConformanceCase } from '../../sdk/conformance.js';
import { testKeyring } from '../encrypt/conformance.js';
import { encrypt } from '../encrypt/index.js';

export function conformanceCases(): ConformanceCase[] {
  const { baseDir, options } = testKeyring();
  return [{ name: 'tunnel, server end', end: 'server', argument: 7, options: { ...options, cipher: 'chacha20-poly1305' }, baseDir, inverse: { descriptor: encrypt, options } }];
}
