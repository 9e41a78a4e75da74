import assert from 'node:assert/strict';
import { test } from 'node:test';
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
