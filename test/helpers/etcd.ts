/**
 * A three-member etcd cluster (Debian's etcd-server) in the `etcd` lab's hosts e1, e2, e3, for the
 * end-to-end tests of the replicated controllers (test/e2e/etcd*.test.ts), and what those tests read
 * back: the BSID in a dig answer, an access router's BSID routes.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach } from 'node:test';
import { Lab, loadTopology } from '../../src/lab/index.js';
import { formatAddress } from '../../src/net/ip6.js';
import { exited, uniqueName } from './harness.js';

export const HAS_ETCD = (() => {
  try {
    readFileSync('/usr/bin/etcd');
    return true;
  } catch {
    return false;
  }
})();

export const MEMBERS = [
  { host: 'e1', addr: 'fc00:31::2' },
  { host: 'e2', addr: 'fc00:32::2' },
  { host: 'e3', addr: 'fc00:33::2' },
];
export const ENDPOINTS = MEMBERS.map((m) => `http://[${m.addr}]:2379`);
export interface Cluster {
  dir: string;
  /** by MEMBERS index; a restarted member replaces its entry */
  members: ChildProcess[];
  /** stops member i (SIGTERM, by pid) and waits for it */
  stopMember(i: number): Promise<void>;
  /** starts member i again on its data */
  startMember(i: number): void;
  /** ends every member (SIGKILL: the data goes too) and removes the folder */
  stop(): Promise<void>;
}

