/**
 * Every built-in function passes the conformance suite, with the cases its own folder gives:
 * `functions/<name>/conformance.ts` exports `conformanceCases()`. A new built-in touches its folder and
 * the registry only; one without cases fails here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conformance } from '../sdk/conformance.js';
import { BUILTIN_FUNCTIONS } from './all.js';
import { casesOf } from './cases.js';

const without: string[] = [];
for (const d of BUILTIN_FUNCTIONS) {
  const cases = await casesOf(d);
  if (cases.length === 0) without.push(d.name);
  else conformance(d, cases);
}

test('every built-in function has conformance cases in its folder (functions/<name>/conformance.ts)', async () => {
  assert.deepEqual(without, [], `no conformance cases for ${without.join(', ')}`);
  // and the check can fail: a descriptor whose folder holds no cases has none
  assert.deepEqual(await casesOf({ ...BUILTIN_FUNCTIONS[0]!, name: 'no-such-function' }), []);
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
