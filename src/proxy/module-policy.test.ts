import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isSrError, type ErrorCode } from '../core/errors.js';
import type { FunctionSpec } from '../sdk/loader.js';
import { admitSpec, isInside, type LoadPolicy } from './module-policy.js';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'srv6pipes-policy-')));
after(() => rmSync(root, { recursive: true, force: true }));
const allowed = join(root, 'functions');
const outside = join(root, 'elsewhere');
mkdirSync(allowed);
mkdirSync(outside);
// a module whose top-level code leaves a mark: admitting must never import it
const MARK = join(root, 'imported');
const SOURCE = `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(MARK)}, 'x');\nexport default {};\n`;
writeFileSync(join(allowed, 'good.mjs'), SOURCE);
writeFileSync(join(outside, 'evil.mjs'), SOURCE);
symlinkSync(join(outside, 'evil.mjs'), join(allowed, 'link.mjs'));
symlinkSync(outside, join(allowed, 'sub'));

const one = (fn: string, options: unknown = {}, id = 9): FunctionSpec => ({ id, parts: [{ function: fn, options }], chain: false });

const POLICY: LoadPolicy = {
  moduleDirs: [allowed],
  execArgv: [['tr', 'a-z', 'A-Z']],
  trusted: [one('exec', { upstream: ['gzip', '-c'] }, 1), one(join(outside, 'evil.mjs'), {}, 2)],
  baseDir: allowed,
};

async function refused(spec: FunctionSpec, code: ErrorCode, text?: RegExp): Promise<void> {
  await assert.rejects(admitSpec(spec, POLICY), (e: unknown) => {
    assert.ok(isSrError(e), String(e));
    assert.equal(e.code, code, e.message);
    if (text) assert.match(e.message, text);
    return true;
  });
}

describe('what ctl load may load', () => {
  test('a module inside admin.moduleDirs is admitted, naming its real path; relative paths start at the config’s directory', async () => {
    const a = await admitSpec(one(join(allowed, 'good.mjs')), POLICY);
    assert.equal(a.parts[0]!.function, join(allowed, 'good.mjs'));
    const b = await admitSpec(one('./good.mjs'), POLICY);
    assert.equal(b.parts[0]!.function, join(allowed, 'good.mjs'));
  });

  test('a module outside, or reached through a symlink that leads outside, is MODULE_NOT_ALLOWED — and never imported', async () => {
    await refused(one(join(outside, 'evil.mjs'), { x: 1 }), 'MODULE_NOT_ALLOWED', /outside admin\.moduleDirs/);
    await refused(one(join(allowed, 'link.mjs')), 'MODULE_NOT_ALLOWED', /really .*elsewhere/);
    await refused(one(join(allowed, 'sub', 'evil.mjs')), 'MODULE_NOT_ALLOWED');
    await refused(one(`${allowed}/../elsewhere/evil.mjs`, { x: 1 }), 'MODULE_NOT_ALLOWED');
    await refused(one('/etc/passwd.js'), 'BAD_FUNCTION_MODULE');
    await refused({ id: 9, chain: true, parts: [{ function: 'copy' }, { function: join(outside, 'evil.mjs'), options: { y: 1 } }] }, 'MODULE_NOT_ALLOWED', /spec\.chain\[1\]\.function/);
    assert.throws(() => realpathSync(MARK), 'no module was imported');
  });

  test('a module writable by every local user is refused even inside the directory', async () => {
    const p = join(allowed, 'open.mjs');
    writeFileSync(p, SOURCE);
    chmodSync(p, 0o666);
    await refused(one(p), 'MODULE_NOT_ALLOWED', /writable by every local user/);
  });

  test('an entry of the config file is trusted as it is (the path outside included)', async () => {
    const a = await admitSpec(one(join(outside, 'evil.mjs'), {}, 7), POLICY);
    assert.equal(a.parts[0]!.function, join(outside, 'evil.mjs'));
  });

  test('built-ins load; exec only with argv from the config or admin.execArgv, and no env or cwd', async () => {
    assert.deepEqual((await admitSpec(one('xor', { passes: 2 }), POLICY)).parts, [{ function: 'xor', options: { passes: 2 } }]);
    await admitSpec(one('exec', { upstream: ['gzip', '-c'] }), POLICY);
    await admitSpec(one('exec', { downstream: ['tr', 'a-z', 'A-Z'], upstream: null, graceMs: 100 }), POLICY);
    await refused(one('exec', { upstream: ['sh', '-c', 'id > /tmp/x'] }), 'EXEC_NOT_ALLOWED', /upstream/);
    await refused(one('exec', { upstream: ['gzip', '-c'], downstream: ['gzip', '-d', '-f'] }), 'EXEC_NOT_ALLOWED', /downstream/);
    await refused(one('exec', { upstream: ['gzip', '-c'], env: { LD_PRELOAD: '/tmp/x.so' } }), 'EXEC_NOT_ALLOWED', /env/);
    await refused(one('exec', { upstream: ['tr', 'a-z', 'A-Z'], cwd: '/tmp' }), 'EXEC_NOT_ALLOWED', /cwd/);
    await refused({ id: 3, chain: true, parts: [{ function: 'copy' }, { function: 'exec', options: { upstream: ['bash'] } }] }, 'EXEC_NOT_ALLOWED', /chain\[1\]/);
  });

  test('isInside', () => {
    assert.equal(isInside('/a/b/c.mjs', '/a/b'), true);
    assert.equal(isInside('/a/bc/d.mjs', '/a/b'), false);
    assert.equal(isInside('/a/b', '/a/b'), true);
    assert.equal(isInside('/a', '/a/b'), false);
    assert.equal(isInside('/a/b/..x/y.mjs', '/a/b'), true);
  });
});