/** etcd on e1, e2, e3 as one cluster; data and logs in a temporary folder, removed by stop(). */
export async function startEtcd(lab: Lab): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-etcd-'));
  const initial = MEMBERS.map((m) => `${m.host}=http://[${m.addr}]:2380`).join(',');
  const members: ChildProcess[] = [];
  const startMember = (i: number): void => {
    const m = MEMBERS[i]!;
    const fd = openSync(join(dir, `${m.host}.log`), 'a');
    try {
      members[i] = lab.spawn(
        m.host,
        ['etcd', '--name', m.host, '--data-dir', join(dir, m.host), '--listen-client-urls', `http://[${m.addr}]:2379`, '--advertise-client-urls', `http://[${m.addr}]:2379`, '--listen-peer-urls', `http://[${m.addr}]:2380`, '--initial-advertise-peer-urls', `http://[${m.addr}]:2380`, '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', lab.name],
        { stdio: ['ignore', fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
  };
  const stopMember = async (i: number): Promise<void> => {
    const c = members[i]!;
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await exited(c);
  };
  // SIGKILL, not SIGTERM: the cluster and its data are thrown away, and three members told to stop at
  // once spend about 7 s on it (the leader tries to hand over to followers that are leaving too)
  const stop = async (): Promise<void> => {
    for (const c of members) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(members.map((c) => exited(c)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    MEMBERS.forEach((_, i) => startMember(i));
    // healthy: every member answers (a leader is elected)
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await lab.exec('ctl', ['etcdctl', '--endpoints', ENDPOINTS.join(','), '--dial-timeout', '2s', '--command-timeout', '3s', 'endpoint', 'health'], { timeoutMs: 15_000 });
      if (r.code === 0) break;
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy: ${r.stdout}${r.stderr}\n${MEMBERS.map((m) => readFileSync(join(dir, `${m.host}.log`), 'utf8').split('\n').slice(-5).join('\n')).join('\n')}`);
      await new Promise((res) => setTimeout(res, 500));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, members, stopMember, startMember, stop };
}

/** What etcdLabPerSuite shares with the tests of its describe. */
export interface EtcdSuite {
  /** the lab (throws when `before` did not bring it up) */
  readonly lab: Lab;
  /** its cluster: every member running and healthy when a test starts */
  readonly etcd: Cluster;
  /** a key prefix no other test of this process uses: `base-NN` (no one a prefix of another) */
  prefix(base: string): string;
}

let prefixes = 0;

/**
 * One `etcd` lab and one cluster in it for every test of the enclosing describe, instead of one per
 * test (each costs seconds): up in `before` (with `prepare` run on the lab first, e.g. client
 * addresses), taken down in `after` — also when `before` failed part-way. Before each test, a member
 * an earlier test stopped (or that died) is started again on its data and the cluster waited healthy,
 * so that no test depends on the one before it; each test keeps its keys under its own prefix
 * (`prefix`) and removes what it added to the lab's hosts.
 */
export function etcdLabPerSuite(prepare?: (lab: Lab) => Promise<void>): EtcdSuite {
  let lab: Lab | undefined;
  let etcd: Cluster | undefined;
  const down = async (): Promise<void> => {
    try {
      await etcd?.stop();
    } finally {
      etcd = undefined;
      await lab?.down();
      lab = undefined;
    }
  };
  before(async () => {
    try {
      lab = await Lab.up(loadTopology('etcd'), { name: uniqueName() });
      await prepare?.(lab);
      etcd = await startEtcd(lab);
    } catch (e) {
      await down();
      throw e;
    }
  });
  after(down);
  beforeEach(async () => {
    if (!lab || !etcd) return; // `before` failed: the test fails on `lab`/`etcd`
    const stopped = etcd.members.flatMap((c, i) => (c.exitCode === null && c.signalCode === null ? [] : [i]));
    for (const i of stopped) etcd.startMember(i);
    await untilHealthy(lab, ENDPOINTS, 60_000);
  });
  return {
    get lab(): Lab {
      assert.ok(lab, 'the etcd lab is up');
      return lab;
    },
    get etcd(): Cluster {
      assert.ok(etcd, 'the etcd cluster is up');
      return etcd;
    },
    prefix: (base) => `${base}-${String(++prefixes).padStart(3, '0')}`,
  };
}

/** Until every listed endpoint is healthy (a leader is elected); throws after `ms`. */
export async function untilHealthy(lab: Lab, endpoints: string[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await lab.exec('ctl', ['etcdctl', '--endpoints', endpoints.join(','), '--dial-timeout', '2s', '--command-timeout', '3s', 'endpoint', 'health'], { timeoutMs: 15_000 });
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new Error(`etcd is not healthy: ${r.stdout}${r.stderr}`);
    await new Promise((res) => setTimeout(res, 300));
  }
}

/** The member that leads now (`etcdctl endpoint status`: its 5th column says). */
export async function leader(lab: Lab): Promise<number> {
  const r = await lab.exec('ctl', ['etcdctl', '--endpoints', ENDPOINTS.join(','), '--command-timeout', '3s', 'endpoint', 'status'], { timeoutMs: 15_000 });
  const line = r.stdout.split('\n').find((l) => l.split(', ')[4] === 'true');
  assert.ok(line, `a leader in:\n${r.stdout}${r.stderr}`);
  return ENDPOINTS.indexOf(line.split(', ')[0]!);
}

/** The BSID of a TYPE65280 record in dig's output (35 bytes of RDATA, the BSID last). */
export function bsidOf(out: string): string {
  const m = /\sTYPE65280\s+\\# 35 ([0-9A-Fa-f ]+)/.exec(out);
  assert.ok(m, `a BSID record in:\n${out}`);
  return formatAddress(Buffer.from(m[1]!.replace(/\s/g, '').slice(38), 'hex'));
}


/** An access router's BSID routes (`ar` unless named): BSID → how many. */
export async function bsidRoutes(lab: Lab, router = 'ar'): Promise<Map<string, number>> {
  const lines = (await lab.exec(router, ['ip', '-6', 'route', 'show'])).stdout.split('\n').filter((l) => l.includes('End.B6.Encaps'));
  const out = new Map<string, number>();
  for (const l of lines) out.set(l.split(/\s+/)[0]!, (out.get(l.split(/\s+/)[0]!) ?? 0) + 1);
  return out;
}

/** `etcdctl ARGS…` against the lab's cluster, from ctl: stdout (throws with stderr on failure). */
export async function etcdctl(lab: Lab, ...args: string[]): Promise<string> {
  const r = await lab.exec('ctl', ['etcdctl', '--endpoints', ENDPOINTS.join(','), '--command-timeout', '5s', ...args], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The lease a key hangs on, in etcdctl's hex form (the JSON gives it in decimal, past 2^53). */
export async function leaseOf(lab: Lab, key: string): Promise<string> {
  const m = /"lease":(\d+)/.exec(await etcdctl(lab, 'get', key, '--write-out', 'json'));
  assert.ok(m, `a lease on ${key}`);
  return BigInt(m[1]!).toString(16);
}

/**
 * The etcd lab's second access router: ar2 (agent on [fc00:41::2]:7780, clients fc00:4::/64 on
 * eth1, its own BSID prefix), as a `nodes.accessRouters` entry, the graph's links and a policy for
 * its clients, to add to examples/controller-access.yaml (see etcdControllerYaml).
 */
export const AR2 = { listen: '[fc00:41::2]:7780', clients: 'fc00:4::/64', clientInterface: 'eth1', bsidPrefix: 'fc00:e::/120' };

/**
 * examples/controller-access.yaml for the etcd lab: BSID prefixes /120, no health checks (no
 * proxies run), a binding lifetime, ar2 (with `ar2.token` beside the config) and the etcd store.
 */
export function etcdControllerYaml(o: { arPrefix: string; lifetime: string; prefix: string; endpoints?: string[] }, readExample: (n: string) => string): string {
  let yaml = readExample('controller-access.yaml')
    .replace('bsidPrefix: "fc00:f::/64"', `bsidPrefix: "${o.arPrefix}"`)
    .replace(/^\s+health: \{ address:.*\n/gm, '')
    .replace('bindingSids: { lifetime: 120s }', `bindingSids: { lifetime: ${o.lifetime}, rate: { perSecond: 1000, burst: 1000 } }`)
    .replace(
      '      agent: { http: "[fc00:9::1]:7780", tokenFile: ar.token }   # beside this file; the agent\'s --token-file\n',
      `      agent: { http: "[fc00:9::1]:7780", tokenFile: ar.token }\n    - name: ar2\n      bsidPrefix: "${AR2.bsidPrefix}"\n      agent: { http: "${AR2.listen}", tokenFile: ar2.token }\n`,
    )
    .replace('  - { a: "fc00:1::/64", b: ar }            # the clients\n', `  - { a: "fc00:1::/64", b: ar }\n  - { a: "${AR2.clients}", b: ar2 }\n  - { a: ar2, b: ar }\n`)
    .replace('policies:\n', `policies:\n  - clients: "${AR2.clients}"\n    destination: server.lab.example\n    require: [ compress, decompress ]\n`);
  assert.ok(yaml.includes(o.arPrefix) && yaml.includes('name: ar2') && yaml.includes('b: ar2') && yaml.includes(AR2.clients) && !/health: \{ address/.test(yaml), 'the example has the expected lines');
  yaml += `\nstore: { etcd: { endpoints: [${(o.endpoints ?? ENDPOINTS).map((e) => `"${e}"`).join(', ')}], prefix: "${o.prefix}" } }\n`;
  return yaml;
}
