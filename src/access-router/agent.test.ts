import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { isSrError } from '../core/errors.js';
import { parsePrefix } from '../net/ip6.js';
import { HttpAccessRouter, serveAgent } from './http.js';
import { fakeRunner } from '../../test/helpers/fake-agent-runner.js';
import { LocalAccessRouter } from './local.js';
import { arRuleset, elementScript, parseCounters, staleBsidRoutes } from './rules.js';

const log = pino({ level: 'silent' });

describe('access-router agent', () => {
  test('the ruleset: drops to the BSID prefix unless installed and authorised; not_bsid only with client interfaces', () => {
    const r = arRuleset({ bsidPrefix: parsePrefix('fc00:f::/64'), clientInterfaces: ['eth0'] });
    assert.match(r, /ip6 daddr fc00:f::\/64 ip6 daddr != @installed counter name "unknown_bsid" drop/);
    assert.match(r, /ip6 daddr fc00:f::\/64 ip6 daddr \. ip6 saddr != @allowed counter name "unauthorised" drop/);
    assert.match(r, /iifname \{ "eth0" \} rt type 4 ip6 daddr != @installed counter name "not_bsid" drop/);
    assert.doesNotMatch(arRuleset({ bsidPrefix: parsePrefix('fc00:f::/64'), clientInterfaces: [] }), /not_bsid" drop/);
    assert.equal(elementScript([{ bsid: 'fc00:f::1', source: 'fc00:1::2/128' }], []), 'add element ip6 srv6pipes_ar installed { fc00:f::1 }\nadd element ip6 srv6pipes_ar allowed { fc00:f::1 . fc00:1::2/128 }\n');
    assert.deepEqual(parseCounters('{"nftables":[{"counter":{"name":"unauthorised","packets":7}}]}'), { unknownBsid: 0, unauthorised: 7, notBsid: 0 });
    assert.deepEqual(staleBsidRoutes('[{"dst":"fc00:f::5","encap":"seg6local"},{"dst":"fc00:e::5","encap":"seg6local"},{"dst":"fc00:f::6"}]', (a) => a.startsWith('fc00:f:')), ['fc00:f::5']);
  });

  test('local agent: start loads the table and clears stale routes; install = route then filter; remove = filter then route; stop undoes all', async () => {
    const { runner, calls } = fakeRunner();
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), namespace: 'ns-ar', tunnelSource: 'fc00:1::1', log, runner });
    await ar.start();
    assert.ok(calls.every((c) => c.startsWith('ip netns exec ns-ar ')), 'everything inside the namespace');
    assert.ok(calls.some((c) => c.includes('nft -f -') && c.includes('table ip6 srv6pipes_ar')));
    assert.ok(calls.some((c) => c.endsWith('ip -6 route del fc00:f::99/128')), 'the stale BSID route is removed');
    assert.ok(calls.some((c) => c.endsWith('ip sr tunsrc set fc00:1::1')));
    calls.length = 0;
    await ar.install({ bsid: 'fc00:f:0::7', source: { prefix: 'fc00:1::2', length: 128 }, segments: ['fc00:a::1:0:0', 'fc00:c::2:0:0'], expiresAt: Date.now() + 60_000 });
    assert.match(calls[1]!, /ip -6 route replace fc00:f::7\/128 encap seg6local action End\.B6\.Encaps srh segs fc00:a::1:0:0,fc00:c::2:0:0 dev eth2$/);
    assert.match(calls[2]!, /add element ip6 srv6pipes_ar allowed \{ fc00:f::7 \. fc00:1::2\/128 \}/);
    // the same source again: the route is replaced, the filter left alone
    calls.length = 0;
    await ar.install({ bsid: 'fc00:f::7', source: { prefix: 'fc00:1::2', length: 128 }, segments: ['fc00:b::1:0:0'], expiresAt: Date.now() + 60_000 });
    assert.equal(calls.filter((c) => c.includes('nft')).length, 0);
    assert.deepEqual((await ar.list()).map((p) => p.segments), [['fc00:b::1:0:0']]);
    await assert.rejects(ar.install({ bsid: 'fc00:e::7', source: { prefix: 'fc00:1::2', length: 128 }, segments: ['fc00:b::1:0:0'], expiresAt: 0 }), (e: unknown) => isSrError(e, 'BSID_POLICY_REFUSED') && /outside fc00:f::\/64/.test(e.message));
    assert.deepEqual(await ar.counters(), { unknownBsid: 3, unauthorised: 0, notBsid: 1 });
    calls.length = 0;
    await ar.remove('fc00:f::7');
    assert.match(calls[0]!, /delete element/);
    assert.match(calls[1]!, /ip -6 route del fc00:f::7\/128/);
    await ar.remove('fc00:f::7'); // unknown: nothing to do
    calls.length = 0;
    await ar.stop();
    assert.ok(calls.some((c) => c.includes('nft delete table ip6 srv6pipes_ar')));
    assert.ok(calls.some((c) => c.endsWith('ip sr tunsrc set ::')), 'the previous source is restored');
  });

  test('local agent: an expired BSID is removed by the agent itself', async () => {
    const { runner } = fakeRunner();
    let t = 1000;
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), log, runner, now: () => t });
    await ar.install({ bsid: 'fc00:f::7', source: { prefix: 'fc00:1::2', length: 128 }, segments: ['fc00:a::1:0:0'], expiresAt: 2000 });
    await ar.sweep();
    assert.equal((await ar.list()).length, 1);
    t = 2000;
    await ar.sweep();
    assert.equal((await ar.list()).length, 0);
  });

  test('HTTP: the controller’s client talks to a served agent; bad requests and a wrong token are refused', async () => {
    const { runner } = fakeRunner();
    const local = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), log, runner });
    const server = await serveAgent(local, { address: '::1', port: 0, token: 'sekrit', log });
    try {
      const remote = new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 'sekrit' });
      await remote.install({ bsid: 'fc00:f::7', source: { prefix: 'fc00:1::2', length: 128 }, segments: ['fc00:a::1:0:0'], expiresAt: Date.now() + 30_000, key: 'k' });
      const list = await remote.list();
      assert.equal(list.length, 1);
      assert.equal(list[0]!.key, 'k');
      assert.ok(list[0]!.expiresAt > Date.now() + 25_000);
      assert.deepEqual(await remote.counters(), { unknownBsid: 3, unauthorised: 0, notBsid: 1 });
      await assert.rejects(remote.install({ bsid: 'nope', source: { prefix: 'fc00:1::2', length: 128 }, segments: ['fc00:a::1:0:0'], expiresAt: 0 }), /bad request: bsid/);
      await assert.rejects(new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 'wrong' }).list(), (e: unknown) => isSrError(e, 'AGENT_UNAUTHORISED') && /bearer token is required/.test(e.message));
      await remote.remove('fc00:f::7');
      assert.equal((await remote.list()).length, 0);
    } finally {
      await server.close();
    }
  });
});
