import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseControllerConfig } from './config.js';
import { readExample } from '../config/examples.js';

const FIG1_CONTROLLER_YAML = readExample('controller.yaml');
import { decide } from './policy.js';
import { Resolver } from './resolver.js';

const cfg = parseControllerConfig(FIG1_CONTROLLER_YAML);
const resolver = new Resolver(cfg);
const C = 'fc00:1::2';
const q = (name: string, requested: string[] = [], type = 'AAAA', client = C) => resolver.resolve({ client, name, type, requested });

describe('policy decisions', () => {
  const base = { client: C, name: 'server.lab.example', destination: 'fc00:2::2' };
  test('require, then requested functions in the client order, arguments from allow', () => {
    assert.deepEqual(decide(cfg.policies, { ...base, requested: [] }), { kind: 'chain', functions: [{ name: 'copy', argument: 0n }], policy: 1 });
    assert.deepEqual(decide(cfg.policies, { ...base, requested: ['xor', 'copy'] }), {
      kind: 'chain',
      functions: [
        { name: 'copy', argument: 0n },
        { name: 'xor', argument: 0x5an },
      ],
      policy: 1,
    });
  });
  test('a policy with a port matches only queries that carry that port (option 65005)', () => {
    const c = parseControllerConfig(`${FIG1_CONTROLLER_YAML.replace('policies:\n', 'policies:\n  - { clients: "fc00:1::/64", port: 22, deny: true }\n')}`);
    assert.equal(decide(c.policies, { ...base, port: 22, requested: [] }).kind, 'deny');
    assert.equal(decide(c.policies, { ...base, port: 80, requested: [] }).kind, 'chain');
    assert.equal(decide(c.policies, { ...base, requested: [] }).kind, 'chain');
  });
  test('deny, requested-but-not-allowed, no policy', () => {
    const d = decide(cfg.policies, { ...base, name: 'denied.lab.example', requested: [] });
    assert.equal(d.kind, 'deny');
    assert.match(d.kind === 'deny' ? d.reason : '', /policies\[0\] denies/);
    const na = decide(cfg.policies, { ...base, name: 'plain.lab.example', requested: ['compress'] });
    assert.match(na.kind === 'deny' ? na.reason : '', /policies\[2\] does not allow function "compress"/);
    assert.deepEqual(decide(cfg.policies, { ...base, client: 'fc00:9::1', requested: [] }), { kind: 'chain', functions: [] });
    assert.equal(decide(cfg.policies, { ...base, client: 'fc00:9::1', requested: ['xor'] }).kind, 'deny');
    assert.match(JSON.stringify(decide(cfg.policies, { ...base, client: 'fc00:9::1', requested: [] }, 'refuse')), /unmatched: refuse/);
  });
});

describe('resolver', () => {
  test('plain name, no function: the address, no path', () => {
    assert.deepEqual(q('plain.lab.example'), { rcode: 'NOERROR', a: [], aaaa: ['fc00:2::2'], routes: [] });
    assert.deepEqual(q('PLAIN.lab.example.'), { rcode: 'NOERROR', a: [], aaaa: ['fc00:2::2'], routes: [] });
  });
  test('a required function: the path through p1', () => {
    const r = q('server.lab.example');
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.rcode === 'NOERROR' && r.routes[0]!.path.segments, ['fc00:a::1:0:0', 'fc00:2::2']);
  });
  test('requested functions: xor on p1 then xor on p2 (an inverse pair)', () => {
    const r = q('plain.lab.example', ['xor', 'xor']);
    assert.ok(r.rcode === 'NOERROR');
    const p = r.routes[0]!.path;
    assert.deepEqual(p.segments, ['fc00:a::2:0:5a', 'fc00:b::2:0:5a', 'fc00:2::2']);
    assert.deepEqual(p.returnSegments, ['fc00:b::2:0:5a', 'fc00:a::2:0:5a']);
    assert.deepEqual(p.nodes, ['net:fc00:1::/64', 'p1', 'p2', 'net:fc00:2::/64']);
  });
  test('argument from the allow entry (copy 7)', () => {
    const r = q('plain.lab.example', ['copy']);
    assert.ok(r.rcode === 'NOERROR');
    assert.deepEqual(r.routes[0]!.path.segments, ['fc00:a::1:0:7', 'fc00:2::2']);
  });
  test('REFUSED: denied, not allowed, unknown client with functions, outside the zones', () => {
    assert.equal(q('denied.lab.example').rcode, 'REFUSED');
    assert.equal(q('server.lab.example', ['compress']).rcode, 'REFUSED');
    assert.equal(q('plain.lab.example', ['xor'], 'AAAA', 'fc00:9::1').rcode, 'REFUSED');
    assert.equal(q('example.com').rcode, 'REFUSED');
  });
  test('NXDOMAIN, NODATA, A records', () => {
    assert.equal(q('nope.lab.example').rcode, 'NXDOMAIN');
    assert.deepEqual(q('plain.lab.example', [], 'MX'), { rcode: 'NOERROR', a: [], aaaa: [], routes: [] });
    assert.deepEqual(q('v4.lab.example', [], 'A'), { rcode: 'NOERROR', a: ['192.0.2.1'], aaaa: [], routes: [] });
    const r = q('server.lab.example', [], 'A');
    assert.ok(r.rcode === 'NOERROR' && r.a.length === 0, 'functions apply: no IPv4 answer');
  });
  test('unmatched: refuse', () => {
    const strict = new Resolver(parseControllerConfig(`${FIG1_CONTROLLER_YAML}\nunmatched: refuse\n`));
    assert.equal(strict.resolve({ client: 'fc00:9::1', name: 'plain.lab.example', type: 'AAAA', requested: [] }).rcode, 'REFUSED');
    assert.equal(strict.resolve({ client: C, name: 'plain.lab.example', type: 'AAAA', requested: [] }).rcode, 'NOERROR');
  });
  test('no path through the functions: SERVFAIL', () => {
    const cut = parseControllerConfig(FIG1_CONTROLLER_YAML.replace('  - { a: p1, b: p2, cost: 10 }\n', ''));
    const r = new Resolver(cut).resolve({ client: C, name: 'plain.lab.example', type: 'AAAA', requested: ['xor'] });
    assert.equal(r.rcode, 'SERVFAIL');
  });
});

