/** Every built-in function passes the conformance suite (cases per function in the table below). */
import { conformance, type ConformanceCase } from '../sdk/conformance.js';
import { BUILTIN_FUNCTIONS } from './registry.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compress } from './compress/index.js';
import { copy } from './copy/index.js';
import { decompress } from './decompress/index.js';
import { decrypt } from './decrypt/index.js';
import { encrypt } from './encrypt/index.js';
import { xor } from './xor/index.js';

const keyDir = mkdtempSync(join(tmpdir(), 'srv6pipes-conformance-'));
writeFileSync(join(keyDir, 'keyring.yaml'), `keys:\n  "7": "${randomBytes(32).toString('base64')}"\n`, { mode: 0o600 });
const keyring = { keyring: 'keyring.yaml' };
const tunnel = (algorithm: string): ConformanceCase => ({ name: `${algorithm} tunnel`, options: { algorithm }, argument: 6, inverse: { descriptor: decompress, options: { algorithm } } });

/** Conformance cases per built-in. A built-in missing here fails the last test. */
export const CASES: Record<string, ConformanceCase[]> = {
  copy: [{ identity: true }],
  xor: [
    { name: 'one pass', argument: 0x5a },
    { name: 'inverse pair', argument: 0x5a, options: { passes: 3 }, inverse: { descriptor: xor, options: { passes: 1 } } },
  ],
  ids: [
    { name: 'block, no match', identity: true, options: { action: 'block', signatures: [{ pattern: 'NEVER-IN-THE-SAMPLE' }] } },
    { name: 'alert, regex', identity: true, options: { action: 'alert', signatures: [{ regex: 'fox jumps over the lazy cat' }] } },
  ],
  exec: [
    { name: 'cat both ways', identity: true, options: { upstream: ['cat'], downstream: ['cat'] } },
    { name: 'tr upstream', options: { upstream: ['tr', 'a-z', 'A-Z'], downstream: null } },
  ],
  compress: [tunnel('gzip'), tunnel('deflate'), tunnel('brotli')],
  decompress: [{ name: 'gzip tunnel, server end', end: 'server', options: { algorithm: 'gzip' }, inverse: { descriptor: compress, options: { algorithm: 'gzip' } } }],
  encrypt: [{ name: 'AES-256-GCM tunnel', argument: 7, options: keyring, baseDir: keyDir, inverse: { descriptor: decrypt, options: keyring } }],
  decrypt: [{ name: 'tunnel, server end', end: 'server', argument: 7, options: { ...keyring, cipher: 'chacha20-poly1305' }, baseDir: keyDir, inverse: { descriptor: encrypt, options: keyring } }],
  meter: [{ identity: true }],
  ratelimit: [{ name: '200 MB/s', identity: true, argument: 200_000_000 }],
  mptcp: [{ name: 'bond: relays unchanged (the MPTCP carrier is opened by the proxy, not here)', identity: true, options: { uplinks: ['fc00:31::1', 'fc00:32::1'] } }],
};

for (const d of BUILTIN_FUNCTIONS) conformance(d, CASES[d.name] ?? []);

import { test } from 'node:test';
import assert from 'node:assert/strict';
test('every built-in function has conformance cases', () => {
  for (const d of BUILTIN_FUNCTIONS) assert.ok((CASES[d.name] ?? []).length > 0, `no conformance cases for ${d.name}`);
  assert.ok(copy && xor);
});

test('the suite fails functions that break the rules (chunk-dependent output, unbounded buffering)', async () => {
  const { spawnSync } = await import('node:child_process');
  const fixture = new URL('../../test/fixtures/bad-functions.fixture.js', import.meta.url).pathname;
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT']; // else the child reports to this runner instead of exiting non-zero
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', fixture], { encoding: 'utf8', timeout: 60_000, env });
  assert.notEqual(r.status, 0, 'the conformance suite passed broken functions');
  const failed = r.stdout.split('\n').filter((l) => /^\s*not ok/.test(l)).join('\n');
  assert.match(failed, /1-byte chunks and 1 MiB chunks give the same result/, 'chunky was not caught');
  assert.match(failed, /back-pressure/, 'hoarder was not caught');
});
