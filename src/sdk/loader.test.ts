import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { resolveDescriptor, type FunctionRegistry } from './loader.js';

const EMPTY: FunctionRegistry = { find: () => undefined };
const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-loader-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BODY = (name: string) => `{ name: '${name}', summary: 's', options: { safeParse: (x) => ({ success: true, data: x ?? {} }) }, spawn: () => ({}) }`;

test('a module path loads its default export', async () => {
  writeFileSync(join(dir, 'new.mjs'), `export default ${BODY('newer')};\n`);
  assert.equal((await resolveDescriptor(EMPTY, './new.mjs', dir)).name, 'newer');
});

test('a module written against 0.1 (the named export `vf`) still loads; `default` wins when both exist', async () => {
  writeFileSync(join(dir, 'old.mjs'), `export const vf = ${BODY('older')};\n`);
  assert.equal((await resolveDescriptor(EMPTY, './old.mjs', dir)).name, 'older');
  writeFileSync(join(dir, 'both.mjs'), `export const vf = ${BODY('older')};\nexport default ${BODY('newer')};\n`);
  assert.equal((await resolveDescriptor(EMPTY, './both.mjs', dir)).name, 'newer');
});

test('a module exporting no descriptor is refused with BAD_FUNCTION_MODULE', async () => {
  writeFileSync(join(dir, 'none.mjs'), `export const fn = ${BODY('x')};\n`);
  await assert.rejects(resolveDescriptor(EMPTY, './none.mjs', dir), (e) => isSrError(e, 'BAD_FUNCTION_MODULE'));
});
