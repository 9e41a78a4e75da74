import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { upgradeOldForms, type OldForm } from './deprecated.js';

const RENAME: OldForm[] = [
  { at: ['items', '*'], key: 'old', to: 'new', says: 'write `new`' },
  { at: ['items', '*', 'parts', '*'], key: 'old', to: 'new', says: 'write `new`' },
];

test('a renamed key is rewritten wherever the table says, one line naming every place, the input untouched', () => {
  const input = { items: [{ old: 1, x: 2 }, { new: 3, parts: [{ old: 4 }, { new: 5 }] }], other: { old: 6 } };
  const before = JSON.stringify(input);
  const r = upgradeOldForms(input, RENAME, 'f.yaml');
  assert.deepEqual(r.value, { items: [{ new: 1, x: 2 }, { new: 3, parts: [{ new: 4 }, { new: 5 }] }], other: { old: 6 } });
  assert.deepEqual(Object.keys((r.value as { items: object[] }).items[0]!), ['new', 'x'], 'key order kept');
  assert.deepEqual(r.deprecations, ['f.yaml: write `new` (at items[0].old, items[1].parts[0].old)']);
  assert.equal(JSON.stringify(input), before);
});

test('nothing old: the same value back, no line', () => {
  const input = { items: [{ new: 1 }] };
  const r = upgradeOldForms(input, RENAME);
  assert.equal(r.value, input);
  assert.deepEqual(r.deprecations, []);
  for (const odd of [null, undefined, 7, 'text', [], { items: 'no' }, { items: [null, 3] }]) assert.deepEqual(upgradeOldForms(odd, RENAME).deprecations, []);
});

test('the old and the new key together: CONFIG_INVALID naming the old one', () => {
  assert.throws(
    () => upgradeOldForms({ items: [{ old: 1, new: 2 }] }, RENAME, 'f.yaml'),
    (e: unknown) => isSrError(e, 'CONFIG_INVALID') && e.message === 'f.yaml: items[0].old: `old` is the old name of `new`: give `new` only',
  );
});

test('a value in an old unit: only values the form recognises are rewritten', () => {
  const forms: OldForm[] = [{ at: ['s'], key: 'lifetime', old: (v) => typeof v === 'number', upgrade: (v) => `${String(v)}s`, says: 'seconds' }];
  assert.deepEqual(upgradeOldForms({ s: { lifetime: 30 } }, forms), { value: { s: { lifetime: '30s' } }, deprecations: ['config: seconds (at s.lifetime)'] });
  assert.deepEqual(upgradeOldForms({ s: { lifetime: '30s' } }, forms).deprecations, []);
  assert.deepEqual(upgradeOldForms({ s: false }, forms).deprecations, []);
});
