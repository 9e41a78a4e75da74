/** Conformance cases of `encrypt` (run by ../conformance.test.ts, as for every built-in). */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConformanceCase } from '../../sdk/conformance.js';
import { decrypt } from '../decrypt/index.js';

let keyDir: string | undefined;

/** A keyring with key 7, written once per process (in a fresh temporary directory): both tunnel ends' cases use it. */
export function testKeyring(): { baseDir: string; options: { keyring: string } } {
  if (!keyDir) {
    keyDir = mkdtempSync(join(tmpdir(), 'srv6pipes-conformance-'));
    writeFileSync(join(keyDir, 'keyring.yaml'), `keys:\n  "7": "${randomBytes(32).toString('base64')}"\n`, { mode: 0o600 });
  }
  return { baseDir: keyDir, options: { keyring: 'keyring.yaml' } };
}

export function conformanceCases(): ConformanceCase[] {
  const { baseDir, options } = testKeyring();
  return [{ name: 'AES-256-GCM tunnel', argument: 7, options, baseDir, inverse: { descriptor: decrypt, options } }];
}
