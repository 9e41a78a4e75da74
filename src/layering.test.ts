/**
 * The layering of src/, enforced: which folders a folder's modules may import. A folder never imports
 * a folder above it, feature folders never import each other, and there is no import circle. When a
 * module needs something from a folder it may not import, the thing belongs lower (docs/architecture.md).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Layers, bottom up; each folder lists the folders it may import (its own always). */
export const LAYERS: Record<string, readonly string[]> = {
  // foundations: pure, or thin over the kernel
  core: [],
  net: ['core'],
  codec: ['core', 'net'],
  config: ['core', 'net', 'codec'],
  native: ['core', 'net'],
  sys: ['core', 'net', 'native'],
  // protocols and SDKs
  dns: ['core', 'net', 'codec', 'config'],
  sdk: ['core', 'net', 'codec', 'config'],
  mptcp: ['core', 'net', 'codec', 'native', 'sys'],
  functions: ['core', 'net', 'codec', 'config', 'native', 'sys', 'sdk', 'mptcp'],
  client: ['core', 'net', 'codec', 'config', 'native', 'sys', 'dns'],
  server: ['core', 'net', 'codec', 'native'],
  return: ['core', 'net', 'codec', 'config', 'sys', 'dns'],
  // programs (features): none imports another, except the controller driving access routers
  'access-router': ['core', 'net', 'codec', 'config', 'sys', 'dns'],
  proxy: ['core', 'net', 'codec', 'config', 'native', 'sys', 'dns', 'sdk', 'functions', 'mptcp', 'return'],
  controller: ['core', 'net', 'codec', 'config', 'sys', 'dns', 'access-router'],
  lab: ['core', 'net', 'config', 'native', 'sys'],
  // the tools that compose programs
  demo: ['core', 'net', 'codec', 'config', 'native', 'sys', 'dns', 'client', 'server', 'lab'],
  bench: ['core', 'net', 'codec', 'config', 'native', 'sys', 'dns', 'sdk', 'functions', 'client', 'server', 'access-router', 'controller', 'lab'],
  fuzz: ['core', 'net', 'codec', 'config', 'native', 'sys', 'dns', 'sdk', 'functions', 'client', 'server', 'return', 'access-router', 'proxy', 'controller', 'mptcp', 'lab'],
  cli: ['core', 'net', 'codec', 'config', 'native', 'sys', 'dns', 'sdk', 'functions', 'client', 'server', 'return', 'access-router', 'proxy', 'controller', 'mptcp', 'lab', 'demo', 'bench', 'fuzz'],
  // the package's entry points (src/index.ts, src/testing.ts)
  '.': ['core', 'net', 'codec', 'config', 'native', 'sys', 'dns', 'sdk', 'functions', 'client', 'server'],
};

interface Edge {
  from: string;
  to: string;
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|[^\w.])(?:import|export)\s[^'"`;]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|^import\s+['"](\.[^'"]+)['"]/gm;

/** Every relative import of src/, as source-relative paths (`proxy/flow.ts` → `sdk/relay.ts`). */
export function importGraph(src = SRC): Edge[] {
  const edges: Edge[] = [];
  for (const file of walk(src, [])) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      const target = normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts');
      edges.push({ from: relative(src, file), to: relative(src, target) });
    }
  }
  return edges;
}

const folderOf = (p: string): string => (p.includes('/') ? p.split('/')[0]! : '.');
const isTest = (p: string): boolean => p.endsWith('.test.ts');

test('every folder imports only the folders below it (LAYERS)', () => {
  const bad: string[] = [];
  for (const e of importGraph()) {
    if (isTest(e.from)) continue;
    const from = folderOf(e.from);
    const to = folderOf(e.to);
    if (e.to.startsWith('..')) continue; // package.json and the like
    const allowed = LAYERS[from];
    assert.ok(allowed, `src/${from}/ has no entry in LAYERS: add it`);
    if (from !== to && !allowed.includes(to)) bad.push(`${e.from} → ${e.to}`);
  }
  assert.deepEqual(bad, [], `imports against the layering:\n${bad.join('\n')}`);
});

/** Besides what their folder may import, tests may use the protocol layer to drive or fake peers. */
const TEST_EXTRA = ['codec', 'dns', 'client', 'server'];

test('tests import what their folder may, plus the protocol layer and the package entry points', () => {
  const bad: string[] = [];
  for (const e of importGraph()) {
    if (!isTest(e.from) || e.to.startsWith('..')) continue;
    const from = folderOf(e.from);
    const to = folderOf(e.to);
    if (from === to || to === '.' || (LAYERS[from] ?? []).includes(to) || (TEST_EXTRA.includes(to) && !(LAYERS[to] ?? []).includes(from))) continue;
    bad.push(`${e.from} → ${e.to}`);
  }
  assert.deepEqual(bad, [], `test imports against the layering:\n${bad.join('\n')}`);
});

test('no import circle between modules', () => {
  const next = new Map<string, string[]>();
  for (const e of importGraph()) {
    if (isTest(e.from)) continue;
    next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  }
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (n: string, stack: string[]): void => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'open') {
      circles.push([...stack.slice(stack.indexOf(n)), n].join(' → '));
      return;
    }
    state.set(n, 'open');
    for (const m of next.get(n) ?? []) visit(m, [...stack, n]);
    state.set(n, 'done');
  };
  for (const n of next.keys()) visit(n, []);
  assert.deepEqual(circles, []);
});

test('the layering table itself has no cycle and names only folders that exist', () => {
  const folders = new Set(readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory()));
  for (const [f, deps] of Object.entries(LAYERS)) {
    if (f !== '.') assert.ok(folders.has(f), `LAYERS names src/${f}/, which does not exist`);
    for (const d of deps) assert.ok(d !== f && LAYERS[d], `${f} → ${d}`);
  }
  for (const f of folders) assert.ok(LAYERS[f], `src/${f}/ is missing from LAYERS`);
  // bottom-up order: every folder depends only on folders listed before it
  const order = Object.keys(LAYERS);
  for (const [i, f] of order.entries()) for (const d of LAYERS[f]!) assert.ok(order.indexOf(d) < i, `${f} may import ${d}, listed after it`);
});
