import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDescriptor } from '../sdk/context.js';
import { describeFunction } from '../sdk/describe.js';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BUILTIN_FUNCTIONS } from './all.js';
import { BUILTIN_NAMES, BUILTIN_TABLE, builtinRequires, findBuiltin, isBuiltin } from './registry.js';

test('built-in function names are unique, lowercase, and each has a summary and an options schema', async () => {
  const names = BUILTIN_FUNCTIONS.map((d) => d.name);
  assert.equal(new Set(names).size, names.length);
  for (const d of BUILTIN_FUNCTIONS) {
    assert.match(d.name, /^[a-z][a-z0-9-]*$/);
    assert.ok(d.summary.length > 10);
    assert.equal(typeof d.options.safeParse, 'function', `${d.name}: options must be a schema`);
  }
  assert.equal((await findBuiltin('xor'))?.name, 'xor');
  assert.equal(await findBuiltin('nope'), undefined);
  assert.equal(isBuiltin('xor'), true);
  assert.equal(isBuiltin('nope'), false);
});

test('the table’s rows match the descriptors they load: name, order and requires', async () => {
  assert.deepEqual(BUILTIN_FUNCTIONS.map((d) => d.name), BUILTIN_NAMES);
  for (const e of BUILTIN_TABLE) {
    const d = await e.load();
    assert.equal(d.name, e.name);
    assert.deepEqual([...builtinRequires(e.name)], [...(d.requires ?? [])], `${e.name}: requires in the table and in the descriptor`);
  }
  assert.deepEqual(builtinRequires('nope'), []);
});

/** The node built-ins a child process has loaded after running `code` (an ES module). */
function nodeModulesAfter(code: string): string[] {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `${code}\nconsole.log(JSON.stringify(process.moduleLoadList))`], { encoding: 'utf8' });
  return (JSON.parse(out) as string[]).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
}

test('a built-in’s module is imported when it is first asked for, not with the registry (what a worker loads)', () => {
  const registry = fileURLToPath(new URL('./registry.js', import.meta.url));
  const heavy = ['zlib', 'child_process'];
  const bare = nodeModulesAfter(`const r = await import(${JSON.stringify(registry)}); await r.findBuiltin('copy');`);
  for (const m of heavy) assert.ok(!bare.includes(m), `${m} loaded with the registry and copy alone`);
  const asked = nodeModulesAfter(`const r = await import(${JSON.stringify(registry)}); await r.findBuiltin('compress'); await r.findBuiltin('exec');`);
  for (const m of heavy) assert.ok(asked.includes(m), `${m} loaded once compress and exec are asked for`);
});

test('every built-in fills the whole table: argument, reset reasons, described options (what `srv6pipes functions` prints)', () => {
  for (const d of BUILTIN_FUNCTIONS) {
    checkDescriptor(d, d.name);
    const info = describeFunction(d);
    assert.ok(info.argument && info.argument.length > 5, `${d.name}: says what its argument means`);
    assert.ok(info.resets !== null, `${d.name}: declares its reset reasons (an empty table is fine)`);
    assert.ok(info.options !== null, `${d.name}: options readable from the schema`);
    for (const o of info.options) assert.ok(o.description.length > 0, `${d.name}: option ${o.name} has a description (.describe())`);
  }
});

test('reset reasons are the functions’ own: none is declared by two built-ins with different meanings', () => {
  const meaning = new Map<string, string>();
  for (const d of BUILTIN_FUNCTIONS) {
    for (const [reason, what] of Object.entries(d.resets ?? {})) {
      const seen = meaning.get(reason);
      assert.ok(seen === undefined || seen === what, `${reason}: declared twice with different meanings`);
      meaning.set(reason, what);
    }
  }
});

test('every built-in function folder has a README that names the function and its options', async () => {
  const { existsSync, readFileSync } = await import('node:fs');
  for (const name of BUILTIN_NAMES) {
    const file = fileURLToPath(new URL(`../../../src/functions/${name}/README.md`, import.meta.url));
    assert.ok(existsSync(file), `src/functions/${name}/README.md is missing`);
    const text = readFileSync(file, 'utf8');
    assert.match(text, new RegExp(`^# \`${name}\``), `${name}: the README starts with its name`);
    assert.match(text, /^## Options/m, `${name}: the README has an Options section`);
  }
});
