#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's built-in test runner.
// --unit: only the unit tests beside the sources (no namespaces, no root needed).
// Extra arguments are passed to `node --test` (e.g. --test-name-pattern=xor).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const passOn = args.filter((a) => a !== '--unit');
const roots = unitOnly ? ['dist/src'] : ['dist/src', 'dist/test'];

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js') || name.endsWith('.test.mjs')) out.push(p);
  }
  return out;
}

const files = roots.flatMap((r) => walk(r, []));
// the examples are plain JavaScript, run as they are (docs/writing-a-function.md shows them)
files.push(...walk('examples', []).filter((f) => f.endsWith('.test.mjs')));
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/ (did the build run?)');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=300000', ...passOn, ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
