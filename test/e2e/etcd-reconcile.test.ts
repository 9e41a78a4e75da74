/**
 * Access routers that reconcile (issue 16), in the `etcd` lab: a three-member etcd cluster, two
 * controllers (ctl, ctl2) on it, the agents on ar and ar2 both with `store: { etcd }` (ar2's config
 * is examples/access-router-etcd.yaml), clients of ar2 are addresses on client2 (fc00:4::/64).
 *   (i) a route removed behind the store's back (through ar2's API) comes back at the resync; a
 *       restarted agent (which removed its routes when it stopped) has them again before any query;
 *  (ii) ar2 cut off from etcd (prohibit routes inside ar2 only) keeps every route, says so once;
 *       meanwhile a binding is withdrawn (its lease revoked) and another bound; back, ar2 catches
 *       up: the withdrawn BSID's route goes, the others stay;
 * (iii) a corrupt value under `<prefix>/route/ar2/` is logged, counted (metrics) and skipped;
 *  (iv) a controller running on ar2 with a `local` agent and the store acts for it: restarted (its
 *       agent removed the routes when it stopped), it has them again before it answers.
 * Without the reconciler each of them fails: nothing brings a route back or removes a withdrawn one.
 * One lab and one cluster serve every test (etcdLabPerSuite); each test starts its own agents and
 * controllers, on a key prefix of its own, and removes what it added to the hosts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { readExample } from '../../src/config/examples.js';
import { startDaemon, writeConfig, type DaemonHandle } from '../helpers/harness.js';
import { AR2, bsidOf, bsidRoutes, etcdControllerYaml, etcdctl, etcdLabPerSuite, HAS_ETCD, leaseOf, MEMBERS, type EtcdSuite } from '../helpers/etcd.js';

const AR_PREFIX = 'fc00:f::/120';
const CTL = { ctl: 'fc00:9::2', ctl2: 'fc00:8::2' } as const;
/** client2's addresses: ar2's clients */
const C = ['fc00:4::10', 'fc00:4::11', 'fc00:4::12', 'fc00:4::13', 'fc00:4::14'] as const;

interface Setup {
  /** this test's key prefix */
  prefix: string;
  dir: string;
  token2: string;
  agents: Partial<Record<'ar' | 'ar2', DaemonHandle>>;
  ctls: DaemonHandle[];
  startAr2(): Promise<DaemonHandle>;
}

/** ar2's agent config: the example, on this lab's prefixes (the key prefix `prefix`) and brisk timings. */
function ar2Yaml(prefix: string): string {
  const yaml = readExample('access-router-etcd.yaml')
    .replace('bsidPrefix: "fc00:e::/64"', `bsidPrefix: "${AR2.bsidPrefix}"`)
    .replace('prefix: /srv6pipes', `prefix: ${prefix}`)
    .replace('timeout: 2s', 'timeout: 1s')
    .replace('resync: 60s', 'resync: 2s')
    .replace('probe: 5s', 'probe: 1s');
  assert.ok(yaml.includes(AR2.bsidPrefix) && yaml.includes(`prefix: ${prefix}\n`) && yaml.includes('resync: 2s') && yaml.includes('probe: 1s') && yaml.includes(AR2.listen), 'the example has the expected lines');
  return yaml;
}

function arYaml(prefix: string): string {
  return `name: ar\nbsidPrefix: "${AR_PREFIX}"\nlisten: "[fc00:9::1]:7780"\ntokenFile: ar.token\nclientInterfaces: [ eth0 ]\nstore: { etcd: { endpoints: [${MEMBERS.map((m) => `"http://[${m.addr}]:2379"`).join(', ')}], prefix: ${prefix} } }\nreconcile: { resync: 2s, probe: 1s }\n`;
}

/** Neither access router holds a BSID route: none left by an earlier test. */
async function noRoutes(lab: Lab): Promise<void> {
  for (const r of ['ar', 'ar2']) assert.equal((await bsidRoutes(lab, r)).size, 0, `no BSID route left on ${r} by an earlier test`);
}

