#!/usr/bin/env node
/**
 * What importing a module costs a fresh Node process (issue 14, memory of a worker): RSS, private
 * (anonymous) memory and V8 heap after the import and two GCs, against a bare process. Each module
 * in a child of its own.
 *
 *   node scripts/import-cost.mjs [module …]      (default: the worker's entry modules and its heavy dependencies)
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const D = `${ROOT}dist/src`;
const CHILD = `
const what = process.argv[1];
if (what !== 'none') for (const m of what.split(',')) await import(m);
gc(); gc();
await new Promise((r) => setTimeout(r, 200));
gc();
const t = (await import('node:fs')).readFileSync('/proc/self/smaps_rollup', 'utf8');
const kb = (k) => Number(new RegExp('^' + k + ':\\\\s+(\\\\d+) kB', 'm').exec(t)[1]);
const m = process.memoryUsage();
console.log(JSON.stringify({ rssKB: kb('Rss'), anonKB: kb('Anonymous'), heapUsedKB: Math.round(m.heapUsed / 1024), heapTotalKB: Math.round(m.heapTotal / 1024) }));
`;
const modules = process.argv.slice(2);
const list = modules.length ? modules : ['none', 'zod', 'yaml', 'prom-client', 'pino', 'dns-packet', 'ipaddr.js', `${D}/functions/registry.js`, `${D}/proxy/config.js`, `${D}/proxy/metrics.js`, `${D}/proxy/admin-config.js`, `${D}/proxy/bindings.js`, `${D}/proxy/worker.js`, `${D}/proxy/worker.js,${D}/proxy/ipc.js,${D}/proxy/config.js`];
console.log('| import | RSS MB | private (anonymous) MB | V8 heap used MB | V8 heap total MB |\n|---|---|---|---|---|');
for (const m of list) {
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, m], { cwd: ROOT, encoding: 'utf8' });
  const r = JSON.parse(out);
  console.log(`| ${m.replaceAll(`${D}/`, 'dist/src/')} | ${(r.rssKB / 1024).toFixed(1)} | ${(r.anonKB / 1024).toFixed(1)} | ${(r.heapUsedKB / 1024).toFixed(1)} | ${(r.heapTotalKB / 1024).toFixed(1)} |`);
}
