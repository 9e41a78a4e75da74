/** Every built-in function passes the conformance suite (cases per function in the table below). */
import { conformance, type ConformanceCase } from './conformance.js';
import { BUILTIN_FUNCTIONS } from './registry.js';
import { copy } from '../functions/copy/index.js';
import { xor } from '../functions/xor/index.js';

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
  meter: [{ identity: true }],
  ratelimit: [{ name: '200 MB/s', identity: true, argument: 200_000_000 }],
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
