/** `srv6pipes demo` as a user runs it: every part passes, and nothing is left behind. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { BIN } from '../helpers/harness.js';

test('srv6pipes demo: all three parts PASS and every lab is removed', async () => {
  const before = (await promisify(execFile)('ip', ['netns', 'list'])).stdout;
  const r = await promisify(execFile)(process.execPath, [BIN, 'demo', '--size', String(2 << 20)], { timeout: 120_000 });
  assert.equal(r.stdout.match(/^ {2}result {7}PASS$/gm)?.length, 3, r.stdout);
  assert.match(r.stdout, /the client kept its BSID/);
  assert.match(r.stdout, /fn 2 \(xor\): [1-9]\d* flow/, 'the proxies’ stats (`stats --json`) name the function');
  assert.match(r.stdout, /^ {2}backup .*\n {15}xdsl carried [\d.]+ MiB, lte 0\.0\d MiB/m);
  assert.match(r.stdout, /^srv6pipes demo: PASS$/m);
  const after = (await promisify(execFile)('ip', ['netns', 'list'])).stdout;
  const leftover = after.split('\n').filter((l) => /^s6p-dem/.test(l) && !before.includes(l));
  assert.deepEqual(leftover, []);
});