describe('link capacity and latency (options 65002 and 65003)', () => {
  // two replicas of xor: pa on a fast, thin link; pb on a slow, fat one (and cheaper)
  const c = parseControllerConfig(`
nodes:
  proxies:
    - { name: pa, locators: [ { prefix: "fc00:a::/80" } ], functions: { xor: 2 } }
    - { name: pb, locators: [ { prefix: "fc00:b::/80" } ], functions: { xor: 2 } }
  routers: [ r ]
links:
  - { a: "fc00:1::/64", b: r }
  - { a: r, b: pa, cost: 5, capacity: 10, latency: 2 }
  - { a: r, b: pb, cost: 1, capacity: 1000, latency: 40 }
  - { a: pa, b: "fc00:2::/64", latency: 1 }
  - { a: pb, b: "fc00:2::/64", latency: 1 }
zones: { lab.example: { s: fc00:2::2 } }
policies: [ { clients: "fc00:1::/64", require: [ xor ] } ]
`);
  const r = new Resolver(c);
  const first = (x: ReturnType<Resolver['resolve']>): string | undefined => (x.rcode === 'NOERROR' ? x.routes[0]?.path.segments[0] : `${x.rcode}: ${x.reason}`);
  const ask = (extra: object = {}) => r.resolve({ client: C, name: 's.lab.example', type: 'AAAA', requested: [], ...extra });
  test('no constraint: the cheapest (pb); a latency bound: the fastest (pa), if within it', () => {
    assert.equal(first(ask()), 'fc00:b::2:0:0');
    assert.equal(first(ask({ maxLatencyMs: 10 })), 'fc00:a::2:0:0');
    assert.match(first(ask({ maxLatencyMs: 2 }))!, /^SERVFAIL: no path within 2 ms \(the fastest takes 3 ms\)/);
  });
  test('issue 12 #11: the hints enter the path spec (and so the BSID key) as classes, not as the client sent them', () => {
    const specOf = (x: ReturnType<Resolver['resolve']>) => (x.rcode === 'NOERROR' ? x.routes[0]!.spec : undefined);
    const a = specOf(ask({ bandwidthKbps: 40_001, maxLatencyMs: 59 }));
    const b = specOf(ask({ bandwidthKbps: 49_999, maxLatencyMs: 51 }));
    assert.deepEqual([a?.bandwidthKbps, a?.maxLatencyMs], [50_000, 50]);
    assert.deepEqual(a, b);
  });
  test('a bandwidth request skips links below it', () => {
    assert.equal(first(ask({ bandwidthKbps: 50_000, maxLatencyMs: 100 })), 'fc00:b::2:0:0', 'pa’s 10 Mbit/s link is too thin');
    assert.match(first(ask({ bandwidthKbps: 5_000_000 }))!, /^SERVFAIL: .*at least 5000000 kbit\/s/);
  });
});
