import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { parseAddress, parsePrefix, prefixContains } from '../net/ip6.js';
import { labOfNamespace, namespaceName, planLab } from './plan.js';
import { builtinTopologies, loadTopology, parseTopology } from './load.js';
import { hostAddress, hostAddresses, type Topology } from './topology.js';

const BASE = `
name: t
hosts:
  c: { routes: [ { to: default, via: "fc00:1::1" } ] }
  r: { role: router }
links:
  - { a: [c, "fc00:1::2/64"], b: [r, "fc00:1::1/64"] }
`;

/** Expects TOPOLOGY_INVALID whose message contains every fragment. */
function rejects(text: string, ...fragments: string[]): void {
  assert.throws(
    () => parseTopology(text, 'x.yaml'),
    (e: unknown) => {
      assert.ok(isSrError(e, 'TOPOLOGY_INVALID'), `not TOPOLOGY_INVALID: ${String(e)}`);
      for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
      return true;
    },
  );
}

describe('topology schema', () => {
  test('a minimal topology resolves interfaces, addresses and routes', () => {
    const t = parseTopology(BASE);
    assert.deepEqual(Object.keys(t.hosts), ['c', 'r']);
    assert.equal(t.hosts['c']!.role, 'host');
    assert.deepEqual(t.hosts['c']!.interfaces[0], {
      name: 'eth0',
      link: 0,
      address: 'fc00:1::2',
      prefixLength: 64,
      peer: { host: 'r', iface: 'eth0', address: 'fc00:1::1' },
    });
    assert.deepEqual(t.hosts['c']!.routes, [{ to: 'default', via: 'fc00:1::1' }]);
    assert.equal(t.links[0]!.net, 'fc00:1::/64');
  });

  test('errors name the field', () => {
    rejects(BASE.replace('via: "fc00:1::1"', 'via: "fc00:1::zz"'), 'x.yaml: hosts.c.routes[0].via: not an IPv6 address');
    rejects(BASE.replace('role: router', 'role: switch'), 'hosts.r.role');
    rejects(BASE.replace('role: router', 'role: router, colour: red'), 'hosts.r', 'colour');
    rejects(BASE.replace('name: t', 'name: Bad_Name'), 'name: a lab name');
    rejects(BASE.replace('name: t', ''), 'name:');
    rejects(BASE.replace('{ a: [c,', '{ mtu: 100, a: [c,'), 'links[0].mtu');
    rejects(BASE.replace('{ a: [c,', '{ rate: fast, a: [c,'), 'links[0].rate', '1gbit');
    rejects(BASE.replace('[c, "fc00:1::2/64"]', '[c, "fc00:1::2/64", 3]'), 'links[0].a');
    rejects('name: t\nhosts: {}\nlinks: []\n', 'hosts');
    rejects('name: [unclosed', 'not YAML');
    // issue 15: the key probably meant, and a prefix with host bits
    rejects(BASE.replace('role: router', 'rol: router'), 'x.yaml: hosts.r.rol: unknown key: did you mean `role`?');
  });

  test('unknown hosts in links are rejected', () => {
    rejects(BASE.replace('b: [r,', 'b: [nobody,'), 'links[0].b: unknown host "nobody"', 'hosts: c, r');
    rejects(BASE.replace('b: [r,', 'b: [c,'), 'links[0].b', 'two different hosts');
  });

  test('host names that are Object.prototype members are plain unknown or bad names (no TypeError)', () => {
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      rejects(`name: t\nhosts:\n  a: {}\n  b: {}\nlinks:\n  - { a: ${name}, b: b, net: "fc00:1::/64" }\n`, 'links[0].a', `unknown host "${name}"`);
      if (name !== 'constructor') rejects(`name: t\nhosts:\n  ${name}: {}\n  b: {}\nlinks:\n  - { a: b, b: ${name}, net: "fc00:1::/64" }\n`, `hosts.${name}`);
    }
    // a lower-case member name is a valid host name and works as one
    const t = parseTopology('name: t\nhosts:\n  constructor: {}\n  b: {}\nlinks:\n  - { a: constructor, b: b, net: "fc00:1::/64" }\n', 'x.yaml');
    assert.equal(hostAddress(t, 'constructor'), 'fc00:1::1');
  });

  test('bad addresses are rejected', () => {
    rejects(BASE.replace('"fc00:1::2/64"', '"fc00:1::2/200"'), 'links[0].a[1]', 'prefix length');
    rejects(BASE.replace('"fc00:1::2/64"', '"fc00:1::2"'), 'links[0].a[1]', 'needs a /length');
    rejects(BASE.replace('"fc00:1::2/64"', '"2001:4860::2/64"'), 'links[0].a[1]', 'ULA');
    rejects(BASE.replace('"fc00:1::2/64"', '"fc00:1::1/64"'), 'links[0].b[1]', 'already used by c eth0');
    rejects(BASE.replace('"fc00:1::2/64"', '"fc00:9::2/64"'), 'links[0].b', 'not in the subnet');
    rejects(BASE.replace('r: { role: router }', 'r: { locators: ["8.8.8.0/24"] }'), 'hosts.r.locators[0]', 'not an IPv6 prefix');
    rejects(BASE.replace('r: { role: router }', 'r: { locators: ["fc00:1::/80"] }'), 'hosts.r.locators[0]', 'overlaps the subnet of links[0]');
  });

  test('routes must go through a connected neighbour', () => {
    rejects(BASE.replace('via: "fc00:1::1"', 'via: "fc00:99::1"'), 'hosts.c.routes[0].via', "not on any of c's links (fc00:1::/64)");
    rejects(BASE.replace('via: "fc00:1::1"', 'via: "fc00:1::2"'), 'hosts.c.routes[0].via', 'own address');
    rejects(BASE.replace('to: default', 'to: "fc00:2::1/64"'), 'hosts.c.routes[0].to', 'host bits', 'fc00:2::/64');
    rejects(BASE.replace('to: default', 'to: "2001:4860::/32"'), 'hosts.c.routes[0].to');
    rejects(BASE.replace('via: "fc00:1::1" }', 'via: "fc00:1::1" }, { to: default, via: "fc00:1::1" }'), 'routes[1].to', 'second route');
  });

  test('host names: no "-", no unlinked hosts', () => {
    rejects(BASE.replaceAll('r:', 'r-1:').replace('[r,', '[r-1,'), 'hosts.r-1', 'bad host name');
    rejects(BASE.replace('r: { role: router }', 'r: { role: router }\n  lonely: {}'), 'hosts.lonely: is not on any link');
  });

  test('a bare host takes net::1 (a) or net::2 (b); interfaces are numbered in link order', () => {
    const t = parseTopology(`
name: auto
hosts: { x: , y: , z: }
links:
  - { a: y, b: x, net: "2001:db8:1::/64", mtu: 9000, rate: 100mbit }
  - { a: y, b: z, net: "fc00:5::/126" }
`);
    assert.deepEqual(hostAddresses(t, 'y'), ['2001:db8:1::1', 'fc00:5::1']);
    assert.equal(hostAddress(t, 'x'), '2001:db8:1::2');
    assert.deepEqual(t.hosts['y']!.interfaces.map((i) => `${i.name}→${i.peer.host}.${i.peer.iface}`), ['eth0→x.eth0', 'eth1→z.eth0']);
    const plan = planLab('auto', t).find((p) => p.host === 'y')!;
    assert.deepEqual(plan.veths, [
      'link add eth0 mtu 9000 type veth peer name eth0 mtu 9000 netns s6p-auto-x',
      'link add eth1 type veth peer name eth0 netns s6p-auto-z',
    ]);
    assert.match(plan.qdiscs[0]!, /^qdisc replace dev eth0 root tbf rate 100mbit burst 125000 latency 50ms$/);
    rejects('name: a\nhosts: { x: , y: }\nlinks: [ { a: x, b: y } ]', 'links[0].net: needed');
  });

  test('hostAddress of an unknown host is LAB_UNKNOWN_HOST', () => {
    assert.throws(() => hostAddress(parseTopology(BASE), 'nope'), (e: unknown) => isSrError(e, 'LAB_UNKNOWN_HOST'));
  });

  test('namespace names map back to their lab', () => {
    assert.equal(namespaceName('t1', 'client'), 's6p-t1-client');
    assert.equal(labOfNamespace('s6p-t1-client'), 't1');
    assert.equal(labOfNamespace('s6p-t1-x-client'), 't1-x');
    assert.equal(labOfNamespace('other-ns'), undefined);
    assert.equal(labOfNamespace('s6p-x'), undefined);
  });
});

