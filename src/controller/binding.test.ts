import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { parsePrefix } from '../net/ip6.js';
import { answerPaths, bindingKey, bindingRouter, lookupBinding } from './binding.js';
import { BsidManager } from './bsid/manager.js';
import { parseControllerConfig } from './config.js';
import { readExample } from '../config/examples.js';

const FIG1_CONTROLLER_YAML = readExample('controller.yaml');
const ACCESS_CONTROLLER_YAML = readExample('controller-access.yaml');
import { Resolver, type Route } from './resolver.js';
import { MemoryAccessRouter } from '../access-router/memory.js';

const log = pino({ level: 'silent' });
const C = 'fc00:1::2';


function setup(o: { yaml?: string; perClient?: number; now?: () => number } = {}) {
  const resolver = new Resolver(parseControllerConfig(o.yaml ?? ACCESS_CONTROLLER_YAML));
  const agent = new MemoryAccessRouter();
  const bsids = new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), {
    lifetimeMs: resolver.config.bindingSids?.lifetimeMs ?? 120_000,
    log,
    ...(o.perClient !== undefined ? { perClient: o.perClient } : {}),
    ...(o.now ? { now: o.now } : {}),
  });
  return { resolver, agent, bsids };
}

const routeOf = (resolver: Resolver, name = 'server.lab.example', client = C): Route => {
  const r = resolver.resolve({ client, name, type: 'AAAA', requested: [] });
  assert.equal(r.rcode, 'NOERROR');
  return r.rcode === 'NOERROR' ? r.routes[0]! : (undefined as never);
};

