#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's built-in test runner.
// --unit: only the unit tests beside the sources (no namespaces, no root needed).
// Without it, the end-to-end files that start proxies run twice: on the default relay, then on the
// JavaScript one (SRV6PIPES_TEST_RELAY=js).
// Extra arguments are passed to `node --test` (e.g. --test-name-pattern=xor).
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
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
const run = (list, env = process.env) =>
  spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=300000', ...passOn, ...list], { stdio: 'inherit', env }).status ?? 1;

const status = run(files);
if (unitOnly || status !== 0) process.exit(status);

// The proxy's flows go to the native relay thread where they can (nativeRelay, the default): the
// end-to-end files that start proxies run a second time with every flow on the JavaScript relay
// (test/helpers/harness.ts appends `nativeRelay: off`), so both relays pass the same tests.
const proxyFiles = files.filter((f) => f.startsWith(join('dist', 'test')) && readFileSync(f, 'utf8').includes('startProxy('));
console.log(`\nrun-tests: ${proxyFiles.length} end-to-end files again with SRV6PIPES_TEST_RELAY=js (the JavaScript relay)`);
process.exit(run(proxyFiles, { ...process.env, SRV6PIPES_TEST_RELAY: 'js' }));
