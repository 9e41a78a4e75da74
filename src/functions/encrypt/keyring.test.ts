import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initFunction } from '../../sdk/testing.js';
import { isSrError } from '../../core/errors.js';
import { loadKeyring, parseKeyId } from './keyring.js';
import { encrypt } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-keyring-'));
const key = (): string => randomBytes(32).toString('base64');

function file(name: string, text: string, mode = 0o600): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
}

/** loadKeyring must fail with `code`, and the message must contain every `parts` */
async function fails(name: string, text: string | undefined, code: string, parts: (string | RegExp)[]): Promise<void> {
  if (text !== undefined) file(name, text);
  await assert.rejects(loadKeyring(name, dir), (e: unknown) => {
    assert.ok(isSrError(e), String(e));
    assert.equal(e.code, code);
    assert.ok(e.message.includes(join(dir, name)), `the message names the file: ${e.message}`);
    for (const p of parts) assert.match(e.message, typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p);
    return true;
  });
}

test('parseKeyId: decimal and 0x-hex below 2^64', () => {
  assert.equal(parseKeyId('7'), 7n);
  assert.equal(parseKeyId('0x2a'), 42n);
  assert.equal(parseKeyId('18446744073709551615'), (1n << 64n) - 1n);
  for (const bad of ['18446744073709551616', '-1', '07', 'abc', '', '1.5', ' 1']) assert.equal(parseKeyId(bad), undefined, bad);
});

test('a YAML keyring, relative to the base dir; ids decimal, hex and big', async () => {
  const k1 = key();
  file('ok.yaml', `# test keys\nkeys:\n  1: ${k1}\n  "0x2a": ${key()}\n  18446744073709551615: ${key()}\n`);
  const k = await loadKeyring('ok.yaml', dir);
  assert.deepEqual([...k.keys.keys()].sort(), [1n, 42n, (1n << 64n) - 1n].sort());
  assert.equal(k.keys.get(1n)!.toString('base64'), k1);
  assert.equal(k.warning, undefined);
});

test('a JSON keyring works too; a keyring others can read gives a warning', async () => {
  const p = file('ok.json', JSON.stringify({ keys: { '5': key() } }), 0o644);
  const k = await loadKeyring(p, '/nonexistent');
  assert.equal(k.keys.size, 1);
  assert.match(k.warning ?? '', /chmod 600/);
});

test('a missing file: CONFIG_READ naming the file', async () => {
  await fails('missing.yaml', undefined, 'CONFIG_READ', ['ENOENT']);
});

test('bad YAML: CONFIG_SYNTAX naming the file', async () => {
  await fails('syntax.yaml', 'keys: { 1: [unclosed\n', 'CONFIG_SYNTAX', []);
});

test('bad base64, a wrong key length, a bad id, a non-string key: CONFIG_INVALID naming the file and the key', async () => {
  await fails('b64.yaml', `keys:\n  "3": "not*base64!"\n`, 'CONFIG_INVALID', ['key "3"', 'base64']);
  await fails('short.yaml', `keys:\n  "4": ${randomBytes(16).toString('base64')}\n`, 'CONFIG_INVALID', ['key "4"', '16 bytes', '32 bytes']);
  await fails('long.yaml', `keys:\n  "4": ${randomBytes(33).toString('base64')}\n`, 'CONFIG_INVALID', ['key "4"', '33 bytes']);
  await fails('id.yaml', `keys:\n  seven: ${key()}\n`, 'CONFIG_INVALID', ['key "seven"', 'key id']);
  await fails('num.yaml', `keys:\n  "8": 12345\n`, 'CONFIG_INVALID', ['key "8"', 'base64 string']);
  await fails('dup.yaml', `keys:\n  "9": ${key()}\n  "0x9": ${key()}\n`, 'CONFIG_INVALID', ['appears twice']);
});

test('a keyring without keys, or with other fields, is refused', async () => {
  await fails('empty.yaml', 'keys: {}\n', 'CONFIG_INVALID', ['no keys']);
  await fails('nokeys.yaml', 'other: 1\n', 'CONFIG_INVALID', ['unknown field "other"']);
  await fails('list.yaml', `keys: [${key()}]\n`, 'CONFIG_INVALID', ['mapping']);
  await fails('scalar.yaml', 'hello\n', 'CONFIG_INVALID', ['mapping']);
});

test('init reads the keyring (errors surface at load); deinit wipes the keys', async () => {
  file('init.yaml', `keys:\n  "1": ${key()}\n`);
  const inst = await initFunction(encrypt, { keyring: 'init.yaml' }, undefined, dir);
  const k = inst.state.keyring.keys.get(1n)!;
  assert.ok(k.some((b) => b !== 0));
  await inst.deinit();
  assert.ok(k.every((b) => b === 0));
  await assert.rejects(initFunction(encrypt, { keyring: 'nope.yaml' }, undefined, dir), /keyring .*nope\.yaml/);
  await assert.rejects(initFunction(encrypt, {}, undefined, dir), /options\.keyring/);
  await assert.rejects(initFunction(encrypt, { keyring: 'init.yaml', cipher: 'des' }, undefined, dir), /options\.cipher/);
});
