import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { parsePrefix } from '../../net/ip6.js';
import { isSrError } from '../../core/errors.js';
import { BsidManager, type BsidManagerOptions, type PathSpec } from './manager.js';
import { MemoryAccessRouter } from '../../access-router/memory.js';


const spec: PathSpec = { from: 'net:c', to: 'net:s', destination: 'fc00:2::2', functions: [{ name: 'compress', argument: 0n }], tieKey: 'fc00:1::2' };
const log = pino({ level: 'silent' });

function setup(now = { t: 1000 }, prefix = 'fc00:f::/64', extra: Partial<BsidManagerOptions> = {}) {
  const agent = new MemoryAccessRouter();
  const m = new BsidManager(new Map([['ar', { agent, prefix: parsePrefix(prefix) }]]), { lifetimeMs: 10_000, log, now: () => now.t, ...extra });
  return { agent, m, now };
}

describe('BSID manager', () => {
  test('a BSID per key, from the router’s prefix, installed before bind() resolves; the same key keeps it', async () => {
    const { agent, m } = setup();
    const a = await m.bind({ router: 'ar', client: 'fc00:1::2', key: 'k1', segments: ['fc00:a::1:0:0'], spec });
    assert.match(a.bsid, /^fc00:f::/);
    assert.ok(agent.installed.has(a.bsid), 'installed when bind resolves');
    assert.deepEqual(agent.installed.get(a.bsid)!.source, { prefix: 'fc00:1::2', length: 128 });
    const again = await m.bind({ router: 'ar', client: 'fc00:1::2', key: 'k1', segments: ['fc00:a::1:0:0'], spec });
    assert.equal(again.bsid, a.bsid);
    const b = await m.bind({ router: 'ar', client: 'fc00:1::3', key: 'k2', segments: ['fc00:a::1:0:0'], spec });
    assert.notEqual(b.bsid, a.bsid);
    assert.equal(m.lookup(a.bsid)?.segments[0], 'fc00:a::1:0:0');
    assert.equal(m.lookup('fc00:f::dead'), undefined);
    assert.equal(m.lookup('not an address'), undefined);
  });

  test('clashes probe onwards: a /120 prefix holds 255 BSIDs, all distinct, then it is full', async () => {
    const { m } = setup(undefined, 'fc00:f::/120', { perClient: 1000 });
    const seen = new Set<string>();
    for (let i = 0; i < 255; i++) seen.add((await m.bind({ router: 'ar', client: 'fc00:1::2', key: `k${i}`, segments: ['fc00:a::1'], spec })).bsid);
    assert.equal(seen.size, 255);
    assert.ok(!seen.has('fc00:f::'), 'the prefix’s own address is never a BSID');
    await assert.rejects(m.bind({ router: 'ar', client: 'fc00:1::2', key: 'one more', segments: ['fc00:a::1'], spec }), /is full/);
    await assert.rejects(setup(undefined, 'fc00:f::/124').m.bind({ router: 'ar', client: 'x', key: 'k', segments: ['fc00:a::1'], spec }), /too long/);
  });

  test('a failed install leaves nothing bound; an unknown router is an error', async () => {
    const { agent, m } = setup();
    agent.fail = true;
    await assert.rejects(m.bind({ router: 'ar', client: 'fc00:1::2', key: 'k1', segments: ['fc00:a::1'], spec }), /agent down/);
    assert.equal(m.list().length, 0);
    await assert.rejects(m.bind({ router: 'nope', client: 'fc00:1::2', key: 'k1', segments: ['fc00:a::1'], spec }), /has no agent/);
  });

  test('expiry: a binding lives lifetimeMs after its last bind, then sweep() removes it', async () => {
    const { agent, m, now } = setup();
    const a = await m.bind({ router: 'ar', client: 'fc00:1::2', key: 'k1', segments: ['fc00:a::1'], spec });
    now.t += 8000;
    await m.bind({ router: 'ar', client: 'fc00:1::2', key: 'k1', segments: ['fc00:a::1'], spec }); // refreshed
    now.t += 8000;
    await m.sweep();
    assert.ok(agent.installed.has(a.bsid));
    now.t += 2001;
    assert.equal(m.lookup(a.bsid), undefined, 'expired: no longer answered');
    await m.sweep();
    assert.ok(!agent.installed.has(a.bsid));
    assert.equal(m.list().length, 0);
  });

  test('repoint(): changed paths are re-installed under the same BSID, pathless ones removed', async () => {
    const { agent, m } = setup();
    const a = await m.bind({ router: 'ar', client: 'fc00:1::2', key: 'k1', segments: ['fc00:a::1:0:0', 'fc00:c::2:0:0'], spec });
    const b = await m.bind({ router: 'ar', client: 'fc00:1::3', key: 'k2', segments: ['fc00:a::1:0:0', 'fc00:c::2:0:0'], spec: { ...spec, tieKey: 'other' } });
    const r = await m.repoint((s) => (s.tieKey === 'other' ? { reason: 'no live replica' } : { segments: ['fc00:b::1:0:0', 'fc00:c::2:0:0'] }));
    assert.deepEqual(r, { moved: 1, removed: 1 });
    assert.deepEqual(agent.installed.get(a.bsid)!.segments, ['fc00:b::1:0:0', 'fc00:c::2:0:0']);
    assert.ok(!agent.installed.has(b.bsid));
    assert.deepEqual(await m.repoint(() => ({ segments: ['fc00:b::1:0:0', 'fc00:c::2:0:0'] })), { moved: 0, removed: 0 }, 'nothing changed: nothing re-installed');
  });

  test('adopt(): a restarted controller takes over installed BSIDs that carry a key', async () => {
    const { agent, m } = setup();
    const a = await m.bind({ router: 'ar', client: 'fc00:1::2', key: 'k1', segments: ['fc00:a::1'], spec });
    const fresh = new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 10_000, log, now: () => 1000 });
    assert.equal(await fresh.adopt(), 1);
    assert.equal(fresh.lookup(a.bsid)?.key, 'k1');
    assert.equal((await fresh.bind({ router: 'ar', client: 'fc00:1::2', key: 'k1', segments: ['fc00:a::1'], spec })).bsid, a.bsid);
  });

  const bind = (m: BsidManager, key: string, client = 'fc00:1::2', segments = ['fc00:a::1']) => m.bind({ router: 'ar', client, key, segments, spec });
  const limit = (re: RegExp) => (e: unknown) => isSrError(e, 'BSID_LIMIT') && re.test(e.message);

  test('issue 12 #11: a refresh with the same path installs nothing; the agent keeps the route twice the lifetime', async () => {
    const { agent, m, now } = setup();
    const a = await bind(m, 'k1');
    assert.equal(agent.installed.get(a.bsid)!.expiresAt, 1000 + 20_000, 'the agent is asked for twice the lifetime');
    for (let i = 0; i < 100; i++) {
      now.t += 50;
      await bind(m, 'k1');
    }
    assert.deepEqual(agent.calls, [`install ${a.bsid} fc00:a::1`], '100 queries, one install');
    assert.equal(m.lookup(a.bsid)!.expiresAt, now.t + 10_000, 'each refresh extends the life');
    // once less than a lifetime of the agent's expiry is left, one re-install extends it
    now.t = 1000 + 10_001;
    await bind(m, 'k1');
    assert.equal(agent.calls.length, 2);
    assert.equal(agent.installed.get(a.bsid)!.expiresAt, now.t + 20_000);
    // a changed path is installed at once
    await bind(m, 'k1', 'fc00:1::2', ['fc00:b::1']);
    assert.deepEqual(agent.calls.at(-1), `install ${a.bsid} fc00:b::1`);
  });

  test('issue 12 #11: per-client cap — the 17th key of one client is BSID_LIMIT, other clients go on; freed by expiry', async () => {
    const { m, now } = setup();
    for (let i = 0; i < 16; i++) await bind(m, `k${i}`);
    await assert.rejects(bind(m, 'k16'), limit(/client fc00:1::2 holds 16 binding SIDs \(bindingSids\.perClient: 16\)/));
    await bind(m, 'k3'); // refreshing one it holds is fine
    assert.equal(m.heldBy('fc00:1::2'), 16);
    await bind(m, 'other', 'fc00:1::3');
    now.t += 10_001;
    await m.sweep();
    assert.equal(m.heldBy('fc00:1::2'), 0);
    await bind(m, 'k16');
  });

  test('issue 12 #11: concurrent new keys cannot overshoot the cap; a failed install frees its place', async () => {
    const { agent, m } = setup(undefined, undefined, { perClient: 3 });
    const r = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => bind(m, `c${i}`)));
    assert.equal(r.filter((x) => x.status === 'fulfilled').length, 3);
    assert.equal(m.heldBy('fc00:1::2'), 3);
    agent.fail = true;
    await assert.rejects(bind(m, 'x', 'fc00:1::9'), /agent down/);
    assert.equal(m.heldBy('fc00:1::9'), 0);
  });

  test('issue 12 #11: a total cap, and the allocation rate (refreshes are not allocations)', async () => {
    const { m } = setup(undefined, undefined, { max: 2 });
    await bind(m, 'a', 'fc00:1::1');
    await bind(m, 'b', 'fc00:1::2');
    await assert.rejects(bind(m, 'c', 'fc00:1::3'), limit(/2 binding SIDs are bound \(bindingSids\.max: 2\)/));
    let tokens = 2;
    const asked: string[] = [];
    const r = setup(undefined, undefined, { mayAllocate: (c) => (asked.push(c), tokens-- > 0) }).m;
    await bind(r, 'a');
    await bind(r, 'b');
    await assert.rejects(bind(r, 'c'), limit(/asks for new binding SIDs too fast/));
    await bind(r, 'a');
    assert.equal(asked.length, 3, 'the refresh did not take a token');
  });
});