/** Follows routes hop by hop from a host to an address; returns the hosts visited. */
function trace(t: Topology, from: string, dest: string): string[] {
  const d = parseAddress(dest);
  const path = [from];
  let at = from;
  for (let hops = 0; hops < 16; hops++) {
    const h = t.hosts[at]!;
    if (h.interfaces.some((i) => i.address === dest) || h.locators.some((l) => prefixContains(parsePrefix(l), d))) return path;
    const onLink = h.interfaces.find((i) => prefixContains(parsePrefix(t.links[i.link]!.net), d));
    let next: string | undefined;
    if (onLink) next = onLink.peer.address === dest ? onLink.peer.host : undefined;
    else {
      const routes = h.routes
        .map((r) => ({ p: parsePrefix(r.to === 'default' ? '::/0' : r.to), via: r.via }))
        .filter((r) => prefixContains(r.p, d))
        .sort((a, b) => b.p.length - a.p.length);
      const via = routes[0]?.via;
      next = h.interfaces.find((i) => i.peer.address === via)?.peer.host;
    }
    if (!next) throw new Error(`${dest} unreachable from ${from}: stuck at ${path.join(' → ')}`);
    path.push(next);
    at = next;
  }
  throw new Error(`routing loop from ${from} to ${dest}: ${path.join(' → ')}`);
}

