import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { isSrError } from '../core/errors.js';
import { parseControllerConfig, validateControllerConfig } from './config.js';
import { readExample } from '../config/examples.js';

const FIG1_CONTROLLER_YAML = readExample('controller.yaml');

const base = (): Record<string, unknown> => YAML.parse(FIG1_CONTROLLER_YAML) as Record<string, unknown>;

function rejects(mutate: (c: Record<string, any>) => void, field: RegExp, code = 'CONFIG_INVALID'): void {
  const c = base();
  mutate(c);
  assert.throws(
    () => validateControllerConfig(c, 'ctl.yaml'),
    (e: unknown) => {
      assert.ok(isSrError(e), String(e));
      assert.equal(e.code, code);
      assert.match(e.message, /^ctl\.yaml: /);
      assert.match(e.message, field);
      return true;
    },
  );
}

describe('controller config', () => {
  test('the Fig. 1 example is valid and complete', () => {
    const c = parseControllerConfig(FIG1_CONTROLLER_YAML);
    assert.deepEqual(c.listen, { address: '::', port: 53 });
    assert.equal(c.ttl, 30);
    assert.deepEqual(c.proxies.map((p) => p.name), ['p1', 'p2']);
    assert.equal(c.proxies[0]!.functions.get('xor'), 2);
    assert.equal(c.links.length, 3);
    assert.equal(c.zones.get('lab.example')!.get('big.lab.example')!.aaaa.length, 40);
    assert.deepEqual(c.zones.get('lab.example')!.get('v4.lab.example'), { aaaa: [], a: ['192.0.2.1'] });
    assert.equal(c.policies.length, 3);
    assert.equal(c.policies[1]!.allow[0]!.argument, 0x5an);
    assert.deepEqual(c.policies[1]!.require, [{ name: 'copy', argument: 0n }]);
  });

  test('defaults: listen [::]:53, ttl 60, nothing else required but nodes', () => {
    const c = validateControllerConfig({ nodes: {} });
    assert.deepEqual(c.listen, { address: '::', port: 53 });
    assert.equal(c.ttl, 60);
    assert.equal(c.policies.length, 0);
  });

  test('every error names its field', () => {
    rejects((c) => (c['listen'] = { port: 70000 }), /listen\.port: /);
    rejects((c) => (c['bogus'] = 1), /bogus|top level/);
    rejects((c) => (c['nodes'].proxies[1].locators[0].prefix = 'fc00:b::'), /nodes\.proxies\[1\]\.locators\[0\]\.prefix: .*IPv6 prefix/);
    rejects((c) => (c['nodes'].proxies[0].functions.xor = 70000), /nodes\.proxies\[0\]\.functions\.xor: 70000 does not fit the 16 function bits of locators\[0\] \(fc00:a::\/80\): 0–65535$/);
    // issue 15: a locator with host bits, and one proxy's locator inside another's
    rejects((c) => (c['nodes'].proxies[1].locators[0].prefix = 'fc00:b::1/80'), /^ctl\.yaml: nodes\.proxies\[1\]\.locators\[0\]\.prefix: fc00:b::1\/80 has bits set past its length: write fc00:b::\/80$/);
    rejects((c) => (c['nodes'].proxies[1].locators[0].prefix = 'fc00:a::/64'), /^ctl\.yaml: nodes\.proxies\[1\]\.locators\[0\]\.prefix: fc00:a::\/64 overlaps fc00:a::\/80 of nodes\.proxies\[0\] \(p1\): a SID would name two proxies$/);
    rejects((c) => (c['nodes'].accessRouters = [{ name: 'ar', bsidPrefix: 'fc00:f::1/64' }]), /^ctl\.yaml: nodes\.accessRouters\[0\]\.bsidPrefix: fc00:f::1\/64 has bits set past its length: write fc00:f::\/64$/);
    rejects((c) => (c['nodes'].proxie = c['nodes'].proxies), /^ctl\.yaml: nodes\.proxie: unknown key: did you mean `proxies`\?$/);
    rejects((c) => (c['nodes'].proxies[1].name = 'p1'), /nodes\.proxies\[1\]\.name: node name "p1" is used twice/);
    rejects((c) => (c['links'][1].b = 'p9'), /links\[1\]\.b: "p9" is neither a node name nor an IPv6 prefix/);
    rejects((c) => (c['links'][1].cost = 0), /links\[1\]\.cost: /);
    // issue 12 #8: costs are integers 1..1e6 (2e16 made the path search loop)
    rejects((c) => (c['links'][1].cost = 2e16), /links\[1\]\.cost: /);
    rejects((c) => (c['links'][1].cost = 1_000_001), /links\[1\]\.cost: /);
    rejects((c) => (c['links'][1].cost = 1.5), /links\[1\]\.cost: an integer/);
    rejects((c) => (c['links'][1].latency = 60_001), /links\[1\]\.latency: /);
    rejects((c) => (c['links'][1].capacity = 2e9), /links\[1\]\.capacity: /);
    rejects((c) => (c['upstream'] = { server: 'resolver.example', allow: [] }), /upstream\.server: ADDR/);
    rejects((c) => (c['upstream'] = { server: '[fc00::53]:53', allow: ['fc00:1::'] }), /upstream\.allow\[0\]: /);
    rejects((c) => (c['upstream'] = { server: '[fc00::53]:53', rate: { perSecond: 0, burst: 1 } }), /upstream\.rate\.perSecond: /);
    rejects((c) => (c['privateLookups'] = { allow: ['nope'] }), /privateLookups\.allow\[0\]: /);
    rejects((c) => (c['limits'] = { tcpConnections: 0 }), /limits\.tcpConnections: /);
    rejects((c) => (c['limits'] = { tcpQueriesInFlight: 5000 }), /limits\.tcpQueriesInFlight: /);
    rejects((c) => (c['links'][0] = { a: 'fc00:1::/64', b: 'fc00:2::/64' }), /links\[0\]: a link joins a node/);
    rejects((c) => (c['zones']['lab.example'].server = 'not-an-address'), /zones\.lab\.example\.server: /);
    rejects((c) => (c['policies'][1].require = ['gzip']), /policies\[1\]\.require\[0\]: function "gzip" is hosted by no proxy/);
    rejects((c) => (c['policies'][1].allow = [{ function: 'xor', argument: '0x1ffffffff' }]), /policies\[1\]\.allow\[0\]: argument 8589934591 of "xor" does not fit in the 32 argument bits/);
    rejects((c) => (c['policies'][0].clients = 'fc00:1::'), /policies\[0\]\.clients: /);
    rejects((c) => (c['upstream'] = 'resolver.example'), /upstream: ADDR, \[ADDR\]:PORT or IPv4:PORT/);
    rejects((c) => (c['bindingSids'] = { lifetime: 60 }), /bindingSids: binding SIDs need at least one access router with an `agent`/);
    rejects((c) => (c['nodes'].accessRouters = [{ name: 'ar', bsidPrefix: 'fc00:f::/64', agent: { ftp: 'x' } }]), /nodes\.accessRouters\[0\]\.agent/);
    rejects((c) => (c['health'] = { interval: 10 }), /health\.interval: /);
    rejects((c) => (c['health'] = { interval: '36000m' }), /health\.interval: a duration between 100ms and 10m/);
    rejects((c) => (c['health'] = { timeout: '2m' }), /health\.timeout: /);
    rejects((c) => (c['nodes'].proxies[0].returnPath = { id: 17, sid: 'fc00:b::ffff' }), /nodes\.proxies\[0\]\.returnPath\.sid: fc00:b::ffff is in none of p1's locators/);
    rejects((c) => {
      c['nodes'].proxies[0].returnPath = { id: 17, sid: 'fc00:a::ffff' };
      c['nodes'].proxies[1].returnPath = { id: 17, sid: 'fc00:b::ffff' };
    }, /nodes\.proxies\[1\]\.returnPath\.id: return id 17 is nodes\.proxies\[0\]'s too/);
    rejects((c) => (c['policies'][1].returnPath = { downstream: { copy: 'gzip' } }), /policies\[1\]\.returnPath\.downstream\.copy: function "gzip" is hosted by no proxy/);
  });

  test('upstream, binding SIDs, agents and health: parsed with their defaults', () => {
    const doc = YAML.parse(FIG1_CONTROLLER_YAML) as Record<string, any>;
    doc['upstream'] = '[fc00::53]:5353';
    doc['bindingSids'] = { lookupFrom: ['fc00:11::/64'] };
    doc['nodes'].accessRouters = [
      { name: 'ar', bsidPrefix: 'fc00:f::/64', agent: { http: '[fc00:9::1]:7780' } },
      { name: 'ar2', bsidPrefix: 'fc00:e::/64', agent: { local: { namespace: 'ns-ar2', clientInterfaces: ['eth0'] } } },
    ];
    const c = validateControllerConfig(doc);
    assert.deepEqual(c.upstream, { address: 'fc00::53', port: 5353, allow: [], rate: { perSecond: 20, burst: 40 } });
    assert.equal(c.bindingSids?.lifetimeMs, 300_000);
    assert.equal(c.bindingSids?.priority, 10);
    assert.deepEqual(c.health, { intervalMs: 2000, timeoutMs: 1000, fall: 2, rise: 1 });
    assert.deepEqual(c.accessRouters[0]!.agent, { kind: 'http', endpoint: '[fc00:9::1]:7780', timeoutMs: 5000 });
    assert.deepEqual(c.accessRouters[1]!.agent, { kind: 'local', namespace: 'ns-ar2', clientInterfaces: ['eth0'] });
    assert.equal(validateControllerConfig(YAML.parse(FIG1_CONTROLLER_YAML)).bindingSids, null);
  });

  test('one duration convention: a unit string, or a bare number of milliseconds (docs/controller.md)', () => {
    const doc = base() as Record<string, any>;
    doc['bindingSids'] = { lifetime: '2m' };
    doc['limits'] = { tcpIdle: '30s' };
    doc['health'] = { interval: '1s', timeout: 250 };
    doc['nodes'].accessRouters = [{ name: 'ar', bsidPrefix: 'fc00:f::/64', agent: { http: '[fc00:9::1]:7780', timeout: '2s' } }];
    const c = validateControllerConfig(doc);
    assert.equal(c.bindingSids?.lifetimeMs, 120_000);
    assert.equal(c.limits.tcpIdleMs, 30_000);
    assert.deepEqual([c.health.intervalMs, c.health.timeoutMs], [1000, 250]);
    assert.deepEqual(c.accessRouters[0]!.agent, { kind: 'http', endpoint: '[fc00:9::1]:7780', timeoutMs: 2000 });
    assert.deepEqual(c.deprecations, []);
    doc['limits'] = { tcpIdle: 2500 };
    assert.equal(validateControllerConfig(doc).limits.tcpIdleMs, 2500, 'a bare number: ms, as before');
    rejects((d) => (d['limits'] = { tcpIdle: '20m' }), /limits\.tcpIdle: a duration between 100ms and 10m/);
    rejects((d) => (d['nodes'].accessRouters = [{ name: 'ar', bsidPrefix: 'fc00:f::/64', agent: { http: '[fc00:9::1]:7780', timeout: '2m' } }]), /nodes\.accessRouters\[0\]\.agent\.timeout: a duration between 100ms and 1m/);
  });

  test('bindingSids.lifetime as a bare number still counts seconds, with one deprecation line', () => {
    const doc = base() as Record<string, any>;
    doc['bindingSids'] = { lifetime: 120 };
    doc['nodes'].accessRouters = [{ name: 'ar', bsidPrefix: 'fc00:f::/64', agent: { http: '[fc00:9::1]:7780' } }];
    const c = validateControllerConfig(doc, 'ctl.yaml');
    assert.equal(c.bindingSids?.lifetimeMs, 120_000);
    assert.equal(c.deprecations.length, 1);
    assert.match(c.deprecations[0]!, /^ctl\.yaml: a bare number in `bindingSids\.lifetime` counts seconds.*\(at bindingSids\.lifetime\)$/);
    doc['bindingSids'] = { lifetime: 8 * 86400 };
    assert.throws(() => validateControllerConfig(doc), /bindingSids\.lifetime: a duration between 1s and 168h/);
  });

  test('YAML syntax errors are CONFIG_SYNTAX', () => {
    assert.throws(() => parseControllerConfig('nodes: [', 'x.yaml'), (e: unknown) => isSrError(e, 'CONFIG_SYNTAX') && e.message === 'x.yaml:1:9: Flow sequence in block collection must be sufficiently indented and end with a ]' && e.hint === 'the end of the file; the file must be YAML (JSON is YAML too)');
  });

  test('issue 12: forwarding, private lookups, DNS limits and BSID caps, with their defaults', () => {
    const old = validateControllerConfig({ ...base(), upstream: '[fc00::53]:5353' });
    assert.deepEqual(old.upstream, { address: 'fc00::53', port: 5353, allow: [], rate: { perSecond: 20, burst: 40 } }, 'the old form: forwarding for nobody');
    const c = validateControllerConfig({
      ...base(),
      upstream: { server: '192.0.2.53', allow: ['fc00:1::/64'], rate: { perSecond: 5, burst: 10 } },
      privateLookups: { allow: ['fc00:99::/64'] },
      limits: { tcpConnections: 10 },
    });
    assert.equal(c.upstream?.address, '192.0.2.53');
    assert.equal(c.upstream?.allow.length, 1);
    assert.deepEqual(c.upstream?.rate, { perSecond: 5, burst: 10 });
    assert.equal(c.privateLookups.length, 1);
    assert.deepEqual(c.limits, { tcpConnections: 10, tcpConnectionsPerClient: 8, tcpQueriesInFlight: 16, tcpWriteBuffer: 65536, tcpIdleMs: 10_000, clientPrefix: 64, trackedClients: 10_000 });
    const d = validateControllerConfig(base());
    assert.deepEqual(d.privateLookups, []);
    assert.equal(d.limits.tcpConnections, 256);
    const doc = base() as Record<string, any>;
    doc['bindingSids'] = {};
    doc['nodes'].accessRouters = [{ name: 'ar', bsidPrefix: 'fc00:f::/64', agent: { http: '[fc00:9::1]:7780' } }];
    const b = validateControllerConfig(doc).bindingSids!;
    assert.deepEqual([b.perClient, b.max, b.rate], [16, 10_000, { perSecond: 2, burst: 16 }]);
    doc['bindingSids'] = { perClient: 0 };
    assert.throws(() => validateControllerConfig(doc), /bindingSids\.perClient: /);
  });
});
