#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's built-in test runner.
// --unit: only the unit tests beside the sources (no namespaces, no root needed).
// Without it, the end-to-end files that start proxies run twice: on the default relay, then on the
// JavaScript one (SRV6PIPES_TEST_RELAY=js); and the unit tests run again on every other Node that
// scripts/nodes.json pins (22 and 24: `bash scripts/setup.sh test` fetched them). --each-node adds
// those runs to --unit too.
// Everything runs on the main Node (scripts/nodes.mjs): the machine's when it is at or above the
// engines floor (Node 22), else the one setup fetched. Each run ends with one line: the Node, the
// counts, and how many zstd tests ran (they must, not skip, from Node 22.15 on).
// Extra arguments are passed to `node --test` (e.g. --test-name-pattern=xor).
// Files run two at a time, in the order given: a file with a `run-tests: long` marker line (one that
// runs far longer than the others) goes first, so that the others run beside it rather than after it.
// The unit suite on the other Nodes runs after the main Node's runs; --beside runs it beside the
// main Node's last run (the JavaScript-relay pass; with --unit --each-node, the unit run): two runs
// of two files each on two cores — faster, but the end-to-end files then share the CPU with it, and
// their timing-sensitive parts are what a loaded host makes flaky, so it is not the default (CI).
// Its output is shown once both have ended.
import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { extraNodes, mainNode, ROOT, summarizeTap, tooOldLine, zstdExpected } from './nodes.mjs';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
/** the marker of an end-to-end file that the JavaScript-relay pass skips (see below) */
const RELAY_INDEPENDENT = 'run-tests: relay-independent';
/** the marker of a file that runs far longer than most: it starts first (see longFirst) */
const LONG = 'run-tests: long';
const eachNode = !unitOnly || args.includes('--each-node');
const sequential = !args.includes('--beside');
const passOn = args.filter((a) => a !== '--unit' && a !== '--each-node' && a !== '--beside');
const roots = unitOnly ? ['dist/src'] : ['dist/src', 'dist/test'];
process.chdir(ROOT);

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

const examples = () => walk('examples', []).filter((f) => f.endsWith('.test.mjs'));

/**
 * The files with the `long` marker first, the rest in their order. The runner starts files in the
 * order given, two at a time: a long file started late runs on alone after the others are done
 * (the unit suite: its 90 s socket conformance file, begun in the middle, was the last to end).
 */
function longFirst(list) {
  const long = list.filter((f) => readFileSync(f, 'utf8').includes(LONG));
  return [...long, ...list.filter((f) => !long.includes(f))];
}

// the examples are plain JavaScript, run as they are (docs/writing-a-function.md shows them)
const files = longFirst([...roots.flatMap((r) => walk(r, [])), ...examples()]);
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/ (did the build run?)');
  process.exit(1);
}

const main = mainNode();
if (!main.fromMachine && !main.installed) {
  console.error(`run-tests: ${tooOldLine()}`);
  process.exit(1);
}
const extras = eachNode ? extraNodes(main) : [];
const missing = extras.filter((n) => !n.installed);
if (missing.length) {
  console.error(`run-tests: Node ${missing.map((n) => n.version).join(', ')} not fetched yet: run \`bash scripts/setup.sh test\` (or \`npm test\`)`);
  process.exit(1);
}

/** Whether another user (the tests' `nobody`) can run this file: every folder above it searchable by others. */
function runnableByOthers(path) {
  for (let p = path; ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return false;
    if (p === dirname(p)) return true;
  }
}

// A Node inside a clone that other users cannot enter (a checkout under `mktemp -d`) is copied to a
// folder they can: tests run the CLI as nobody with process.execPath.
const scratch = [];
process.on('exit', () => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));
// Ctrl-C reaches the test runner too; once it has ended, exit through the cleanup above
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)));
const copies = new Map();
function usable(path) {
  if (runnableByOthers(path)) return path;
  if (copies.has(path)) return copies.get(path);
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-node-'));
  scratch.push(dir);
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'bin'), { mode: 0o755 });
  copyFileSync(path, join(dir, 'bin', 'node'));
  chmodSync(join(dir, 'bin', 'node'), 0o755);
  copies.set(path, join(dir, 'bin', 'node'));
  return copies.get(path);
}

const tapDir = mkdtempSync(join(tmpdir(), 'srv6pipes-tap-'));
scratch.push(tapDir);
let runs = 0;
const outcomes = [];

/**
 * One `node --test` run on `node`; prints its line; resolves with whether it passed. `zstd`: the run
 * holds the unit tests, so on a Node with zstd its zstd tests must have run. `log`: a file that takes
 * its output and its line instead of this process's stdout (a run beside another).
 */
