/** `srv6pipes demo` as a user runs it: both parts pass, and nothing is left behind. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { BIN } from '../helpers/harness.js';

test('srv6pipes demo: both parts PASS and every lab is removed', async () => {
  const before = (await promisify(execFile)('ip', ['netns', 'list'])).stdout;
  const r = await promisify(execFile)(process.execPath, [BIN, 'demo', '--size', String(2 << 20)], { timeout: 120_000 });
  assert.match(r.stdout, /^ {2}result {7}PASS$/m);
  assert.match(r.stdout, /the client kept its BSID/);
  assert.match(r.stdout, /^srv6pipes demo: PASS$/m);
  const after = (await promisify(execFile)('ip', ['netns', 'list'])).stdout;
  const leftover = after.split('\n').filter((l) => /^s6p-dem/.test(l) && !before.includes(l));
  assert.deepEqual(leftover, []);
});
