/**
 * Controllers as a replicated set on etcd (issue 16, first increment), in the `etcd` lab: a real
 * three-member etcd cluster (Debian's etcd-server) on e1, e2, e3, two controllers (ctl, ctl2) with
 * `store: { etcd }`, the access-router agent on ar. The clients are addresses added to `client`,
 * picked so that their keys want the same BSID (a /120 BSID prefix): two controllers that did not
 * share their allocations would hand that BSID out twice — every test below then fails.
 *   (a) two controllers answer the same client with the same BSID, and never one BSID to two clients;
 *   (b) racing first queries on both controllers end with one BSID and one route;
 *   (c) a restarted controller answers from the store, also for a BSID another instance bound later;
 *   (d) the etcd leader stops: allocations resume, consistently, once the other two elect one;
 *   (e) two of three members stop: cached clients keep their BSID, new ones get SERVFAIL, then recover;
 * and an unreachable etcd at start: one error line, exit 2.
 * One lab and one cluster serve every test (etcdLabPerSuite: members a test stopped are back before
 * the next); each test starts its own agent and controllers, on a key prefix of its own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { readExample } from '../../src/config/examples.js';
import { parseControllerConfig } from '../../src/controller/config.js';
import { Resolver } from '../../src/controller/resolver.js';
import { bindingKey } from '../../src/controller/binding.js';
import { preferredBsid } from '../../src/controller/bsid/manager.js';
import { arpaName } from '../../src/dns/records.js';
import { formatAddress, parsePrefix } from '../../src/net/ip6.js';
import { BIN, startDaemon, writeConfig, type DaemonHandle } from '../helpers/harness.js';
import { bsidOf, bsidRoutes, ENDPOINTS, etcdLabPerSuite, HAS_ETCD, leader, untilHealthy, type Cluster } from '../helpers/etcd.js';

const CTL = { ctl: 'fc00:9::2', ctl2: 'fc00:8::2' } as const;
const BSID_PREFIX = 'fc00:f::/120';

/** The example's access controller on a /120 BSID prefix, without health checks (no proxies run here), on the etcd cluster under `prefix`. */
function controllerYaml(prefix = '/srv6pipes-test', endpoints = ENDPOINTS, extra = ''): string {
  const yaml = readExample('controller-access.yaml')
    .replace('bsidPrefix: "fc00:f::/64"', `bsidPrefix: "${BSID_PREFIX}"`)
    .replace(/^\s+health: \{ address:.*\n/gm, '')
    .replace('bindingSids: { lifetime: 120s }', 'bindingSids: { lifetime: 120s, lookupFrom: ["fc00:11::/64"], rate: { perSecond: 1000, burst: 1000 } }');
  assert.ok(yaml.includes(BSID_PREFIX) && yaml.includes('lookupFrom') && !/health: \{ address/.test(yaml), 'the example has the expected lines');
  return `${yaml}\nstore: { etcd: { endpoints: [${endpoints.map((e) => `"${e}"`).join(', ')}], prefix: "${prefix}"${extra} } }\n`;
}

/** Client addresses whose keys (for server.lab.example) want the same BSID: `groups` groups of `size`. */
function clashingClients(configText: string, groups: number, size: number): string[][] {
  const cfg = parseControllerConfig(configText);
  const resolver = new Resolver(cfg);
  const prefix = parsePrefix(BSID_PREFIX);
  const bySlot = new Map<string, string[]>();
  for (let i = 0x10; i < 0x4000; i++) {
    const client = formatAddress(Buffer.from(`fc000001000000000000000000${i.toString(16).padStart(6, '0')}`, 'hex'));
    const res = resolver.resolve({ client, name: 'server.lab.example', type: 'AAAA', requested: [] });
    assert.equal(res.rcode, 'NOERROR', 'reason' in res ? res.reason : '');
    if (res.rcode !== 'NOERROR') continue;
    const slot = preferredBsid(prefix, bindingKey(client, res.routes[0]!));
    const list = bySlot.get(slot) ?? [];
    list.push(client);
    bySlot.set(slot, list);
  }
  const out = [...bySlot.values()].filter((l) => l.length >= size).slice(0, groups).map((l) => l.slice(0, size));
  assert.equal(out.length, groups);
  return out;
}

async function dig(lab: Lab, from: string, ctl: keyof typeof CTL, ...args: string[]): Promise<string> {
  const host = from.startsWith('fc00:1::') ? 'client' : 'p1a';
  const r = await lab.exec(host, ['dig', `@${CTL[ctl]}`, '-b', from, '+time=5', '+tries=1', ...args], { timeoutMs: 20_000 });
  return r.stdout + r.stderr;
}

const ask = async (lab: Lab, client: string, ctl: keyof typeof CTL): Promise<string> => bsidOf(await dig(lab, client, ctl, 'AAAA', 'server.lab.example'));

interface Setup {
  ar: DaemonHandle;
  ctls: Partial<Record<keyof typeof CTL, DaemonHandle>>;
  config: string;
  start(name: keyof typeof CTL): Promise<DaemonHandle>;
}

/** The agent on ar (a fresh one: no BSID route yet) and the controllers' config on a key prefix of this test's own. */
async function setUp(lab: Lab, prefix: string): Promise<Setup> {
  const config = writeConfig(controllerYaml(prefix));
  const tokenFile = join(dirname(config), 'ar.token');
  writeFileSync(tokenFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  assert.equal((await bsidRoutes(lab)).size, 0, 'no BSID route left on ar by an earlier test');
  const ar = await startDaemon(lab, 'ar', ['access-router', '--bsid-prefix', BSID_PREFIX, '--listen', '[fc00:9::1]:7780', '--client-interface', 'eth0', '--token-file', tokenFile], 'access-router agent started');
  const s: Setup = {
    ar,
    ctls: {},
    config,
    start: async (name) => (s.ctls[name] = await startDaemon(lab, name, ['controller', '--config', config], 'controller started')),
  };
  return s;
}

/** Stops the controllers and the agent (which removes its routes). */
async function tearDown(s: Setup): Promise<void> {
  for (const c of Object.values(s.ctls)) await c.stop();
  await s.ar.stop();
}

/** Clashing client pairs (see clashingClients), added to `client` once for every test. */
type Pair = [string, string];
const PAIRS = clashingClients(controllerYaml(), 3, 2) as [Pair, Pair, Pair];

describe('controllers on etcd (etcd lab: three etcd members, two controllers, one access router)', { skip: HAS_ETCD ? false : 'etcd-server is not installed (apt-get install etcd-server)' }, () => {
  const suite = etcdLabPerSuite(async (lab) => {
    for (const c of PAIRS.flat()) await lab.exec('client', ['ip', '-6', 'addr', 'add', `${c}/64`, 'dev', 'eth0', 'nodad']);
  });

  /** The agent and both controllers on this test's prefix; `fn` gets the clashing pairs. */
  async function withControllers(fn: (lab: Lab, s: Setup, pairs: [Pair, Pair, Pair], etcd: Cluster) => Promise<void>): Promise<void> {
    const { lab, etcd } = suite;
    const s = await setUp(lab, suite.prefix('/srv6pipes-test'));
    try {
      await s.start('ctl');
      await s.start('ctl2');
      await fn(lab, s, PAIRS, etcd);
    } finally {
      await tearDown(s);
    }
  }

  test('(a) the same client gets the same BSID from both controllers, and two clients never one BSID', async () => {
    await withControllers(async (lab, _s, [[c1, c2]]) => {
      // c1 and c2 want the same BSID; c1 takes it through ctl, c2 asks ctl2: another one
      const b1 = await ask(lab, c1, 'ctl');
      const b2 = await ask(lab, c2, 'ctl2');
      assert.notEqual(b2, b1, 'ctl2 knows that ctl gave that BSID to c1');
      assert.equal(await ask(lab, c2, 'ctl'), b2, 'c2 gets its BSID from ctl too');
      assert.equal(await ask(lab, c1, 'ctl2'), b1, 'c1 gets its BSID from ctl2 too');
      const routes = await bsidRoutes(lab);
      assert.deepEqual([routes.get(b1), routes.get(b2), routes.size], [1, 1, 2], JSON.stringify([...routes]));
    });
  });

  test('(b) racing first queries on both controllers end with one BSID and one route', async () => {
    await withControllers(async (lab, _s, [, [c3, c4]]) => {
      // c4 holds the BSID c3 wants (through ctl); c3's first queries race on both controllers
      const b4 = await ask(lab, c4, 'ctl');
      const [x, y] = await Promise.all([ask(lab, c3, 'ctl'), ask(lab, c3, 'ctl2')]);
      assert.equal(x, y, 'one BSID for c3 from both');
      assert.notEqual(x, b4);
      const routes = await bsidRoutes(lab);
      assert.deepEqual([routes.get(b4), routes.get(x), routes.size], [1, 1, 2], JSON.stringify([...routes]));
    });
  });

  test('(c) a restarted controller answers from the store, also for BSIDs the other bound after its restart', async () => {
    await withControllers(async (lab, s, [[c1], , [c5, c6]]) => {
      const b1 = await ask(lab, c1, 'ctl2');
      await s.ctls.ctl!.stop();
      await s.start('ctl');
      assert.equal(await ask(lab, c1, 'ctl'), b1);
      // c5 bound through ctl2 now: ctl answers a proxy's lookup of it, and gives c5's neighbour c6 another BSID
      const b5 = await ask(lab, c5, 'ctl2');
      const lookup = await dig(lab, 'fc00:11::2', 'ctl', 'TYPE65281', arpaName(b5));
      assert.match(lookup, /status: NOERROR/, `ctl knows ${b5}, bound by ctl2 after ctl's restart:\n${lookup}`);
      const b6 = await ask(lab, c6, 'ctl');
      assert.notEqual(b6, b5);
      assert.equal(await ask(lab, c6, 'ctl2'), b6);
      assert.equal((await bsidRoutes(lab)).size, 3, 'three clients, three BSID routes');
    });
  });

  test('(d) the etcd leader stops: once the other two elect one, both controllers allocate again, consistently', async () => {
    await withControllers(async (lab, _s, [[c1, c2], [c3]], etcd) => {
      const b1 = await ask(lab, c1, 'ctl');
      const lead = await leader(lab);
      await etcd.stopMember(lead);
      await untilHealthy(lab, ENDPOINTS.filter((_, i) => i !== lead), 30_000);
      // c2 wants c1's BSID: ctl2 still sees it taken; c3 is new; both answer alike
      const b2 = await ask(lab, c2, 'ctl2');
      assert.notEqual(b2, b1);
      assert.equal(await ask(lab, c2, 'ctl'), b2);
      const b3 = await ask(lab, c3, 'ctl');
      assert.equal(await ask(lab, c3, 'ctl2'), b3);
      assert.equal((await bsidRoutes(lab)).size, 3);
    });
  });

  test('(e) two of three members stop: a client a controller knows keeps its BSID, a new one gets SERVFAIL (logged); members back: allocations resume', async () => {
    await withControllers(async (lab, s, [[c1], [c3]], etcd) => {
      const b1 = await ask(lab, c1, 'ctl');
      await etcd.stopMember(0);
      await etcd.stopMember(1);
      assert.equal(await ask(lab, c1, 'ctl'), b1, 'known to ctl: answered from its copy');
      const out = await dig(lab, c3, 'ctl', 'AAAA', 'server.lab.example');
      assert.match(out, /status: SERVFAIL/, out);
      await s.ctls.ctl!.out.next((l) => /STORE_UNAVAILABLE|etcd/.test(JSON.stringify(l)) && /binding SID/.test(JSON.stringify(l)), 10_000, 'a log line naming the store');
      etcd.startMember(0);
      etcd.startMember(1);
      await untilHealthy(lab, ENDPOINTS, 60_000);
      const b3 = await ask(lab, c3, 'ctl');
      assert.equal(await ask(lab, c3, 'ctl2'), b3);
      assert.notEqual(b3, b1);
    });
  });

  test('startDegraded: a controller starts without etcd, new clients get SERVFAIL, and once etcd is up it loads the store and binds', async () => {
    const { lab, etcd } = suite;
    const [[c1, c2]] = PAIRS;
    const prefix = suite.prefix('/srv6pipes-test');
    const s = await setUp(lab, prefix);
    try {
      // every member stopped (the next test's beforeEach would start them again, were this test to fail)
      for (const i of ENDPOINTS.keys()) await etcd.stopMember(i);
      const config = writeConfig(controllerYaml(prefix, ENDPOINTS, ', startDegraded: true'));
      writeFileSync(join(dirname(config), 'ar.token'), readFileSync(join(dirname(s.config), 'ar.token')), { mode: 0o600 });
      const ctl = (s.ctls.ctl = await startDaemon(lab, 'ctl', ['controller', '--config', config], 'controller started'));
      await ctl.out.next((l) => /starting degraded/.test(JSON.stringify(l)), 10_000, 'the degraded-start line');
      const out = await dig(lab, c1, 'ctl', 'AAAA', 'server.lab.example');
      assert.match(out, /status: SERVFAIL/, out);
      for (const i of ENDPOINTS.keys()) etcd.startMember(i);
      await untilHealthy(lab, ENDPOINTS, 60_000);
      await ctl.out.next((l) => /binding SIDs loaded from the store/.test(JSON.stringify(l)), 30_000, 'the store loaded once etcd answers');
      // c2 binds through a normal controller first: the degraded one, now on the store, sees it taken
      await s.start('ctl2');
      const b2 = await ask(lab, c2, 'ctl2');
      const b1 = await ask(lab, c1, 'ctl');
      assert.notEqual(b1, b2);
      assert.equal(await ask(lab, c2, 'ctl'), b2);
    } finally {
      await tearDown(s);
    }
  });

  test('etcd unreachable at start: one error line (STORE_UNAVAILABLE), exit 2', async () => {
    // the members run, but nothing listens on these ports
    const config = writeConfig(controllerYaml(suite.prefix('/srv6pipes-test'), ['http://[fc00:31::2]:2399', 'http://[fc00:32::2]:2399']));
    writeFileSync(join(dirname(config), 'ar.token'), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    const r = await suite.lab.exec('ctl2', [process.execPath, BIN, 'controller', '--config', config], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[0]!, /^srv6pipes: the BSID store \(etcd at http:\/\/\[fc00:31::2\]:2399, http:\/\/\[fc00:32::2\]:2399\) is unreachable: .* \[STORE_UNAVAILABLE\]$/);
    assert.match(lines[1] ?? '', /^\s+hint: is etcd running/);
    assert.equal(lines.length, 2, r.stderr);
  });
});