async function run(node, label, list, { env = process.env, zstd = true, log } = {}) {
  const tap = join(tapDir, `${runs++}.tap`);
  const exe = usable(node.path);
  const started = Date.now();
  const say = log ? (line) => appendFileSync(log, `${line}\n`) : (line) => console.log(line);
  const slot = outcomes.push(`${label} on Node ${node.version}: did not end`) - 1;
  const fd = log ? openSync(log, 'a') : undefined;
  const status = await new Promise((done) => {
    const child = spawn(exe, ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, '--test-concurrency=2', '--test-timeout=300000', ...passOn, ...list], {
      stdio: fd === undefined ? 'inherit' : ['ignore', fd, fd],
      env: { ...env, PATH: `${dirname(exe)}:${env.PATH ?? ''}` },
    });
    child.on('error', (e) => {
      say(`run-tests: ${exe} did not start: ${e.message}`);
      done(1);
    });
    child.on('exit', (code) => done(code ?? 1));
  });
  if (fd !== undefined) closeSync(fd);
  let text = '';
  try {
    text = readFileSync(tap, 'utf8');
  } catch {
    // no report: the runner did not start
  }
  const s = summarizeTap(text);
  const where = node.fromMachine ? 'the machine’s' : `from ${relative(ROOT, resolve(node.path))}`;
  const zstdRequired = zstd && zstdExpected(node.version) && passOn.length === 0;
  const zstdBad = zstdRequired && s.zstdRan === 0;
  const zstdNote = zstd ? `; zstd: ${s.zstdRan} tests ran${zstdBad ? ' — NONE, though this Node has zstd: failing the run' : ''}` : '';
  say(`\nrun-tests: Node v${node.version} (${where}) ${label}: ${s.tests} tests, ${s.pass} passed, ${s.fail} failed, ${s.skipped} skipped${zstdNote} (${Math.round((Date.now() - started) / 1000)} s)`);
  const passed = status === 0 && !zstdBad;
  outcomes[slot] = `${label} on Node ${node.version}: ${passed ? 'passed' : 'FAILED'}`;
  return passed;
}

// The unit suite on the other supported Nodes (the same addon build: N-API), one Node after another.
const unitFiles = longFirst([...walk('dist/src', []), ...examples()]);
async function otherNodes(log) {
  for (const node of extras) {
    if (log) appendFileSync(log, `\nrun-tests: the unit suite on Node ${node.version}\n`);
    else console.log(`\nrun-tests: the unit suite on Node ${node.version}`);
    if (!(await run(node, 'unit suite', unitFiles, { log }))) return false;
  }
  return true;
}

/**
 * The main Node's last run, with the other Nodes' unit runs beside it (with --beside): their
 * output goes to a file, shown when both have ended. Resolves with whether all passed.
 */
async function lastRun(main) {
  if (sequential || extras.length === 0) return (await main()) && (await otherNodes());
  const log = join(tapDir, 'beside.log');
  console.log(`\nrun-tests: the unit suite on Node ${extras.map((n) => n.version).join(', then ')} runs beside this run; its output follows it`);
  const ours = main();
  const [a, b] = await Promise.all([ours, otherNodes(log)]);
  let text = '';
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    // nothing written
  }
  process.stdout.write(`\nrun-tests: what ran beside it —${text}`);
  return a && b;
}

if (!main.fromMachine) console.log(`run-tests: the machine's Node ${process.versions.node} is below the floor; running on Node ${main.version} (${relative(ROOT, main.path)})`);
let ok;
if (unitOnly) ok = await lastRun(() => run(main, 'unit suite', files));
else {
  ok = await run(main, 'whole suite', files);
  if (ok) {
    // The proxy's flows go to the native relay thread where they can (nativeRelay, the default): the
    // end-to-end files that start proxies run a second time with every flow on the JavaScript relay
    // (test/helpers/harness.ts appends `nativeRelay: off`), so both relays pass the same tests.
    // A file that starts proxies only for what the relay does not touch (operator errors, host
    // state, the control plane) says so with a `relay-independent` marker line and runs once.
    const proxyFiles = files.filter((f) => {
      if (!f.startsWith(join('dist', 'test'))) return false;
      const text = readFileSync(f, 'utf8');
      return text.includes('startProxy(') && !text.includes(RELAY_INDEPENDENT);
    });
    ok = await lastRun(() => {
      console.log(`\nrun-tests: ${proxyFiles.length} end-to-end files again with SRV6PIPES_TEST_RELAY=js (the JavaScript relay)`);
      return run(main, 'end-to-end files on the JavaScript relay', proxyFiles, { env: { ...process.env, SRV6PIPES_TEST_RELAY: 'js' }, zstd: false });
    });
  }
}
if (outcomes.length > 1) console.log(`\nrun-tests: ${outcomes.join('; ')}`);
process.exit(ok ? 0 : 1);
