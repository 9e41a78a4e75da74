/**
 * The fuzz targets with a small count (`npm test`): the same table and oracles as `npm run fuzz`,
 * 2,000 cases per target from a fixed seed (FUZZ_SEED overrides it, FUZZ_CASES the count). A case
 * may take 10 s here instead of `npm run fuzz`'s one second: the suite runs two files at once on a
 * shared machine, where a GC pause or a busy core alone can pass one second; a hang still fails.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { formatResult, runTarget } from './run.js';
import { FUZZ_TARGETS } from './targets.js';

const CASES = Number(process.env['FUZZ_CASES'] ?? 2000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261130);
const LIMIT_MS = 10_000;

describe('fuzz targets (npm run fuzz runs 100,000 cases each)', () => {
  test('the table: unique names, every target has files to blame', () => {
    const names = FUZZ_TARGETS.map((t) => t.name);
    assert.equal(new Set(names).size, names.length);
    for (const t of FUZZ_TARGETS) assert.ok(t.files.length > 0 && t.summary.length > 0, t.name);
  });

  for (const target of FUZZ_TARGETS) {
    test(`${target.name}: ${CASES} cases, no finding`, async () => {
      const r = await runTarget(target, { cases: CASES, seed: SEED, limitMs: LIMIT_MS });
      assert.equal(r.findings, 0, formatResult(r));
      assert.equal(r.cases, CASES);
    });
  }
});

test('npm run fuzz with a mistyped option: one line and the usage, exit 2, no stack; --help prints the usage', () => {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const bad = spawnSync(process.execPath, [main, '--bogus'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^fuzz: Unknown option '--bogus'.*\nusage: npm run fuzz -- /);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack');
  const help = spawnSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: npm run fuzz -- /);
});
