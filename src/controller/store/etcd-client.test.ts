/**
 * The etcd client's streaming calls against a real one-member etcd on loopback (Debian's
 * etcd-server, which `npm test`'s setup installs): list-then-watch sees every change after the
 * listed revision, deletes included; a watch from a compacted revision ends with `compacted`; a
 * stopped member ends the watch; a lease kept alive lives on and an expired one reports TTL 0.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EtcdClient, WatchEvent } from './etcd-client.js';
import { HAS_LOOPBACK_ETCD, startLoopbackEtcd, until, type LoopbackEtcd } from './test-etcd.js';

describe('EtcdClient on a real etcd (loopback)', { skip: HAS_LOOPBACK_ETCD ? false : 'etcd-server is not installed' }, () => {
  let etcd: LoopbackEtcd;
  let client: EtcdClient;

  before(async () => {
    etcd = await startLoopbackEtcd();
    client = etcd.client();
  });

  after(() => etcd?.stop());

  test('list, then watch from the listed revision: puts and deletes after it, in order, nothing before it', async () => {
    const c = client;
    await c.txn([], [{ put: { key: '/w/a', value: '1' } }], []);
    const { kvs, revision } = await c.listAt('/w/');
    assert.deepEqual(kvs.map((k) => [k.key, k.value]), [['/w/a', '1']]);
    const seen: WatchEvent[] = [];
    let last = '';
    const stop = new AbortController();
    const ended = c.watch('/w/', revision, (events, rev) => {
      seen.push(...events);
      last = rev;
    }, stop.signal);
    await c.txn([], [{ put: { key: '/w/b', value: '2' } }], []);
    await c.txn([], [{ put: { key: '/other', value: 'x' } }], []);
    await c.txn([], [{ delete: { key: '/w/a' } }], []);
    await until('two events', () => seen.length >= 2);
    stop.abort();
    const end = await ended;
    assert.deepEqual(seen.map((e) => [e.type, e.kv.key, e.kv.value]), [['PUT', '/w/b', '2'], ['DELETE', '/w/a', '']]);
    assert.equal(end.reason, 'stopped');
    assert.equal(end.revision, last);
    assert.ok(BigInt(last) > BigInt(revision));
  });

  test('a watch from a compacted revision ends with compacted: the caller lists afresh', async () => {
    const c = client;
    const { revision } = await c.listAt('/c/');
    await c.txn([], [{ put: { key: '/c/x', value: '1' } }], []);
    await c.txn([], [{ put: { key: '/c/x', value: '2' } }], []);
    await c.call('/v3/kv/compaction', { revision: String(BigInt(revision) + 2n) });
    const end = await c.watch('/c/', revision, () => assert.fail('no event from a compacted history'));
    assert.equal(end.compacted, true, end.reason);
  });

  test('a lease kept alive outlives its TTL; an expired one reports TTL 0', async () => {
    const c = client;
    const kept = await c.grant(2);
    const lost = await c.grant(1);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 600));
      assert.ok((await c.keepAlive(kept)) > 0, 'the kept lease lives');
    }
    assert.equal(await c.keepAlive(lost), 0);
  });

  test('a member that stops ends the watch (no silent hang)', async () => {
    const c = client;
    const { revision } = await c.listAt('/s/');
    const ended = c.watch('/s/', revision, () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    etcd.proc.kill('SIGTERM');
    const end = await ended;
    assert.equal(end.compacted, false);
    assert.notEqual(end.reason, 'stopped');
  });
});
