/**
 * The BSID stores: the record codec; one conformance suite run against the in-memory store and the
 * etcd store (over a small fake of etcd's JSON gateway, the same requests a real etcd answers — the
 * real one runs in test/e2e/etcd.test.ts); corrupt and foreign values skipped and counted; an
 * unreachable etcd; and two BSID managers sharing one store behaving as one.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import dnsPacket from 'dns-packet';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { isSrError } from '../../core/errors.js';
import { parsePrefix } from '../../net/ip6.js';
import { MemoryAccessRouter } from '../../access-router/memory.js';
import { BsidManager, type PathSpec } from '../bsid/manager.js';
import { decodeBinding, decodeHealth, encodeBinding, encodeHealth, keyPath } from './codec.js';
import { EtcdClient } from './etcd-client.js';
import { EtcdBsidStore } from './etcd.js';
import { MemoryBsidStore } from './memory.js';
import { readExample } from '../../config/examples.js';
import { parseControllerConfig } from '../config.js';
import { Resolver } from '../resolver.js';
import { handleMessage } from '../dns/message.js';
import { buildQuery } from '../../dns/query.js';
import { arpaName, TYPE_SRH_NAME } from '../../dns/records.js';
import type { BsidStore, StoredBinding } from './types.js';

const silent = pino({ level: 'silent' });

/** etcd's JSON gateway, the calls the client makes: kv range/txn, lease grant/revoke, status. Leases never expire here. */
function fakeGateway(): { server: http.Server; kv: Map<string, { value: string; create: number; mod: number; lease?: string }> } {
  const kv = new Map<string, { value: string; create: number; mod: number; lease?: string }>();
  let rev = 1;
  let lease = 100;
  const unb = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');
  const b = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  const kvOut = (k: string): object => ({ key: b(k), value: b(kv.get(k)!.value), create_revision: String(kv.get(k)!.create), mod_revision: String(kv.get(k)!.mod) });
  type Req = { key?: string; range_end?: string; value?: string; lease?: string };
  const range = (r: Req): object => {
    const key = unb(r.key);
    if (r.range_end === undefined) return kv.has(key) ? { kvs: [kvOut(key)] } : {};
    const end = unb(r.range_end);
    const keys = [...kv.keys()].filter((k) => k >= key && k < end).sort();
    return keys.length ? { kvs: keys.map(kvOut) } : {};
  };
  const op = (o: { request_put?: Req; request_delete_range?: Req; request_range?: Req }): object => {
    if (o.request_put) {
      const k = unb(o.request_put.key);
      rev++;
      kv.set(k, { value: unb(o.request_put.value), create: kv.get(k)?.create ?? rev, mod: rev, ...(o.request_put.lease ? { lease: o.request_put.lease } : {}) });
      return { response_put: {} };
    }
    if (o.request_delete_range) {
      kv.delete(unb(o.request_delete_range.key));
      return { response_delete_range: {} };
    }
    return { response_range: range(o.request_range!) };
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const doc = JSON.parse(body || '{}') as Record<string, unknown>;
      let out: object;
      if (req.url === '/v3/maintenance/status') out = { version: 'fake' };
      else if (req.url === '/v3/lease/grant') out = { ID: String(lease++), TTL: doc.TTL };
      else if (req.url === '/v3/lease/revoke') out = {};
      else if (req.url === '/v3/kv/range') out = range(doc as Req);
      else if (req.url === '/v3/kv/txn') {
        const cmp = (doc.compare ?? []) as { key: string; target: string; create_revision?: string; mod_revision?: string }[];
        const ok = cmp.every((c) => {
          const e = kv.get(unb(c.key));
          return c.target === 'CREATE' ? (e?.create ?? 0) === Number(c.create_revision) : (e?.mod ?? 0) === Number(c.mod_revision);
        });
        const ops = ((ok ? doc.success : doc.failure) ?? []) as Parameters<typeof op>[0][];
        out = { ...(ok ? { succeeded: true } : {}), responses: ops.map(op) };
      } else {
        res.writeHead(404).end('{"message":"not found"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    });
  });
  return { server, kv };
}

const rec = (over: Partial<StoredBinding> = {}): StoredBinding => ({ key: 'k1', bsid: 'fc00:f::5', router: 'ar', client: 'fc00:1::2', segments: ['fc00:a::1:0:0'], installedUntil: Date.now() + 60_000, ...over });

describe('BSID store records', () => {
  test('a record round-trips; anything else decodes to undefined', () => {
    const r = rec({ installedUntil: 1_800_000_000_000 });
    assert.deepEqual(decodeBinding(encodeBinding(r)), r);
    const good = JSON.parse(encodeBinding(r)) as object;
    for (const bad of ['', 'not json', '42', 'null', '{"v":2}', JSON.stringify({ ...good, v: 3 }), JSON.stringify({ ...good, spec: { from: 'a' } }), JSON.stringify({ ...good, extra: 1 }), JSON.stringify({ ...good, segments: 'fc00::1' }), JSON.stringify({ ...good, installedUntil: -1 })])
      assert.equal(decodeBinding(bad), undefined, bad);
  });

  test('v2 carries the path spec (a function argument, 64 bits, as a decimal string); a v1 record still decodes, without one', () => {
    const spec: PathSpec = { from: 'net:c', to: 'net:s', destination: 'fc00:2::2', functions: [{ name: 'compress', argument: 2n ** 64n - 1n }, { name: 'nat', argument: 0n }], tieKey: 'fc00:1::2', maxLatencyMs: 20 };
    const r = rec({ installedUntil: 1_800_000_000_000, spec });
    const text = encodeBinding(r);
    assert.match(text, /"argument":"18446744073709551615"/);
    assert.deepEqual(decodeBinding(text), r);
    const { spec: _s, ...v1 } = r;
    assert.deepEqual(decodeBinding(JSON.stringify({ v: 1, ...v1 })), v1);
    assert.equal(decodeBinding(JSON.stringify({ v: 1, ...v1, spec: JSON.parse(text).spec })), undefined, 'v1 has no spec');
    assert.equal(decodeBinding(text.replace('"18446744073709551615"', '18446744073709551615')), undefined, 'an argument as a JSON number is refused');
  });

  test('a health record round-trips; anything else decodes to undefined', () => {
    const h = { node: 'p1a', up: false, since: 1_800_000_000_000, by: 'ctl/42/ab12cd', lastError: 'connect ECONNREFUSED' };
    assert.deepEqual(decodeHealth(encodeHealth(h)), h);
    const good = JSON.parse(encodeHealth(h)) as object;
    for (const bad of ['', '{', '{"v":1}', JSON.stringify({ ...good, v: 2 }), JSON.stringify({ ...good, up: 'no' }), JSON.stringify({ ...good, extra: 1 })]) assert.equal(decodeHealth(bad), undefined, bad);
  });
});

let gw: ReturnType<typeof fakeGateway>;
let endpoint: string;
before(async () => {
  gw = fakeGateway();
  await new Promise<void>((r) => gw.server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(gw.server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => gw.server.close(() => r())));

let nth = 0;
const stores: { name: string; make: () => { store: BsidStore; done: () => Promise<void> } }[] = [
  { name: 'memory', make: () => ({ store: new MemoryBsidStore(), done: () => Promise.resolve() }) },
  {
    name: 'etcd (fake gateway)',
    make: () => {
      // a dead endpoint first: the client moves on to the next
      const store = new EtcdBsidStore(new EtcdClient({ endpoints: ['http://127.0.0.1:1', endpoint], timeoutMs: 2000 }), `/conf${nth++}`, silent);
      return { store, done: () => store.close() };
    },
  },
];

for (const { name, make } of stores) {
  describe(`BSID store conformance: ${name}`, () => {
    test('compare-and-create: a key once, a BSID once; update moves the BSID; remove only what the key holds', async () => {
      const { store, done } = make();
      try {
        assert.deepEqual(await store.create(rec(), 60_000), { ok: true });
        const again = await store.create(rec({ bsid: 'fc00:f::9' }), 60_000);
        assert.ok(!again.ok && 'existing' in again && again.existing.bsid === 'fc00:f::5', 'the same key keeps its BSID');
        assert.deepEqual(await store.create(rec({ key: 'k2' }), 60_000), { ok: false, bsidTaken: true });
        assert.equal((await store.getByBsid('fc00:f::5'))?.key, 'k1');
        await store.update(rec({ bsid: 'fc00:f::6', segments: ['fc00:b::1:0:0'] }), 60_000);
        assert.equal(await store.getByBsid('fc00:f::5'), undefined, 'the old BSID is free again');
        assert.deepEqual((await store.get('k1'))?.segments, ['fc00:b::1:0:0']);
        assert.deepEqual(await store.create(rec({ key: 'k2' }), 60_000), { ok: true });
        const k2 = (await store.get('k2'))!;
        await store.repath([{ ...k2, segments: ['fc00:d::1:0:0'] }]);
        assert.deepEqual(await store.getByBsid('fc00:f::5'), { ...k2, segments: ['fc00:d::1:0:0'] }, 're-pathed: same BSID, new path');
        await store.remove({ key: 'k1', bsid: 'fc00:f::5' }); // not what k1 holds: nothing happens
        assert.equal((await store.list()).length, 2);
        await store.remove({ key: 'k1', bsid: 'fc00:f::6' });
        assert.deepEqual((await store.list()).map((b) => b.key), ['k2']);
        assert.equal(store.corrupt, 0);
      } finally {
        await done();
      }
    });
  });
}

describe('etcd store: the route index', () => {
  test('create, update and remove keep <prefix>/route/<router>/<bsid> in step with the record, on its lease', async () => {
    const store = new EtcdBsidStore(new EtcdClient({ endpoints: [endpoint], timeoutMs: 2000 }), '/ri', silent);
    const routes = (): [string, string][] => [...gw.kv.entries()].filter(([k]) => k.startsWith('/ri/route/')).map(([k, v]) => [k, v.value]);
    const leaseOf = (k: string): string | undefined => gw.kv.get(k)?.lease;
    try {
      const r1 = rec();
      await store.create(r1, 60_000);
      assert.deepEqual(routes(), [['/ri/route/ar/fc00:f::5', encodeBinding(r1)]]);
      assert.ok(leaseOf('/ri/route/ar/fc00:f::5') !== undefined && leaseOf('/ri/route/ar/fc00:f::5') === leaseOf(keyPath('/ri', 'k1')), 'on the record’s lease');
      // a refused create (the key is bound) writes no index entry
      await store.create(rec({ bsid: 'fc00:f::9' }), 60_000);
      assert.equal(routes().length, 1);
      // re-pointed on the same BSID: the entry follows, on the new lease
      const r2 = rec({ segments: ['fc00:b::1:0:0'] });
      await store.update(r2, 60_000);
      assert.deepEqual(routes(), [['/ri/route/ar/fc00:f::5', encodeBinding(r2)]]);
      assert.equal(leaseOf('/ri/route/ar/fc00:f::5'), leaseOf(keyPath('/ri', 'k1')));
      // moved to another BSID and another router: the old entry goes in the same transaction
      const r3 = rec({ bsid: 'fc00:e::7', router: 'ar2' });
      await store.update(r3, 60_000);
      assert.deepEqual(routes(), [['/ri/route/ar2/fc00:e::7', encodeBinding(r3)]]);
      await store.remove({ key: 'k1', bsid: 'fc00:e::7' });
      assert.deepEqual(routes(), []);
    } finally {
      await store.close();
    }
  });
});

describe('etcd store: bad values and an absent etcd', () => {
  test('corrupt and foreign values under the prefix are logged, skipped and counted, never thrown; a corrupt record is replaced on create', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const store = new EtcdBsidStore(new EtcdClient({ endpoints: [endpoint], timeoutMs: 2000 }), '/bad/', log);
    try {
      assert.deepEqual(await store.create(rec(), 60_000), { ok: true });
      gw.kv.set('/bad/bsid/key/junk', { value: 'not json', create: 1, mod: 1 });
      gw.kv.set('/bad/bsid/key/other', { value: '{"owner":"another program"}', create: 1, mod: 1 });
      gw.kv.set(keyPath('/bad', 'k3'), { value: encodeBinding(rec({ key: 'k4', bsid: 'fc00:f::7' })), create: 1, mod: 1 }); // a record under another key's name
      const list = await store.list();
      assert.deepEqual(list.map((b) => b.key), ['k1']);
      assert.equal(store.corrupt, 3);
      assert.equal(lines.filter((l) => l.includes('not a binding record')).length, 3);
      assert.equal(await store.get('k3'), undefined);
      assert.equal(store.corrupt, 4);
      assert.deepEqual(await store.create(rec({ key: 'k3', bsid: 'fc00:f::8' }), 60_000), { ok: true }, 'the corrupt value gives way');
      assert.equal((await store.get('k3'))?.bsid, 'fc00:f::8');
    } finally {
      await store.close();
    }
  });

  test('no endpoint answers: STORE_UNAVAILABLE naming them', async () => {
    const store = new EtcdBsidStore(new EtcdClient({ endpoints: ['http://127.0.0.1:1', 'http://127.0.0.1:2'], timeoutMs: 500 }), '/x', silent);
    try {
      await assert.rejects(store.open(), (e: unknown) => isSrError(e, 'STORE_UNAVAILABLE') && /127\.0\.0\.1:1.*127\.0\.0\.1:2/.test((e as Error).message));
    } finally {
      await store.close();
    }
  });
});

describe('the controller with its store down', () => {
  test('a new client’s path query and a proxy’s lookup of an unseen BSID: SERVFAIL naming the store, not an internal error', async () => {
    const cfg = parseControllerConfig(`${readExample('controller-access.yaml')}\nprivateLookups: { allow: [ "fc00:1::/64" ] }\n`);
    const store = new EtcdBsidStore(new EtcdClient({ endpoints: ['http://127.0.0.1:1'], timeoutMs: 500 }), '/down', silent);
    const bsids = new BsidManager(new Map([['ar', { agent: new MemoryAccessRouter(), prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 60_000, log: silent, store });
    const services = { resolver: new Resolver(cfg), bsids };
    try {
      const path = await handleMessage(services, buildQuery({ name: 'server.lab.example' }, 3), 'fc00:1::2', 'udp');
      assert.equal(path.log.rcode, 'SERVFAIL');
      assert.match(path.log.reason!, /binding SID on ar: no etcd endpoint answered/);
      // a proxy's lookup (TYPE65281) of a BSID this instance has not seen
      const raw = dnsPacket.encode({ id: 4, type: 'query', flags: 0, questions: [{ name: arpaName('fc00:f::5'), type: TYPE_SRH_NAME as never, class: 'IN' }] });
      const lookup = await handleMessage(services, raw, 'fc00:1::2', 'tcp');
      assert.equal(lookup.log.rcode, 'SERVFAIL');
      assert.match(lookup.log.reason!, /^binding SID fc00:f::5: no etcd endpoint answered/);
    } finally {
      await store.close();
    }
  });
});

describe('two BSID managers on one store (two controller instances)', () => {
  const spec: PathSpec = { from: 'net:c', to: 'net:s', destination: 'fc00:2::2', functions: [], tieKey: 'x' };
  const two = (store: BsidStore | undefined, prefix = 'fc00:f::/64') => {
    const agent = new MemoryAccessRouter();
    const mk = (): BsidManager => new BsidManager(new Map([['ar', { agent, prefix: parsePrefix(prefix) }]]), { lifetimeMs: 10_000, log: silent, perClient: 1000, max: 1000, ...(store ? { store } : {}) });
    return { agent, a: mk(), b: mk(), mk };
  };
  const req = (key: string, client = 'fc00:1::2') => ({ router: 'ar', client, key, segments: ['fc00:a::1:0:0'], spec });

  for (const [name, store] of [['memory', () => new MemoryBsidStore()], ['etcd (fake gateway)', () => new EtcdBsidStore(new EtcdClient({ endpoints: [endpoint], timeoutMs: 2000 }), `/two${nth++}`, silent)]] as const) {
    test(`${name}: keys bound on either never share a BSID, each key answers alike on both; racing first binds end with one BSID; a new instance takes over the records`, async () => {
      const s = store();
      const { agent, a, b, mk } = two(s, 'fc00:f::/120');
      // 120 keys over 255 slots, alternating instances: clashes are certain unless the slots are shared
      const got = new Map<string, string>();
      for (let i = 0; i < 120; i++) got.set(`k${i}`, (await (i % 2 ? a : b).bind(req(`k${i}`))).bsid);
      assert.equal(new Set(got.values()).size, 120, 'no BSID given to two keys');
      for (let i = 0; i < 120; i += 7) assert.equal((await (i % 2 ? b : a).bind(req(`k${i}`))).bsid, got.get(`k${i}`), 'the other instance answers alike');
      const [x, y] = await Promise.all([a.bind(req('race')), b.bind(req('race'))]);
      assert.equal(x.bsid, y.bsid);
      assert.equal((await s.list()).filter((r) => r.key === 'race').length, 1);
      // a third instance (a restart): the records are there before any query, and nothing is installed again
      const c = mk();
      assert.equal(await c.load(), 121);
      assert.equal(c.lookup(x.bsid)?.key, 'race');
      const before = agent.installed.size;
      assert.equal((await c.bind(req('k5'))).bsid, got.get('k5'));
      assert.equal(agent.installed.size, before);
      // a BSID another instance binds later is fetched for a lookup
      const late = await a.bind(req('late'));
      assert.equal(c.lookup(late.bsid), undefined);
      await c.fetch(late.bsid);
      assert.equal(c.lookup(late.bsid)?.key, 'late');
      await s.close();
    });
  }

  test('with a store: a failed install leaves no record; an instance whose copy times out forgets it and leaves the route and the record to their lease', async () => {
    const s = new MemoryBsidStore();
    const now = { t: 1000 };
    const agent = new MemoryAccessRouter();
    const m = new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 10_000, log: silent, now: () => now.t, store: s });
    agent.fail = true;
    await assert.rejects(m.bind(req('k1')), /agent down/);
    assert.deepEqual(await s.list(), []);
    agent.fail = false;
    const b = await m.bind(req('k1'));
    now.t += 11_000;
    await m.sweep();
    assert.equal(m.lookup(b.bsid), undefined, 'forgotten here');
    assert.ok(agent.installed.has(b.bsid), 'the route stays: another instance may refresh it');
    assert.equal((await s.get('k1'))?.bsid, b.bsid);
    assert.equal((await m.bind(req('k1'))).bsid, b.bsid, 'asked again: the same BSID, from the store');
  });

  test('without a store (each instance alone) the same run hands one BSID to two keys: what the shared store prevents', async () => {
    const { a, b } = two(undefined, 'fc00:f::/120');
    const seen = new Set<string>();
    for (let i = 0; i < 120; i++) seen.add((await (i % 2 ? a : b).bind(req(`k${i}`))).bsid);
    assert.ok(seen.size < 120);
  });
});

describe('the elected instance re-points every binding of the store, once; the others follow', () => {
  const spec = (tieKey: string): PathSpec => ({ from: 'net:c', to: 'net:s', destination: 'fc00:2::2', functions: [{ name: 'compress', argument: 7n }], tieKey });
  const req = (key: string) => ({ router: 'ar', client: `fc00:1::${key.slice(1)}`, key, segments: ['fc00:a::1:0:0'], spec: spec(key) });

  test('memory store: the leader moves bindings another instance made (store, agent, both caches); a second run moves nothing; no path left removes', async () => {
    const store = new MemoryBsidStore();
    const agent = new MemoryAccessRouter();
    const logs: string[] = [];
    const mk = (name: string): BsidManager =>
      new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 60_000, log: pino({ level: 'info' }, { write: (l: string) => logs.push(`${name} ${l}`) }), perClient: 100, max: 1000, store });
    const leader = mk('leader');
    const follower = mk('follower');
    const stop = new AbortController();
    void leader.follow(stop.signal);
    void follower.follow(stop.signal);
    try {
      const bound = [];
      for (let i = 1; i <= 40; i++) bound.push(await follower.bind(req(`k${i}`)));
      assert.equal(leader.list().length, 40, 'the leader’s cache follows the other’s bindings');
      // p1a down: every path through it takes p1b; k13 has no path left
      const compute = (s: PathSpec) => (s.tieKey === 'k13' ? { reason: 'no replica of compress is up' } : { segments: ['fc00:b::1:0:0'] });
      const r = await leader.repointAll(compute, 8);
      assert.deepEqual(r, { moved: 39, removed: 1, failed: 0, records: 40 });
      for (const b of bound) {
        const gone = b.key === 'k13';
        assert.deepEqual(agent.installed.get(b.bsid)?.segments, gone ? undefined : ['fc00:b::1:0:0'], b.key);
        assert.deepEqual((await store.get(b.key))?.segments, gone ? undefined : ['fc00:b::1:0:0']);
        assert.deepEqual(follower.lookup(b.bsid)?.segments, gone ? undefined : ['fc00:b::1:0:0'], 'the follower’s cache has the new path');
        assert.deepEqual(leader.lookup(b.bsid)?.segments, gone ? undefined : ['fc00:b::1:0:0']);
      }
      assert.deepEqual(await leader.repointAll(compute, 8), { moved: 0, removed: 0, failed: 0, records: 39 }, 'once');
      const repointed = logs.filter((l) => l.includes('BSID re-pointed'));
      assert.equal(repointed.length, 39);
      assert.ok(repointed.every((l) => l.startsWith('leader ')));
      // the follower asks again with the new path: nothing to install
      const calls = agent.calls.length;
      await follower.bind({ ...req('k2'), segments: ['fc00:b::1:0:0'] });
      assert.equal(agent.calls.length, calls);
    } finally {
      stop.abort();
    }
  });

  test('a record without a spec (v1) is left as it is; a failed install keeps the old path and is counted', async () => {
    const store = new MemoryBsidStore();
    const agent = new MemoryAccessRouter();
    const m = new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 60_000, log: silent, store });
    await store.create(rec({ key: 'old', bsid: 'fc00:f::77' }), 60_000);
    const b = await m.bind(req('k1'));
    agent.fail = true;
    assert.deepEqual(await m.repointAll(() => ({ segments: ['fc00:b::1:0:0'] })), { moved: 0, removed: 0, failed: 1, records: 2 });
    assert.deepEqual((await store.get('k1'))?.segments, b.segments);
    agent.fail = false;
    assert.deepEqual(await m.repointAll(() => ({ segments: ['fc00:b::1:0:0'] })), { moved: 1, removed: 0, failed: 0, records: 2 });
    assert.deepEqual((await store.get('old'))?.segments, rec().segments);
  });

  test('re-pointed records are written in batches; a batch holding a record that went meanwhile is written record by record', async () => {
    const store = new MemoryBsidStore();
    const agent = new MemoryAccessRouter();
    const m = new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 60_000, log: silent, perClient: 100, store });
    const bound = [];
    for (let i = 1; i <= 10; i++) bound.push(await m.bind(req(`k${i}`)));
    let writes = 0;
    const repath = store.repath.bind(store);
    store.repath = (bs) => (writes++, repath(bs));
    const gone = bound[6]!;
    const r = await m.repointAll((s) => {
      // k7's record goes (expired, say) after the list, before its batch is written
      if (s.tieKey === 'k2') void store.remove(gone);
      return { segments: ['fc00:b::1:0:0'] };
    }, 2, 4);
    assert.deepEqual(r, { moved: 9, removed: 0, failed: 1, records: 10 });
    // batches of 4: [k1..k4] [k5..k8] fails → 4 single writes, [k9 k10]
    assert.equal(writes, 1 + 1 + 4 + 1);
    for (const b of bound) assert.deepEqual((await store.get(b.key))?.segments, b.key === gone.key ? undefined : ['fc00:b::1:0:0'], b.key);
  });

  test('the followed cache holds at most `max` bindings: beyond, a lookup fetches', async () => {
    const store = new MemoryBsidStore();
    const agent = new MemoryAccessRouter();
    const mk = (max: number): BsidManager => new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 60_000, log: silent, perClient: 100, max, store });
    const small = mk(5);
    const big = mk(100);
    const stop = new AbortController();
    void small.follow(stop.signal);
    try {
      const bound = [];
      for (let i = 1; i <= 12; i++) bound.push(await big.bind(req(`k${i}`)));
      assert.equal(small.list().length, 5);
      const last = bound[11]!;
      assert.equal(small.lookup(last.bsid), undefined);
      await small.fetch(last.bsid);
      assert.equal(small.lookup(last.bsid), undefined, 'fetch keeps the bound too');
      await store.remove(bound[0]!);
      assert.equal(small.lookup(bound[0]!.bsid), undefined, 'a removed record is forgotten');
      await small.fetch(last.bsid);
      assert.equal(small.lookup(last.bsid)?.key, 'k12', 'room again');
    } finally {
      stop.abort();
    }
  });
});