describe('binding SIDs: the decisions beside the resolver (binding.ts)', () => {
  test('whether to bind: binding SIDs on, the client behind an access router (the walk’s first node) with an agent', () => {
    const { resolver, bsids } = setup();
    const route = routeOf(resolver);
    assert.equal(route.path.nodes[1], 'ar');
    assert.equal(bindingRouter(resolver, bsids, route), 'ar');
    assert.equal(bindingRouter(resolver, undefined, route), undefined, 'no BSID manager');
    const off = new Resolver(parseControllerConfig(ACCESS_CONTROLLER_YAML.replace('bindingSids: { lifetime: 120s }', 'bindingSids: false')));
    assert.equal(bindingRouter(off, bsids, routeOf(off)), undefined, 'binding SIDs off');
    const noAgent = new BsidManager(new Map(), { lifetimeMs: 1000, log });
    assert.equal(bindingRouter(resolver, noAgent, route), undefined, 'the router has no agent');
    // a client attached straight to a proxy's network: no access router in front of it
    const fig1 = new Resolver(parseControllerConfig(FIG1_CONTROLLER_YAML));
    assert.equal(bindingRouter(fig1, bsids, routeOf(fig1)), undefined);
  });

  test('the key: client, policy, function chain with arguments, destination network, hint classes', () => {
    const { resolver } = setup();
    const route = routeOf(resolver);
    assert.equal(bindingKey(C, route), `${C}|0|compress:0,decompress:0|net:fc00:2::/64||`);
    assert.notEqual(bindingKey('fc00:1::3', route), bindingKey(C, route));
    const hinted: Route = { ...route, spec: { ...route.spec, bandwidthKbps: 50_000, maxLatencyMs: 50 } };
    assert.equal(bindingKey(C, hinted), `${C}|0|compress:0,decompress:0|net:fc00:2::/64|50000|50`);
  });

  test('answerPaths: the path behind a BSID installed at the access router, the same BSID for the same key; TTLs clamped to the lifetime', async () => {
    const { resolver, agent, bsids } = setup({ yaml: ACCESS_CONTROLLER_YAML.replace('bindingSids: { lifetime: 120s }', 'bindingSids: { lifetime: 10s, priority: 7 }') });
    const q = { client: C, name: 'server.lab.example', type: 'AAAA', requested: [] };
    const a = await answerPaths(resolver, bsids, q);
    assert.equal(a.rcode, 'NOERROR');
    if (a.rcode !== 'NOERROR') return;
    assert.equal(a.ttl, 30);
    assert.deepEqual(a.aaaa, ['fc00:2::2']);
    const p = a.paths[0]!;
    assert.deepEqual(p.segments, ['fc00:a::1:0:0', 'fc00:c::2:0:0', 'fc00:2::2']);
    assert.equal(p.bsid?.ttl, 10, 'min(zone ttl 30, lifetime 10)');
    assert.deepEqual({ ...p.bsid!.record, bsid: undefined }, { priority: 7, source: C, prefixLength: 128, bsid: undefined });
    const installed = agent.installed.get(p.bsid!.record.bsid)!;
    assert.deepEqual(installed.segments, ['fc00:a::1:0:0', 'fc00:c::2:0:0'], 'the function SIDs, not the destination');
    const again = await answerPaths(resolver, bsids, q);
    assert.equal(again.rcode === 'NOERROR' && again.paths[0]!.bsid?.record.bsid, p.bsid!.record.bsid);
    // www: no function applies, so no path and nothing to bind
    const www = await answerPaths(resolver, bsids, { ...q, name: 'www.lab.example' });
    assert.deepEqual(www.rcode === 'NOERROR' && www.paths, []);
  });

  test('answerPaths without binding SIDs: the segments and the return path as the resolver computed them', async () => {
    const resolver = new Resolver(parseControllerConfig(FIG1_CONTROLLER_YAML));
    const a = await answerPaths(resolver, undefined, { client: C, name: 'plain.lab.example', type: 'AAAA', requested: ['xor', 'xor'] });
    assert.deepEqual(a.rcode === 'NOERROR' && a.paths, [{ destination: 'fc00:2::2', segments: ['fc00:a::2:0:5a', 'fc00:b::2:0:5a', 'fc00:2::2'] }]);
    const denied = await answerPaths(resolver, undefined, { client: C, name: 'denied.lab.example', type: 'AAAA', requested: [] });
    assert.equal(denied.rcode, 'REFUSED');
  });

  test('answerPaths: a BSID cap → REFUSED, an agent failure → SERVFAIL, each with the router named', async () => {
    const capped = setup({ perClient: 1 });
    const q = { client: C, name: 'server.lab.example', type: 'AAAA', requested: [] };
    assert.equal((await answerPaths(capped.resolver, capped.bsids, q)).rcode, 'NOERROR');
    const over = await answerPaths(capped.resolver, capped.bsids, { ...q, requested: ['copy'], name: 'www.lab.example' });
    assert.equal(over.rcode, 'REFUSED');
    assert.match(over.rcode === 'REFUSED' ? over.reason : '', /^binding SID on ar: /);
    const down = setup();
    down.agent.fail = true;
    const failed = await answerPaths(down.resolver, down.bsids, q);
    assert.equal(failed.rcode, 'SERVFAIL');
    assert.match(failed.rcode === 'SERVFAIL' ? failed.reason : '', /^binding SID on ar: .*agent down/);
  });

  test('answerPaths: a binding slower than bindingSids.answerWithin → SERVFAIL (BSID_NOT_READY) at the deadline; the binding goes on and the retry gets it', async () => {
    const { resolver, agent, bsids } = setup({ yaml: ACCESS_CONTROLLER_YAML.replace('bindingSids: { lifetime: 120s }', 'bindingSids: { lifetime: 120s, answerWithin: 200ms }') });
    assert.equal(resolver.config.bindingSids?.answerWithinMs, 200);
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const install = agent.install.bind(agent);
    agent.install = async (p) => {
      await slow;
      return install(p);
    };
    const q = { client: C, name: 'server.lab.example', type: 'AAAA', requested: [] };
    const started = Date.now();
    const late = await answerPaths(resolver, bsids, q);
    assert.equal(late.rcode, 'SERVFAIL');
    assert.match(late.rcode === 'SERVFAIL' ? late.reason : '', /^binding SID on ar: the binding for fc00:1::2 was not ready within 200 ms \(bindingSids.answerWithin\)$/);
    assert.ok(Date.now() - started < 2000, 'answered at the deadline, not when the install ended');
    release();
    const again = await answerPaths(resolver, bsids, q);
    assert.equal(again.rcode, 'NOERROR');
    assert.equal((await agent.list()).length, 1, 'one install: the late one, finished');
  });

  test('lookupBinding: the segments, the TTL at least 1 s and at most the zone TTL and what is left; unknown → NXDOMAIN; off → REFUSED', async () => {
    let now = 1_000_000;
    const { resolver, bsids } = setup({ now: () => now });
    const a = await answerPaths(resolver, bsids, { client: C, name: 'server.lab.example', type: 'AAAA', requested: [] });
    const bsid = a.rcode === 'NOERROR' ? a.paths[0]!.bsid!.record.bsid : '';
    const found = lookupBinding(resolver, bsids, bsid, now);
    assert.deepEqual(found, { rcode: 'NOERROR', bsid, segments: ['fc00:a::1:0:0', 'fc00:c::2:0:0'], ttl: 30 });
    now += 115_500; // 4.5 s of the 120 s lifetime left
    assert.equal(lookupBinding(resolver, bsids, bsid, now).rcode === 'NOERROR' && (lookupBinding(resolver, bsids, bsid, now) as { ttl: number }).ttl, 4);
    now += 4_000; // 0.5 s left
    assert.equal((lookupBinding(resolver, bsids, bsid, now) as { ttl: number }).ttl, 1, 'never 0');
    assert.deepEqual(lookupBinding(resolver, bsids, 'fc00:f::99', now), { rcode: 'NXDOMAIN', reason: 'no binding SID fc00:f::99' });
    assert.deepEqual(lookupBinding(resolver, undefined, bsid, now), { rcode: 'REFUSED', reason: 'binding SIDs are off' });
  });
});
