import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { describeFunction, optionsOf, schemaType } from './describe.js';
import { defineFunction, IDENTITY } from './types.js';

test('schemaType: short types from JSON Schema nodes', () => {
  assert.equal(schemaType({ type: 'integer', minimum: 0, maximum: 9 }), 'integer 0..9');
  assert.equal(schemaType({ type: 'number' }), 'number');
  assert.equal(schemaType({ type: 'integer', minimum: 1 }), 'integer 1..');
  assert.equal(schemaType({ type: 'string', enum: ['a', 'b'] }), 'a|b');
  assert.equal(schemaType({ type: 'array', items: { type: 'string' } }), 'string[]');
  assert.equal(schemaType({ type: 'array', items: { type: 'integer', minimum: 0, maximum: 1 } }), '(integer 0..1)[]');
  assert.equal(schemaType({ anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'null' }] }), 'string[] | null');
  assert.equal(schemaType({ type: 'object', additionalProperties: { type: 'string' } }), '{ string: string }');
  assert.equal(schemaType({ type: 'object', properties: {} }), 'object');
  assert.equal(schemaType({}), 'any');
});

test('optionsOf: a zod schema gives its options in order, with defaults, required and descriptions', () => {
  const schema = z
    .object({
      level: z.number().int().min(1).max(9).default(6).describe('how hard'),
      key: z.string().describe('the key file'),
      mode: z.enum(['fast', 'slow']).optional(),
    })
    .strict()
    .refine((o) => o.key !== '', { message: 'a key' });
  assert.deepEqual(optionsOf(schema), [
    { name: 'level', type: 'integer 1..9', required: false, default: 6, description: 'how hard' },
    { name: 'key', type: 'string', required: true, description: 'the key file' },
    { name: 'mode', type: 'fast|slow', required: false, description: '' },
  ]);
  // what cannot be read: a hand-written safeParse (or a zod 3 schema), or a schema that is not an object
  assert.equal(optionsOf({ safeParse: (v: unknown) => ({ success: true, data: v }) }), null);
  assert.equal(optionsOf(z.string()), null);
});

test('describeFunction: the whole table of a descriptor; a 0.1 descriptor says what it does not declare', () => {
  const d = defineFunction({
    name: 'demo',
    summary: 'a demo',
    options: z.object({ n: z.number().default(1).describe('n') }),
    argument: { description: 'the count', parse: (a) => Number(a) },
    resets: { demo_done: 'done' },
    requires: ['mptcp-userspace'],
    spawn: () => ({ upstream: IDENTITY, downstream: IDENTITY }),
  });
  const info = describeFunction(d);
  assert.equal(info.argument, 'the count');
  assert.deepEqual(info.resets, { demo_done: 'done' });
  assert.equal(info.requires[0]?.name, 'mptcp-userspace');
  assert.match(info.requires[0]!.description, /pathManager: userspace/);
  assert.deepEqual(info.options, [{ name: 'n', type: 'number', required: false, default: 1, description: 'n' }]);
  const old = describeFunction({ name: 'old', summary: 'a 0.1 module', options: { safeParse: (v: unknown) => ({ success: true as const, data: v }) }, spawn: () => ({ upstream: IDENTITY, downstream: IDENTITY }) });
  assert.deepEqual(old, { name: 'old', summary: 'a 0.1 module', argument: null, options: null, resets: null, requires: [] });
});
