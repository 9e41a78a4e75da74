/**
 * Controllers as a replicated set on etcd (issue 16): one elected instance health-checks and
 * re-points, in the `etcd` lab — a three-member etcd cluster (e1, e2, e3), two controllers (ctl,
 * ctl2), two access routers with their own agents (ar for client on fc00:1::/64, ar2 for client2 on
 * fc00:4::/64, behind ar), the proxies p1a | p1b (compress) and p2 (decompress), a server.
 *   (i)  the leader stops: dig against the other answers with the same BSIDs, flows from both
 *        clients pass through them, and the other becomes leader;
 *   (ii) the replica both BSIDs point to dies (p1a killed by pid, its links deleted): each BSID is re-pointed to p1b
 *        once, by the leader alone (the follower logs none), on both access routers, and flows from
 *        both clients pass through p1b;
 *   (iii) the leader is killed: the follower leads once its lease has ended, from the published
 *        states (nothing re-pointed back to the dead replica), and answers.
 */
// run-tests: relay-independent (the control plane: which controller answers, which path a BSID names)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { readExample } from '../../src/config/examples.js';
import { runClient, startDaemon, startProxy, startServer, withLab, writeConfig, type DaemonHandle, type PeerServer, type ProxyHandle } from '../helpers/harness.js';
import { bsidOf, ENDPOINTS, HAS_ETCD, startEtcd } from '../helpers/etcd.js';

const CTL = { ctl: 'fc00:9::2', ctl2: 'fc00:8::2' } as const;
const CLIENTS = { client: 'fc00:1::2', client2: 'fc00:4::2' } as const;
const AR2_PREFIX = 'fc00:e::/120';

/** The access example with a second access router (ar2, its own agent and BSID prefix, clients fc00:4::/64 behind ar), on the etcd cluster, with metrics. */
function controllerYaml(): string {
  const base = readExample('controller-access.yaml');
  const yaml = base
    .replace(
      '      agent: { http: "[fc00:9::1]:7780", tokenFile: ar.token }   # beside this file; the agent\'s --token-file\n',
      `      agent: { http: "[fc00:9::1]:7780", tokenFile: ar.token }\n    - name: ar2\n      bsidPrefix: "${AR2_PREFIX}"\n      agent: { http: "[fc00:41::2]:7780", tokenFile: ar2.token }\n`,
    )
    .replace('  - { a: "fc00:1::/64", b: ar }            # the clients\n', '  - { a: "fc00:1::/64", b: ar }\n  - { a: "fc00:4::/64", b: ar2 }\n  - { a: ar2, b: ar }\n')
    .replace('policies:\n', 'policies:\n  - clients: "fc00:4::/64"\n    destination: server.lab.example\n    require: [ compress, decompress ]\n');
  assert.ok(yaml.includes('name: ar2') && yaml.includes('b: ar2') && yaml.includes('clients: "fc00:4::/64"'), 'the example has the expected lines');
  return `${yaml}\nmetrics: {}\nstore: { etcd: { endpoints: [${ENDPOINTS.map((e) => `"${e}"`).join(', ')}], prefix: "/srv6pipes-ha", leaderTtl: 2s } }\n`;
}

/**
 * The proxy example, also looking up BSIDs of ar2's prefix, from both controller instances — ctl2
 * first, the one (i) stops — and caching an answer for 1 s only, so that the flows after (i) are
 * looked up again, at the instance that is left.
 */
const proxyYaml = (host: 'p1a' | 'p1b' | 'p2'): string => {
  const y = readExample(`proxy-access-${host}.yaml`);
  const out = y.replace('controller: "[fc00:9::2]:53", prefixes: [ "fc00:f::/64" ]', `controller: [ "[${CTL.ctl2}]:53", "[${CTL.ctl}]:53" ], prefixes: [ "fc00:f::/64", "${AR2_PREFIX}" ], maxCache: 1s`);
  assert.notEqual(out, y);
  return out;
};

async function dig(lab: Lab, client: keyof typeof CLIENTS, ctl: keyof typeof CTL): Promise<string> {
  const r = await lab.exec(client, ['dig', `@${CTL[ctl]}`, '+time=3', '+tries=2', 'AAAA', 'server.lab.example'], { timeoutMs: 20_000 });
  return r.stdout + r.stderr;
}

/** The access router's route for a BSID (its line of `ip -6 route`). */
async function routeOf(lab: Lab, router: 'ar' | 'ar2', bsid: string): Promise<string> {
  const lines = (await lab.exec(router, ['ip', '-6', 'route', 'show'])).stdout.split('\n');
  return lines.find((l) => l.startsWith(`${bsid} `) && l.includes('End.B6.Encaps')) ?? '';
}

async function flowsOf(lab: Lab, host: string): Promise<number> {
  const r = await lab.exec(host, ['curl', '-s', 'http://[::1]:7778/stats']);
  return (JSON.parse(r.stdout) as { accepted: number }).accepted;
}