/** Both agents and both controllers, on a key prefix of this test's own; stopped after `fn`. */
async function withSetup(suite: EtcdSuite, fn: (lab: Lab, s: Setup) => Promise<void>): Promise<void> {
  const lab = suite.lab;
  const s: Setup = { prefix: suite.prefix('/srv6pipes-rec'), dir: '', token2: randomBytes(32).toString('hex'), agents: {}, ctls: [], startAr2: async () => (s.agents.ar2 = await startDaemon(lab, 'ar2', ['access-router', '--config', join(s.dir, 'ar2.yaml')], 'access-router agent started')) };
  try {
    await noRoutes(lab);
    const config = writeConfig(etcdControllerYaml({ arPrefix: AR_PREFIX, lifetime: '120s', prefix: s.prefix }, readExample));
    s.dir = dirname(config);
    writeFileSync(join(s.dir, 'ar.token'), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    writeFileSync(join(s.dir, 'ar2.token'), `${s.token2}\n`, { mode: 0o600 });
    writeFileSync(join(s.dir, 'ar.yaml'), arYaml(s.prefix));
    writeFileSync(join(s.dir, 'ar2.yaml'), ar2Yaml(s.prefix));
    s.agents.ar = await startDaemon(lab, 'ar', ['access-router', '--config', join(s.dir, 'ar.yaml')], 'access-router agent started');
    await s.startAr2();
    for (const name of ['ctl', 'ctl2'] as const) s.ctls.push(await startDaemon(lab, name, ['controller', '--config', config], 'controller started'));
    await fn(lab, s);
  } finally {
    for (const d of [...s.ctls, ...Object.values(s.agents)]) await d.stop();
  }
}

/** client2's address `from` asks controller `ctl` for server.lab.example: the BSID (on ar2). */
async function ask(lab: Lab, from: string, ctl: keyof typeof CTL = 'ctl'): Promise<string> {
  const r = await lab.exec('client2', ['dig', `@${CTL[ctl]}`, '-b', from, '+time=5', '+tries=1', 'AAAA', 'server.lab.example'], { timeoutMs: 20_000 });
  return bsidOf(r.stdout + r.stderr);
}

async function untilRoutes(lab: Lab, what: string, cond: (r: Map<string, number>) => boolean, ms = 20_000): Promise<Map<string, number>> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await bsidRoutes(lab, 'ar2');
    if (cond(r)) return r;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ar2 has ${JSON.stringify([...r.keys()])}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

const CUT = MEMBERS.map((m) => m.addr.replace(/::2$/, '::/64'));

describe('access routers that reconcile (etcd lab: three etcd members, two controllers, agents on ar and ar2 following the store)', { skip: HAS_ETCD ? false : 'etcd-server is not installed (apt-get install etcd-server)' }, () => {
  const suite = etcdLabPerSuite(async (lab) => {
    for (const c of C) await lab.exec('client2', ['ip', '-6', 'addr', 'add', `${c}/64`, 'dev', 'eth0', 'nodad']);
  });

  test('(i) a route removed behind the store’s back comes back; a restarted agent has its routes again before any query', async () => {
    await withSetup(suite, async (lab, s) => {
      const b1 = await ask(lab, C[0], 'ctl');
      const b2 = await ask(lab, C[1], 'ctl2');
      assert.notEqual(b1, b2);
      await untilRoutes(lab, 'both BSIDs on ar2', (r) => r.has(b1) && r.has(b2));
      // removed through the agent's own API, the record still in the store: back at the next resync
      const rm = await lab.exec('ar2', ['curl', '-s', '--max-time', '5', '-H', `authorization: Bearer ${s.token2}`, '-H', 'content-type: application/json', '-d', JSON.stringify({ bsid: b1 }), `http://${AR2.listen}/bsids/remove`]);
      assert.match(rm.stdout, /"ok":true/, rm.stdout + rm.stderr);
      assert.equal((await bsidRoutes(lab, 'ar2')).has(b1), false);
      await untilRoutes(lab, `${b1} back from the store`, (r) => r.has(b1) && r.has(b2));
      await s.agents.ar2!.out.next((l) => l['msg'] === 'reconcile: BSID installed' && l['bsid'] === b1, 5000, 'the reconciler’s install logged');
      // a restart: the agent removes its routes when it stops, and installs them from the store when it starts
      await s.agents.ar2!.stop();
      assert.equal((await bsidRoutes(lab, 'ar2')).size, 0, 'a stopped agent leaves no route');
      await s.startAr2();
      const r = await bsidRoutes(lab, 'ar2');
      assert.deepEqual([r.get(b1), r.get(b2), r.size], [1, 1, 2], 'installed from the store before the agent says it started');
      assert.equal((await bsidRoutes(lab, 'ar')).size, 0, 'ar holds none of ar2’s BSIDs');
    });
  });

  test('(ii) cut off from etcd, ar2 keeps its routes; back, it removes the binding withdrawn meanwhile and keeps the others', async () => {
    await withSetup(suite, async (lab, s) => {
      const [b1, b2, b3] = [await ask(lab, C[0]), await ask(lab, C[1], 'ctl2'), await ask(lab, C[2])];
      await untilRoutes(lab, 'three BSIDs on ar2', (r) => r.has(b1) && r.has(b2) && r.has(b3));
      const ar2 = s.agents.ar2!;
      // cut inside ar2's namespace only: no packet to the etcd members leaves it (the cut is undone
      // in `finally`: the next test finds ar2 connected)
      let b4: string;
      const cut: string[] = [];
      try {
        for (const p of CUT) {
          await lab.exec('ar2', ['ip', '-6', 'route', 'add', 'prohibit', p]);
          cut.push(p);
        }
        await ar2.out.next((l) => l['msg'] === 'reconcile: etcd unreachable: keeping every route (fail static) until it answers again', 20_000, 'the cut noticed');
        // meanwhile: b2's binding is withdrawn (its lease revoked, as when it expires), c4 is bound (pushed by ctl)
        await etcdctl(lab, 'lease', 'revoke', await leaseOf(lab, `${s.prefix}/route/ar2/${b2}`));
        b4 = await ask(lab, C[3]);
        // several retries later: every route is still there
        const retries = ar2.out.text.length;
        await new Promise((res) => setTimeout(res, 5000));
        const during = await bsidRoutes(lab, 'ar2');
        assert.deepEqual([b1, b2, b3, b4].map((b) => during.get(b)), [1, 1, 1, 1], 'fail static: no route removed while cut off');
        assert.equal(ar2.out.text.filter((l) => l.includes('etcd unreachable: keeping every route')).length, 1, `said once, not per retry (${ar2.out.text.length - retries} lines since)`);
      } finally {
        for (const p of cut) await lab.exec('ar2', ['ip', '-6', 'route', 'del', 'prohibit', p]);
      }
      await ar2.out.next((l) => l['msg'] === 'reconcile: etcd reachable again: caught up with the store', 30_000, 'the reconnect');
      const after = await untilRoutes(lab, `${b2} removed`, (r) => !r.has(b2));
      assert.deepEqual([b1, b3, b4].map((b) => after.get(b)), [1, 1, 1], 'the others stay');
      assert.equal(after.size, 3);
    });
  });

  test('(iii) a corrupt value under the route index is logged, counted and skipped; the agent goes on', async () => {
    await withSetup(suite, async (lab, s) => {
      const ar2 = s.agents.ar2!;
      await etcdctl(lab, 'put', `${s.prefix}/route/ar2/fc00:e::ee`, 'not a record');
      await etcdctl(lab, 'put', `${s.prefix}/route/ar2/fc00:e::ef`, JSON.stringify({ owner: 'another program' }));
      await ar2.out.next((l) => l['msg'] === 'reconcile: a value under the route index is not a binding record for this router: skipped' && l['corrupt'] === 2, 10_000, 'two bad values logged');
      // bound after them: installed, and removed when withdrawn — the watch goes on
      const b = await ask(lab, C[4]);
      await untilRoutes(lab, `${b} on ar2`, (r) => r.has(b));
      await etcdctl(lab, 'lease', 'revoke', await leaseOf(lab, `${s.prefix}/route/ar2/${b}`));
      await untilRoutes(lab, `${b} withdrawn`, (r) => !r.has(b));
      // counted once each, also across full syncs (resync 2s)
      await new Promise((res) => setTimeout(res, 2500));
      const m = await lab.exec('ar2', ['curl', '-s', '--max-time', '5', `http://${AR2.listen}/metrics`]);
      assert.match(m.stdout, /^srv6pipes_agent_reconcile_corrupt_total 2$/m, m.stdout);
      assert.match(m.stdout, /^srv6pipes_agent_etcd_connected 1$/m);
      assert.equal(ar2.child.exitCode, null, 'still running');
    });
  });

  test('(iv) a controller with a local agent and the store acts for it: restarted, its routes are back from the store before it answers', async () => {
    const lab = suite.lab;
    await noRoutes(lab);
    let ctl: DaemonHandle | undefined;
    try {
      const local = etcdControllerYaml({ arPrefix: AR_PREFIX, lifetime: '120s', prefix: suite.prefix('/srv6pipes-rec') }, readExample).replace(`agent: { http: "${AR2.listen}", tokenFile: ar2.token }`, `agent: { local: { clientInterfaces: [ ${AR2.clientInterface} ] } }`);
      assert.ok(local.includes('local: { clientInterfaces'), 'ar2 has a local agent');
      const config = writeConfig(local);
      writeFileSync(join(dirname(config), 'ar.token'), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
      const start = async (): Promise<DaemonHandle> => (ctl = await startDaemon(lab, 'ar2', ['controller', '--config', config], 'controller started'));
      await start();
      const dig = async (): Promise<string> => bsidOf((await lab.exec('client2', ['dig', '@fc00:4::1', '-b', C[0], '+time=5', '+tries=2', 'AAAA', 'server.lab.example'], { timeoutMs: 20_000 })).stdout);
      const b = await dig();
      assert.equal((await bsidRoutes(lab, 'ar2')).get(b), 1);
      await ctl!.stop();
      assert.equal((await bsidRoutes(lab, 'ar2')).size, 0, 'the local agent removed its routes when the controller stopped');
      await start();
      assert.equal((await bsidRoutes(lab, 'ar2')).get(b), 1, 'back from the store before the controller answers');
      assert.equal(await dig(), b, 'the same BSID, its route in place');
      assert.equal((await bsidRoutes(lab, 'ar2')).get(b), 1);
    } finally {
      await ctl?.stop();
    }
  });
});
