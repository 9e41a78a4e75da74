import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { isSrError } from '../core/errors.js';
import { configInvalid, fieldPath, parseWith } from './fields.js';

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
