import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { isSrError } from '../core/errors.js';
import { configInvalid, fieldPath, nearestKey, parseWith } from './fields.js';

test('fieldPath: keys dotted, indexes bracketed, the top level named', () => {
  assert.equal(fieldPath(['hosts', 'p1', 'routes', 0, 'via']), 'hosts.p1.routes[0].via');
  assert.equal(fieldPath([2, 'passes']), '[2].passes');
  assert.equal(fieldPath([]), '(top level)');
  assert.equal(fieldPath([], ''), '');
});

test('configInvalid and parseWith: CONFIG_INVALID naming source and field', () => {
  const e = configInvalid('p.yaml', ['functions', 2, 'id'], 'used twice', 'a hint');
  assert.ok(isSrError(e, 'CONFIG_INVALID'));
  assert.equal(e.message, 'p.yaml: functions[2].id: used twice');
  assert.equal(e.hint, 'a hint');
  const schema = z.object({ a: z.array(z.number()) }).strict();
  assert.deepEqual(parseWith(schema, { a: [1] }, (p, m) => configInvalid('x', p, m)), { a: [1] });
  assert.throws(() => parseWith(schema, { a: [1, 'two'] }, (p, m) => configInvalid('x', p, m)), (err: unknown) => isSrError(err, 'CONFIG_INVALID') && /^x: a\[1\]: /.test(err.message));
});

/** The message parseWith gives for `input` under `schema` (`FIELD: MESSAGE`). */
function said(schema: z.ZodType, input: unknown): string {
  try {
    parseWith(schema, input, (p, m) => configInvalid('x', p, m));
  } catch (e) {
    return (e as Error).message.replace(/^x: /, '');
  }
  return 'accepted';
}

test('nearestKey: a typo, a missing plural, a case slip; nothing for a word unlike every key', () => {
  const keys = ['locators', 'functions', 'timeouts', 'port'];
  assert.equal(nearestKey('locator', keys), 'locators');
  assert.equal(nearestKey('fuctions', keys), 'functions');
  assert.equal(nearestKey('Port', keys), 'port');
  assert.equal(nearestKey('colour', keys), undefined);
});

test('explainIssues (issue 15): unknown keys, unions, missing and mistyped values, in words', () => {
  const inner = z.object({ mode: z.enum(['a', 'b']), size: z.number().int().max(10) }).strict();
  const schema = z.object({ items: z.array(z.number()).min(1), opt: z.union([z.literal('off'), inner]).optional(), nested: z.preprocess((v) => v ?? {}, z.object({ deep: z.string().optional() }).strict()).optional() }).strict();
  assert.equal(said(schema, { item: [1] }), 'item: unknown key: did you mean `items`?');
  assert.equal(said(schema, {}), 'items: required (a list)');
  assert.equal(said(schema, { items: ['1'] }), 'items[0]: expected a number, not the string "1" (write 1 without quotes)');
  assert.equal(said(schema, { items: [] }), 'items: at least 1 item (got 0)');
  assert.equal(said(schema, { items: [1], opt: 'on' }), 'opt: expected "off" or a mapping (key: value), not the string "on"');
  assert.equal(said(schema, { items: [1], opt: { mode: 'c', size: 1 } }), 'opt.mode: expected "a" or "b", not the string "c"');
  assert.equal(said(schema, { items: [1], opt: { mode: 'a', size: 11 } }), 'opt.size: at most 10 (got 11)');
  assert.equal(said(schema, { items: [1], opt: { mode: 'a', size: 1, sise: 2 } }), 'opt.sise: unknown key: did you mean `size`?');
  assert.equal(said(schema, { items: [1], nested: { dep: 'x' } }), 'nested.dep: unknown key: did you mean `deep`?');
  assert.equal(said(schema, { items: [1], zzz: 1 }), 'zzz: unknown key: the keys here are items, opt, nested');
  // a message the schema gives itself is kept
  assert.equal(said(z.object({ n: z.number().max(3, 'three at most') }), { n: 4 }), 'n: three at most');
});
