#!/usr/bin/env node
/**
 * Which modules a proxy worker loads, from `strace -f -e trace=openat,clone,clone3,vfork` of a proxy's
 * start (scripts/profile-proxy.mjs, phase `modules`): every .js/.json/.node file the worker process or
 * its threads opened, grouped by package (or by our folder), with their sizes on disk.
 *
 *   node scripts/profile-modules.mjs results/profile14/modules-openat.txt WORKER_PID
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';

const [trace, pidArg] = process.argv.slice(2);
const worker = Number(pidArg);
const lines = readFileSync(trace, 'utf8').split('\n');
const parent = new Map();
for (const l of lines) {
  const m = /^(\d+)\s+\S+\s+(?:clone3?|vfork)\(.*= (\d+)$/.exec(l) ?? /^(\d+)\s+\S+\s+<\.\.\. (?:clone3?|vfork) resumed>.*= (\d+)$/.exec(l);
  if (m) parent.set(Number(m[2]), Number(m[1]));
}
const belongs = (tid) => {
  for (let t = tid, i = 0; i < 64; i++) {
    if (t === worker) return true;
    if (!parent.has(t)) return false;
    t = parent.get(t);
  }
  return false;
};
const files = new Set();
for (const l of lines) {
  const m = /^(\d+)\s+\S+\s+openat\(AT_FDCWD, "([^"]+)"[^)]*(?:\) = (-?\d+)|<unfinished)/.exec(l);
  if (!m || !belongs(Number(m[1]))) continue;
  if (m[3] !== undefined && Number(m[3]) < 0) continue;
  if (/\.(m?js|cjs|json|node)$/.test(m[2]) && !m[2].endsWith('package.json')) files.add(m[2]);
}
const groups = new Map();
for (const f of files) {
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f)?.[1];
  const ours = /\/dist\/src\/([^/]+)\//.exec(f)?.[1];
  const key = dep ? `dependency ${dep}` : ours ? `ours: src/${ours}/` : basename(f);
  const g = groups.get(key) ?? { files: 0, bytes: 0 };
  g.files++;
  try {
    g.bytes += statSync(f).size;
  } catch {
    // gone
  }
  groups.set(key, g);
}
const rows = [...groups.entries()].sort((a, b) => b[1].bytes - a[1].bytes);
const total = rows.reduce((s, [, g]) => ({ files: s.files + g.files, bytes: s.bytes + g.bytes }), { files: 0, bytes: 0 });
console.log(`worker ${worker}: ${total.files} files, ${(total.bytes / 1024).toFixed(0)} KiB of source\n`);
console.log('| package / folder | files | KiB on disk |\n|---|---|---|');
for (const [k, g] of rows) console.log(`| ${k} | ${g.files} | ${(g.bytes / 1024).toFixed(1)} |`);
if (process.env.LIST) for (const f of [...files].sort()) console.log(f);
