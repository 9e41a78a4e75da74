/**
 * Leader election against a real one-member etcd on loopback: of two instances exactly one leads;
 * a stopped leader hands over at once (its lease revoked); a leader whose renewals fail steps down
 * by itself before the other can take over (the lease expires in etcd no earlier).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { HAS_LOOPBACK_ETCD, startLoopbackEtcd, until, type LoopbackEtcd } from './test-etcd.js';
import { Election, type ElectionClient } from './election.js';

const silent = pino({ level: 'silent' });
const TTL = 2000;

interface Seen {
  election: Election;
  /** [leader?, at] for each change */
  changes: [boolean, number][];
}

function elect(client: ElectionClient, prefix: string, id: string): Seen {
  const changes: [boolean, number][] = [];
  const election = new Election({ client, prefix, id, ttlMs: TTL, log: silent, onChange: (l) => changes.push([l, Date.now()]) });
  election.start();
  return { election, changes };
}

describe('Election on a real etcd (loopback)', { skip: HAS_LOOPBACK_ETCD ? false : 'etcd-server is not installed' }, () => {
  let etcd: LoopbackEtcd;
  before(async () => {
    etcd = await startLoopbackEtcd();
  });
  after(() => etcd?.stop());

  test('two instances: exactly one leads, and keeps leading past several TTLs', async () => {
    const a = elect(etcd.client(), '/e1', 'a');
    const b = elect(etcd.client(), '/e1', 'b');
    try {
      await until('a leader', () => a.election.isLeader || b.election.isLeader);
      let both = false;
      const end = Date.now() + 2.5 * TTL;
      while (Date.now() < end) {
        if (a.election.isLeader && b.election.isLeader) both = true;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(both, false, 'never two leaders at once');
      assert.equal([a, b].filter((x) => x.election.isLeader).length, 1);
      assert.equal(a.changes.length + b.changes.length, 1, 'leadership did not move while the leader lived');
      const kv = await etcd.client().get('/e1/leader');
      assert.equal(kv?.value, a.election.isLeader ? 'a' : 'b');
    } finally {
      await a.election.stop();
      await b.election.stop();
    }
  });

  test('the stopped leader revokes its lease: the other leads well within one TTL', async () => {
    const a = elect(etcd.client(), '/e2', 'a');
    await until('a leads', () => a.election.isLeader);
    const b = elect(etcd.client(), '/e2', 'b');
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(b.election.isLeader, false);
      const stoppedAt = Date.now();
      await a.election.stop();
      assert.deepEqual(a.changes.map(([l]) => l), [true, false]);
      await until('b leads', () => b.election.isLeader, TTL);
      assert.ok(b.changes[0]![1] - stoppedAt < TTL, `took over in ${b.changes[0]![1] - stoppedAt} ms`);
    } finally {
      await a.election.stop();
      await b.election.stop();
    }
  });

  test('a leader whose renewals fail steps down within one TTL, before the other takes over', async () => {
    const real = etcd.client(1000);
    let cut = false;
    const flaky: ElectionClient = {
      grant: (t) => (cut ? Promise.reject(new Error('cut off')) : real.grant(t)),
      keepAlive: (id) => (cut ? Promise.reject(new Error('cut off')) : real.keepAlive(id)),
      revoke: (id) => (cut ? Promise.reject(new Error('cut off')) : real.revoke(id)),
      txn: (c, s, f) => (cut ? Promise.reject(new Error('cut off')) : real.txn(c, s, f)),
      watch: (p, a, on, sig) => real.watch(p, a, (ev, rev) => !cut && on(ev, rev), sig),
    };
    const a = elect(flaky, '/e3', 'a');
    await until('a leads', () => a.election.isLeader);
    const b = elect(etcd.client(), '/e3', 'b');
    try {
      const cutAt = Date.now();
      cut = true;
      await until('a steps down', () => !a.election.isLeader, 2 * TTL);
      const downAt = a.changes[1]![1];
      assert.ok(downAt - cutAt <= TTL + 200, `stepped down ${downAt - cutAt} ms after the cut`);
      await until('b leads (a’s lease expired in etcd)', () => b.election.isLeader, 4 * TTL);
      assert.ok(b.changes[0]![1] >= downAt, 'b led only after a had stepped down');
      assert.equal(a.election.isLeader, false);
    } finally {
      cut = false;
      await a.election.stop();
      await b.election.stop();
    }
  });
});
