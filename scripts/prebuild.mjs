#!/usr/bin/env node
// The addon's prebuilt binaries for the package (`npm pack` runs this through `prepack`): one N-API
// build per architecture, for every Node version (prebuildify --napi, stripped) into prebuilds/.
//   - the machine's own architecture, always;
//   - linux-arm64 as well on an x86-64 machine that has the cross compiler (Debian
//     gcc-aarch64-linux-gnu; `npm test`'s setup installs it), checked under qemu by
//     test/e2e/package.test.ts. Without it: one line on stderr and no arm64 binary.
// Output goes to stderr: npm pack --json prints its report on stdout.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prebuildify = join(root, 'node_modules', 'prebuildify', 'bin.js');

/** The cross toolchain for an architecture, when the machine has one. */
const CROSS = {
  arm64: { cc: 'aarch64-linux-gnu-gcc', strip: 'aarch64-linux-gnu-strip' },
};

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function build(arch, env = {}) {
  const r = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--arch', arch, '--platform', 'linux'], {
    cwd: root,
    stdio: ['ignore', process.stderr, process.stderr],
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) {
    process.stderr.write(`prebuild: the ${arch} build failed (exit ${r.status})\n`);
    process.exit(1);
  }
}

if (!has('node-gyp')) {
  // npm puts its own node-gyp on PATH for scripts: run this as `npm run build:prebuilt` (or npm pack)
  process.stderr.write('prebuild: node-gyp is not on PATH: run it through npm (npm run build:prebuilt)\n');
  process.exit(2);
}

// cross builds first: every build leaves its binary in build/Release, and the host's must be the last
for (const [arch, t] of Object.entries(CROSS)) {
  if (arch === process.arch || process.arch !== 'x64') continue;
  if (!has(t.cc)) {
    process.stderr.write(`prebuild: no linux-${arch} binary: its cross compiler ${t.cc} is missing (apt-get install gcc-aarch64-linux-gnu)\n`);
    continue;
  }
  // the addon is C only; node-gyp takes the compiler and the linker from the environment
  build(arch, { CC: t.cc, CXX: t.cc, LINK: t.cc, PREBUILD_STRIP_BIN: t.strip });
}
build(process.arch);
