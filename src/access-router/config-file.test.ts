/**
 * The agent's config file with the controllers' etcd store: `store` and `reconcile` parsed, the
 * store's files relative to the config file, defaults, and bad values naming the field.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadAccessRouterConfig } from './config-file.js';

const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-ar-config-'));
const file = (name: string, text: string): string => {
  writeFileSync(join(dir, name), `bsidPrefix: "fc00:e::/64"\nlisten: "[::1]:7780"\nname: ar2\n${text}`);
  return join(dir, name);
};

test('store: etcd in the agent’s file: the endpoints, prefix and timeout; its files relative to the file; reconcile timings with defaults', () => {
  const o = loadAccessRouterConfig(file('s1.yaml', 'store: { etcd: { endpoints: ["http://[fc00:31::2]:2379/"], prefix: /p, username: ar2, passwordFile: pw, tls: { ca: ca.pem } } }\nreconcile: { resync: 2s }\n'));
  assert.deepEqual(o.store, { endpoints: ['http://[fc00:31::2]:2379'], prefix: '/p', timeoutMs: 2000, username: 'ar2', passwordFile: join(dir, 'pw'), tls: { ca: join(dir, 'ca.pem') } });
  assert.deepEqual(o.reconcile, { resyncMs: 2000, probeMs: 5000, holdMs: 3_600_000, backoffMaxMs: 10_000 });
  const none = loadAccessRouterConfig(file('s2.yaml', ''));
  assert.equal(none.store, undefined, 'no store: the agent does what the controller pushes, nothing more');
  assert.equal(loadAccessRouterConfig(file('s3.yaml', 'store: memory\n')).store, undefined);
});

test('bad store or reconcile values: CONFIG_INVALID naming the field; a password is never a key', () => {
  const bad = (text: string, re: RegExp): void => assert.throws(() => loadAccessRouterConfig(file('b.yaml', text)), (e: unknown) => (e as { code?: string }).code === 'CONFIG_INVALID' && re.test((e as Error).message));
  bad('store: { etcd: { endpoints: [] } }\n', /store/);
  bad('store: { etcd: { endpoints: ["fc00:31::2"] } }\n', /store/);
  bad('store: { etcd: { endpoints: ["http://[fc00:31::2]:2379"], password: x } }\n', /store/);
  bad('store: { etcd: { endpoints: ["http://[fc00:31::2]:2379"], username: u } }\n', /store/);
  // the controllers' own keys are unknown here
  bad('store: { etcd: { endpoints: ["http://[fc00:31::2]:2379"], startDegraded: true } }\n', /store\.etcd.*startDegraded/);
  bad('store: { etcd: { endpoints: ["http://[fc00:31::2]:2379"], leaderTtl: 5s } }\n', /store\.etcd.*leaderTtl/);
  bad('reconcile: { resync: 10ms }\n', /reconcile\.resync/);
  bad('reconcile: { probe: 2 days }\n', /reconcile\.probe/);
  bad('reconcile: { hold: -1 }\n', /reconcile\.hold/);
  bad('reconcile: { every: 1s }\n', /reconcile/);
});
