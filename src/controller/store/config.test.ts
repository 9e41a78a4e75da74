/** `store` in the controller config: memory by default; etcd with endpoints, prefix, TLS and a password from a file only. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { isSrError } from '../../core/errors.js';
import { readExample } from '../../config/examples.js';
import { loadControllerConfig, validateControllerConfig } from '../config.js';

const base = (): Record<string, unknown> => YAML.parse(readExample('controller.yaml')) as Record<string, unknown>;
const withStore = (store: unknown) => validateControllerConfig({ ...base(), store }, 'ctl.yaml');

describe('controller config: store', () => {
  test('memory by default; etcd with defaults filled in', () => {
    assert.equal(validateControllerConfig(base()).store, null);
    assert.equal(withStore('memory').store, null);
    assert.deepEqual(withStore({ etcd: { endpoints: ['http://[fc00:31::2]:2379/', 'https://etcd.example:2379'] } }).store, {
      etcd: { endpoints: ['http://[fc00:31::2]:2379', 'https://etcd.example:2379'], prefix: '/srv6pipes', timeoutMs: 2000, startDegraded: false, leaderTtlMs: 5000, repointConcurrency: 32, repointBatch: 64 },
    });
  });

  test('bad stores name the field; a password in the config itself is refused (files only)', () => {
    const cases: [unknown, RegExp][] = [
      [{ etcd: { endpoints: [] } }, /store.*endpoints/],
      [{ etcd: { endpoints: ['http://[fc00:31::2]:2379'], leaderTtl: '1s' } }, /store\.etcd\.leaderTtl/],
      [{ etcd: { endpoints: ['http://[fc00:31::2]:2379'], leaderTtl: '2m' } }, /store\.etcd\.leaderTtl/],
      [{ etcd: { endpoints: ['http://[fc00:31::2]:2379'], repointConcurrency: 0 } }, /store\.etcd\.repointConcurrency/],
      [{ etcd: { endpoints: ['http://[fc00:31::2]:2379'], repointBatch: 65 } }, /store\.etcd\.repointBatch/],
      [{ etcd: { endpoints: ['fc00:31::2:2379'] } }, /store\.etcd\.endpoints\[0\].*http/],
      [{ etcd: { endpoints: ['http://[fc00:31::2]:2379'], prefix: 'no-slash' } }, /store\.etcd\.prefix/],
      [{ etcd: { endpoints: ['http://[fc00:31::2]:2379'], username: 'ctl' } }, /username and passwordFile go together/],
      [{ etcd: { endpoints: ['http://[fc00:31::2]:2379'], username: 'ctl', password: 'secret' } }, /password/],
      [{ etcd: { endpoints: ['http://[fc00:31::2]:2379'], tls: { ca: 'ca.pem', cert: 'c.pem' } } }, /cert and key go together/],
      [{ etcd: { endpoints: ['http://[fc00:31::2]:2379'], startDegraded: 'yes' } }, /store\.etcd\.startDegraded/],
      [{ consul: {} }, /store/],
    ];
    for (const [store, msg] of cases)
      assert.throws(() => withStore(store), (e: unknown) => isSrError(e, 'CONFIG_INVALID') && msg.test((e as Error).message), JSON.stringify(store));
  });

  test('the password file and TLS files are relative to the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-store-'));
    try {
      const path = join(dir, 'ctl.yaml');
      writeFileSync(path, YAML.stringify({ ...base(), store: { etcd: { endpoints: ['https://[fc00:31::2]:2379'], username: 'ctl', passwordFile: 'etcd.pass', tls: { ca: 'ca.pem', cert: '/abs/c.pem', key: 'k.pem' } } } }));
      const e = loadControllerConfig(path).store!.etcd;
      assert.equal(e.passwordFile, join(dir, 'etcd.pass'));
      assert.deepEqual(e.tls, { ca: join(dir, 'ca.pem'), cert: '/abs/c.pem', key: join(dir, 'k.pem') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
