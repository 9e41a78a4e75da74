import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDescriptor } from '../sdk/context.js';
import { describeFunction } from '../sdk/describe.js';
import { BUILTIN_FUNCTIONS, findBuiltin } from './registry.js';

test('built-in function names are unique, lowercase, and each has a summary and an options schema', () => {
  const names = BUILTIN_FUNCTIONS.map((d) => d.name);
  assert.equal(new Set(names).size, names.length);
  for (const d of BUILTIN_FUNCTIONS) {
    assert.match(d.name, /^[a-z][a-z0-9-]*$/);
    assert.ok(d.summary.length > 10);
    assert.equal(typeof d.options.safeParse, 'function', `${d.name}: options must be a schema`);
  }
  assert.equal(findBuiltin('xor')?.name, 'xor');
  assert.equal(findBuiltin('nope'), undefined);
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