async function metric(lab: Lab, host: string, series: string): Promise<number | undefined> {
  const r = await lab.exec(host, ['curl', '-s', '--max-time', '5', 'http://[::1]:9153/metrics'], { timeoutMs: 15_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** 256 KiB up, 1 MiB down through the BSID, intact. */
async function flow(lab: Lab, client: keyof typeof CLIENTS, bsid: string, server: PeerServer): Promise<void> {
  const seen = server.out.lines.length;
  const r = await runClient(lab, client, ['--host', 'fc00:2::2', '--port', '8080', '--segments', bsid, '--send', String(256 << 10), '--data', 'text', '--timeout', '10000']);
  assert.equal(r.error, undefined, `${client} through ${bsid}: ${JSON.stringify(r)}`);
  assert.equal(r.received, 1 << 20);
  const got = await server.out.next((l) => l['event'] === 'conn' && l['remote'] === CLIENTS[client] && server.out.lines.indexOf(l) >= seen, 10_000, `the server side of ${client}'s flow`);
  assert.equal(got['sha256Received'], r.sha256Sent);
}

const repointed = (d: DaemonHandle, bsid: string): number => d.out.count((l) => l['msg'] === 'BSID re-pointed' && l['bsid'] === bsid);

describe('the replicated controllers’ leader (etcd lab: three etcd members, two controllers, two access routers, p1a|p1b, p2)', { skip: HAS_ETCD ? false : 'etcd-server is not installed (apt-get install etcd-server)' }, () => {
  test('(i) the leader stops: the other answers, flows pass, it leads; (ii) the replica dies: each BSID re-pointed once, by the leader, on both routers; (iii) the leader is killed: the other takes over from the published states', async () => {
    await withLab('etcd', async (lab) => {
      const etcd = await startEtcd(lab);
      const daemons: DaemonHandle[] = [];
      const proxies: Partial<Record<'p1a' | 'p1b' | 'p2', ProxyHandle>> = {};
      let server: PeerServer | undefined;
      try {
        const config = writeConfig(controllerYaml());
        const tokens = { ar: join(dirname(config), 'ar.token'), ar2: join(dirname(config), 'ar2.token') };
        for (const f of Object.values(tokens)) writeFileSync(f, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
        daemons.push(await startDaemon(lab, 'ar', ['access-router', '--bsid-prefix', 'fc00:f::/64', '--listen', '[fc00:9::1]:7780', '--client-interface', 'eth0', '--token-file', tokens.ar], 'access-router agent started'));
        daemons.push(await startDaemon(lab, 'ar2', ['access-router', '--name', 'ar2', '--bsid-prefix', AR2_PREFIX, '--listen', '[fc00:41::2]:7780', '--client-interface', 'eth1', '--token-file', tokens.ar2], 'access-router agent started'));
        for (const p of ['p1a', 'p1b', 'p2'] as const) proxies[p] = await startProxy(lab, p, proxyYaml(p));
        server = await startServer(lab, 'server', ['--port', '8080', '--reply', String(1 << 20), '--data', 'text']);
        const start = async (name: keyof typeof CTL): Promise<DaemonHandle> => {
          const d = await startDaemon(lab, name, ['controller', '--config', config], 'controller started');
          daemons.push(d);
          return d;
        };
        // ctl2 first: it leads (the proxies ask it first, then ctl)
        let ctl2 = await start('ctl2');
        await ctl2.out.next((l) => l['msg'] === 'election: became leader', 10_000, 'ctl2 elected');
        const ctl = await start('ctl');
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(ctl.out.count((l) => l['msg'] === 'election: became leader'), 0, 'one leader');
        assert.equal(await metric(lab, 'ctl2', 'srv6pipes_controller_leader'), 1);
        assert.equal(await metric(lab, 'ctl', 'srv6pipes_controller_leader'), 0);

        const b1 = bsidOf(await dig(lab, 'client', 'ctl'));
        const b2 = bsidOf(await dig(lab, 'client2', 'ctl2'));
        assert.match(b1, /^fc00:f::/);
        assert.match(b2, /^fc00:e::/);
        assert.match(await routeOf(lab, 'ar', b1), /segs 2 \[ fc00:a::1:0:0 fc00:c::2:0:0 \]/);
        assert.match(await routeOf(lab, 'ar2', b2), /segs 2 \[ fc00:a::1:0:0 fc00:c::2:0:0 \]/);
        await flow(lab, 'client', b1, server);
        await flow(lab, 'client2', b2, server);
        assert.equal(await flowsOf(lab, 'p1a'), 2);

        // (i) the leader stops: ctl answers the same BSIDs (client2's from the store), flows pass, ctl leads
        assert.equal(await ctl2.stop(), 0);
        await ctl.out.next((l) => l['msg'] === 'election: became leader', 5_000, 'ctl elected after ctl2 stopped (its lease revoked)');
        assert.equal(bsidOf(await dig(lab, 'client', 'ctl')), b1);
        assert.equal(bsidOf(await dig(lab, 'client2', 'ctl')), b2);
        // the proxies' cached answers (1 s) are gone: these flows are looked up again, ctl2 silent, at ctl
        await new Promise((r) => setTimeout(r, 1200));
        const lookups = (): number => ctl.out.count((l) => l['msg'] === 'query' && /\.ip6\.arpa\.?$/i.test(String(l['name'])) && l['rcode'] === 'NOERROR');
        const before = lookups();
        await flow(lab, 'client', b1, server);
        await flow(lab, 'client2', b2, server);
        assert.ok(lookups() >= before + 2, `the proxies asked ctl once ctl2 was gone (${before} → ${lookups()} lookups answered)`);
        assert.equal(await flowsOf(lab, 'p1a'), 4);
        assert.equal(await metric(lab, 'ctl', 'srv6pipes_controller_leader'), 1);

        // ctl2 back, as a follower
        ctl2 = await start('ctl2');
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal(ctl2.out.count((l) => l['msg'] === 'election: became leader'), 0, 'ctl2 follows');

        // (ii) p1a dies: the leader (ctl) sees it, publishes it, re-points each BSID once on its router
        // (the host with it, as in bsid.test.ts: p2's return route through p1a goes with its links)
        proxies.p1a!.child.kill('SIGKILL');
        await lab.exec('p1a', ['ip', 'link', 'del', 'eth0']);
        await lab.exec('p1a', ['ip', 'link', 'del', 'eth1']);
        await ctl.out.next((l) => l['msg'] === 'proxy down' && l['node'] === 'p1a', 15_000, 'the leader probes p1a down');
        await ctl2.out.next((l) => l['msg'] === 'proxy down (published)' && l['node'] === 'p1a', 10_000, 'the follower learns it from the store');
        for (const b of [b1, b2]) await ctl.out.next((l) => l['msg'] === 'BSID re-pointed' && l['bsid'] === b, 10_000, `${b} re-pointed`);
        assert.match(await routeOf(lab, 'ar', b1), /segs 2 \[ fc00:b::1:0:0 fc00:c::2:0:0 \]/);
        assert.match(await routeOf(lab, 'ar2', b2), /segs 2 \[ fc00:b::1:0:0 fc00:c::2:0:0 \]/);
        await flow(lab, 'client', b1, server);
        await flow(lab, 'client2', b2, server);
        assert.equal(await flowsOf(lab, 'p1b'), 2, 'both new connections went through the other replica');
        // both clients ask again, at either controller: the same BSIDs, nothing re-pointed again
        assert.equal(bsidOf(await dig(lab, 'client', 'ctl2')), b1);
        assert.equal(bsidOf(await dig(lab, 'client2', 'ctl2')), b2);
        await new Promise((r) => setTimeout(r, 1500));
        for (const b of [b1, b2]) {
          assert.equal(repointed(ctl, b), 1, `${b}: once, by the leader`);
          assert.equal(repointed(ctl2, b), 0, `${b}: never by the follower`);
        }
        assert.equal(ctl2.out.count((l) => l['msg'] === 'proxy down'), 0, 'the follower does not probe');

        // (iii) the leader is killed (no revoke): ctl2 leads once the lease ends (leaderTtl 2s), from the
        // published states — p1a stays down, so nothing is re-pointed back to it (optimistic, it would be)
        const killedAt = Date.now();
        ctl.child.kill('SIGKILL');
        await ctl2.out.next((l) => l['msg'] === 'election: became leader', 8_000, 'ctl2 elected after ctl was killed');
        assert.ok(Date.now() - killedAt >= 1000, 'not before the killed leader’s lease could end');
        await new Promise((r) => setTimeout(r, 2500));
        assert.equal(ctl2.out.count((l) => l['msg'] === 'BSID re-pointed'), 0, 'the new leader starts from the published states');
        assert.match(await routeOf(lab, 'ar', b1), /segs 2 \[ fc00:b::1:0:0 fc00:c::2:0:0 \]/);
        assert.equal(bsidOf(await dig(lab, 'client', 'ctl2')), b1);
        assert.equal(await metric(lab, 'ctl2', 'srv6pipes_controller_leader'), 1);
      } catch (e) {
        // what each daemon logged, for the failure report
        const logs = [...daemons.map((d, i) => [`daemon ${i}`, d.out] as const), ...Object.entries(proxies).map(([n, p]) => [n, p.out] as const)];
        for (const [n, out] of logs) process.stderr.write(`--- ${n}\n${out.text.slice(-40).join('\n')}\n`);
        throw e;
      } finally {
        server?.stop();
        for (const d of daemons.reverse()) await d.stop();
        for (const p of Object.values(proxies)) await p.stop();
        await etcd.stop();
      }
    });
  });
});