describe('built-in topologies', () => {
  test('fig1, fig5, chain3 and access are built in and parse', () => {
    const names = builtinTopologies().map((b) => b.name);
    for (const n of ['access', 'chain3', 'fig1', 'fig5']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    assert.deepEqual(names, [...names].sort());
    for (const b of builtinTopologies()) assert.ok(b.description.length > 0);
  });

  test('access: p1a carries both directions while it lives (the backup routes have higher metrics)', () => {
    const t = loadTopology('access');
    const lowest = (h: string): void => {
      t.hosts[h]!.routes.sort((a, b) => (a.metric ?? 1024) - (b.metric ?? 1024));
    };
    for (const h of Object.keys(t.hosts)) lowest(h);
    assert.deepEqual(trace(t, 'client', 'fc00:2::2'), ['client', 'ar', 'p1a', 'p2', 'server']);
    assert.deepEqual(trace(t, 'server', 'fc00:1::2'), ['server', 'p2', 'p1a', 'ar', 'client']);
    assert.deepEqual(trace(t, 'p1b', 'fc00:c::2:0:0'), ['p1b', 'p2']);
    assert.ok(t.hosts['ar']!.routes.some((r) => r.to === 'fc00:2::/64' && r.via === 'fc00:12::2' && r.metric === 2048));
  });

  test('fig1 has exactly the documented addresses and locators', () => {
    const t = loadTopology('fig1');
    const ifs = Object.values(t.hosts).flatMap((h) => h.interfaces.map((i) => `${h.name} ${i.name} ${i.address}/${i.prefixLength}`));
    assert.deepEqual(ifs, [
      'client eth0 fc00:1::2/64',
      'p1 eth0 fc00:1::1/64',
      'p1 eth1 fc00:12::1/64',
      'p2 eth0 fc00:12::2/64',
      'p2 eth1 fc00:2::1/64',
      'server eth0 fc00:2::2/64',
    ]);
    assert.deepEqual(t.hosts['p1']!.locators, ['fc00:a::/80']);
    assert.deepEqual(t.hosts['p2']!.locators, ['fc00:b::/80']);
    assert.deepEqual(t.hosts['client']!.routes, [{ to: 'default', via: 'fc00:1::1' }]);
    assert.equal(t.hosts['p1']!.role, 'proxy');
  });

  test('fig5 has exactly the documented addresses', () => {
    const t = loadTopology('fig5');
    assert.deepEqual(hostAddresses(t, 'm1'), ['fc00:1::1', 'fc00:2::1']);
    assert.equal(hostAddress(t, 'client'), 'fc00:1::2');
    assert.equal(hostAddress(t, 'server'), 'fc00:2::2');
    assert.deepEqual(t.hosts['m1']!.locators, ['fc00:a::/80']);
  });

  test('the proxies are on the path, both ways', () => {
    const f1 = loadTopology('fig1');
    assert.deepEqual(trace(f1, 'client', 'fc00:2::2'), ['client', 'p1', 'p2', 'server']);
    assert.deepEqual(trace(f1, 'server', 'fc00:1::2'), ['server', 'p2', 'p1', 'client']);
    const c3 = loadTopology('chain3');
    assert.deepEqual(trace(c3, 'client', 'fc00:2::2'), ['client', 'p1', 'p2', 'p3', 'server']);
    assert.deepEqual(trace(c3, 'server', 'fc00:1::2'), ['server', 'p3', 'p2', 'p1', 'client']);
  });

  test('in every built-in, every host reaches every address and locator', () => {
    for (const b of builtinTopologies()) {
      const t = loadTopology(b.name);
      for (const from of Object.keys(t.hosts)) {
        for (const to of Object.values(t.hosts)) {
          const targets = [...to.interfaces.map((i) => i.address), ...to.locators.map((l) => l.replace('::/80', '::1:0:0'))];
          for (const dest of targets) assert.equal(trace(t, from, dest).at(-1), to.name, `${b.name}: ${from} → ${dest}`);
        }
      }
    }
  });

  test('an unknown built-in name lists the built-ins', () => {
    assert.throws(() => loadTopology('fig9'), /no built-in topology "fig9" \(built-in: .*chain3, etcd, fig1, fig5.*\)/);
    assert.throws(() => loadTopology('./nope.yaml'), /cannot read/);
  });
});

describe('emulated links: delay and loss', () => {
  const T = `
name: t
hosts:
  c: { routes: [ { to: default, via: "fc00:1::1" } ] }
  r: { role: router }
  s: { routes: [ { to: default, via: "fc00:2::1" } ] }
links:
  - { a: [c, "fc00:1::2/64"], b: [r, "fc00:1::1/64"], loss: 1.5% }
  - { a: [r, "fc00:2::1/64"], b: [s, "fc00:2::2/64"], delay: 25ms, loss: 2%, mtu: 9000 }
`;
  test('a delayed link gets a middle namespace with the emulator; lossy ends get netdev loss chains', () => {
    const t = parseTopology(T, 'x.yaml');
    assert.equal(t.links[1]!.delay, '25ms');
    assert.equal(t.links[0]!.loss, '1.5%');
    const plans = planLab('l', t);
    assert.deepEqual(plans.map((p) => p.host), ['c', 'r', 's', '_l1']);
    const mid = plans.find((p) => p.host === '_l1')!;
    assert.equal(mid.ns, 's6p-l-_l1');
    assert.equal(labOfNamespace(mid.ns), 'l');
    assert.deepEqual(mid.emulator, { link: 1, delayUs: 25000, mtu: 9000 });
    assert.deepEqual(mid.veths, ['link add name lb mtu 9000 type veth peer name eth0 mtu 9000 netns s6p-l-s']);
    const r = plans.find((p) => p.host === 'r')!;
    assert.deepEqual(r.veths, ['link add eth1 mtu 9000 type veth peer name la mtu 9000 netns s6p-l-_l1']);
    assert.ok(r.interfaces.includes('link set eth0 gso_max_segs 1') && r.interfaces.includes('link set eth1 gso_max_segs 1'));
    assert.match(r.nft!, /chain in_eth0 \{[^}]*numgen random mod 10000 < 150 counter drop/);
    assert.match(r.nft!, /chain in_eth1 \{[^}]*numgen random mod 10000 < 200 counter drop/);
    const c = plans.find((p) => p.host === 'c')!;
    assert.deepEqual(c.veths, ['link add eth0 type veth peer name eth0 netns s6p-l-r']);
    assert.equal(c.emulator, undefined);
  });
  test('plain links plan exactly as before (no gso change, no nft, no middle namespace)', () => {
    const plans = planLab('l', parseTopology(BASE, 'x.yaml'));
    assert.equal(plans.length, 2);
    for (const p of plans) {
      assert.equal(p.nft, undefined);
      assert.equal(p.emulator, undefined);
      assert.ok(!p.interfaces.some((l) => l.includes('gso_max_segs')));
    }
  });
  test('kernelDefaults: the lab sets no sysctl on that host (seg6_enabled stays 0), the others get theirs; only for role host', () => {
    const t = parseTopology(BASE.replace('c: { routes', 'c: { kernelDefaults: true, sysctls: { net.ipv6.conf.all.seg6_require_hmac: 0 }, routes'), 'x.yaml');
    const [c, r] = planLab('l', t);
    assert.deepEqual(c!.sysctls, []);
    assert.deepEqual(c!.extraSysctls, ['net.ipv6.conf.all.seg6_require_hmac=0'], 'the host’s own sysctls still apply');
    assert.ok(r!.sysctls.includes('net.ipv6.conf.all.seg6_enabled=1'));
    assert.ok(planLab('l', parseTopology(BASE, 'x.yaml'))[0]!.sysctls.includes('net.ipv6.conf.default.seg6_enabled=1'), 'the default: SRHs accepted');
    rejects(BASE.replace('r: { role: router }', 'r: { role: router, kernelDefaults: true }'), 'hosts.r.kernelDefaults', 'role host only');
    const off = loadTopology('offpath');
    assert.equal(off.hosts['stock']!.kernelDefaults, true);
    assert.deepEqual(planLab('l', off).find((p) => p.host === 'stock')!.sysctls, []);
  });
  test('bad delay and loss values name the field', () => {
    rejects(BASE.replace('"fc00:1::1/64"] }', '"fc00:1::1/64"], delay: 5 }'), 'links[0].delay');
    rejects(BASE.replace('"fc00:1::1/64"] }', '"fc00:1::1/64"], delay: 11s }'), 'links[0].delay', 'at most 10s');
    rejects(BASE.replace('"fc00:1::1/64"] }', '"fc00:1::1/64"], loss: 0.001% }'), 'links[0].loss');
    rejects(BASE.replace('"fc00:1::1/64"] }', '"fc00:1::1/64"], loss: 101% }'), 'links[0].loss', '100%');
  });
});
