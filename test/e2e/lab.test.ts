/**
 * Labs end to end: real network namespaces (root). Every lab is taken down in `finally`, and `after`
 * checks that none of this file's namespaces is left and that the host's own namespace is unchanged.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isSrError } from '../../src/core/errors.js';
import { Lab, labOfNamespace, loadTopology, parseTopology, stateDir } from '../../src/lab/index.js';

const BIN = fileURLToPath(new URL('../../../bin/srv6pipes', import.meta.url));
const isRoot = process.getuid?.() === 0;
const hasPing = spawnSync('sh', ['-c', 'command -v ping'], { stdio: 'ignore' }).status === 0;

const mine: string[] = [];
let counter = 0;
/** A lab name unique to this process (and remembered for the final clean-up). */
function labName(): string {
  const n = `e${process.pid.toString(36)}${(counter++).toString(36)}`;
  mine.push(n);
  return n;
}

function myNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((ns) => mine.includes(labOfNamespace(ns) ?? ''));
}

/** The host namespace as `ip` shows it. */
function hostSnapshot(): string {
  const show = (args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
  return [show(['-6', 'route']), show(['-6', 'rule']), show(['link']), show(['-6', 'address'])].join('\n--\n');
}

/** Running, not a zombie (a service started by this process stays one until Node reaps it). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function cli(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input: input ?? '', timeout: 30000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function withLab<T>(topo: string, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.up(loadTopology(topo), { name: labName() });
  try {
    return await fn(lab);
  } finally {
    await lab.down();
  }
}

const ECHO_SERVER = `require('net').createServer((s) => s.pipe(s)).listen(9000, '::', () => console.log('listening'))`;
const ECHO_CLIENT = `const s = require('net').connect(9000, process.argv[1], () => s.end('hello'));
let got = ''; s.on('data', (d) => (got += d)); s.on('close', () => { console.log(got); process.exit(got === 'hello' ? 0 : 1); });
s.on('error', (e) => { console.error(e.message); process.exit(2); });`;

describe('lab (e2e)', { skip: !isRoot && 'needs root' }, () => {
  let hostBefore = '';
  before(() => {
    hostBefore = hostSnapshot();
  });
  after(async () => {
    for (const n of mine) await Lab.down(n);
    assert.deepEqual(myNamespaces(), [], 'namespaces left behind');
    assert.equal(hostSnapshot(), hostBefore, 'the host namespace changed');
  });

  test('fig1: up fast, ping and TCP from client to server across both proxies, no tentative address', async (t) => {
    const t0 = Date.now();
    await withLab('fig1', async (lab) => {
      const ms = Date.now() - t0;
      t.diagnostic(`fig1 up in ${ms} ms`);
      assert.ok(ms < 5000, `up took ${ms} ms`);
      assert.equal(lab.address('server'), 'fc00:2::2');
      assert.deepEqual(lab.addresses('p1'), ['fc00:1::1', 'fc00:12::1']);
      assert.equal(lab.ns('client'), `s6p-${lab.name}-client`);
      for (const host of lab.hosts()) {
        const r = await lab.exec(host, ['ip', '-6', 'address', 'show', 'tentative']);
        assert.equal(r.code, 0);
        assert.equal(r.stdout.trim(), '', `${host} has tentative addresses`);
      }
      if (hasPing) {
        const ping = await lab.exec('client', ['ping', '-6', '-c1', '-W2', 'fc00:2::2']);
        assert.equal(ping.code, 0, ping.stdout + ping.stderr);
        assert.match(ping.stdout, /ttl=62/, 'two routers (p1, p2) on the way');
        const back = await lab.exec('server', ['ping', '-6', '-c1', '-W2', 'fc00:1::2']);
        assert.equal(back.code, 0, back.stdout + back.stderr);
      } else t.diagnostic('no ping binary (apt-get install iputils-ping): ICMP check skipped');
      const server = lab.spawn('server', [process.execPath, '-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((r) => server.stdout!.once('data', r));
      const echo = await lab.exec('client', [process.execPath, '-e', ECHO_CLIENT, 'fc00:2::2'], { timeoutMs: 10000 });
      assert.equal(echo.code, 0, echo.stderr);
      assert.equal(echo.stdout.trim(), 'hello');
      const fwd = await lab.exec('p1', ['sysctl', '-n', 'net.ipv6.conf.all.forwarding', 'net.ipv6.conf.eth1.seg6_enabled']);
      assert.deepEqual(fwd.stdout.trim().split('\n'), ['1', '1']);
      const host = await lab.exec('server', ['sysctl', '-n', 'net.ipv6.conf.all.forwarding', 'net.ipv6.conf.eth0.seg6_enabled']);
      assert.deepEqual(host.stdout.trim().split('\n'), ['0', '1']);
    });
  });

  test('CLI: lab exec passes output and exit code, status shows the lab, errors are one line', async () => {
    await withLab('fig5', async (lab) => {
      const r = cli(['lab', 'exec', '--name', lab.name, 'server', '--', 'ip', '-6', 'addr']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /inet6 fc00:2::2\/64/);
      assert.equal(cli(['lab', 'exec', '--name', lab.name, 'm1', '--', 'sh', '-c', 'exit 3']).code, 3);
      assert.equal(cli(['lab', 'exec', '--name', lab.name, 'client', '--', 'cat'], 'piped').stdout, 'piped');
      const bad = cli(['lab', 'exec', '--name', lab.name, 'nobody', '--', 'true']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /LAB_UNKNOWN_HOST/);
      const st = cli(['lab', 'status', '--name', lab.name, '--json']);
      assert.equal(st.code, 0, st.stderr);
      const state = JSON.parse(st.stdout) as { name: string; status: string; namespaces: Record<string, string> };
      assert.equal(state.name, lab.name);
      assert.equal(state.status, 'up');
      assert.equal(state.namespaces['m1'], `s6p-${lab.name}-m1`);
      assert.match(cli(['lab', 'status', '--name', lab.name]).stdout, /m1\s+proxy\s+s6p-\S+-m1\s+eth0 fc00:1::1\/64, eth1 fc00:2::1\/64/);
      const twice = cli(['lab', 'up', '--topology', 'fig5', '--name', lab.name]);
      assert.equal(twice.code, 2);
      assert.match(twice.stderr, /LAB_EXISTS/);
    });
  });

  test('CLI: lab up and lab down', () => {
    const name = labName();
    try {
      const up = cli(['lab', 'up', '--topology', 'chain3', '--name', name]);
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stdout, /p3\s+proxy\s+s6p-\S+-p3\s+eth0 fc00:23::2\/64, eth1 fc00:2::1\/64\s+fc00:c::\/80/);
      if (hasPing) assert.equal(cli(['lab', 'exec', '--name', name, 'client', '--', 'ping', '-6', '-c1', '-W2', 'fc00:2::2']).code, 0);
      const down = cli(['lab', 'down', '--name', name]);
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(myNamespaces(), []);
      assert.equal(existsSync(join(stateDir(), `${name}.json`)), false);
    } finally {
      cli(['lab', 'down', '--name', name]);
    }
  });

  test('a service starts with the lab, logs to its file, and ends at down', async () => {
    const topo = parseTopology(`
name: svc
hosts:
  a: { services: [ { name: sleeper, argv: [sh, -c, "echo started $GREETING; exec sleep 1000"], env: { GREETING: hi } } ] }
  b:
links:
  - { a: a, b: b, net: "fc00:77::/64", rate: 100mbit, mtu: 9000 }
`);
    const lab = await Lab.up(topo, { name: labName() });
    let pid = 0;
    let log = '';
    try {
      const svc = Lab.list().find((s) => s.name === lab.name)!.services;
      assert.equal(svc.length, 1);
      ({ pid, log } = svc[0]!);
      assert.equal(readlinkSync(`/proc/${pid}/ns/net`), `net:[${statSync(`/run/netns/${lab.ns('a')}`).ino}]`);
      assert.equal(readFileSync(log, 'utf8').trim(), 'started hi');
      const qd = await lab.exec('b', ['tc', 'qdisc', 'show', 'dev', 'eth0']);
      assert.match(qd.stdout, /tbf .*rate 100Mbit/);
      assert.match((await lab.exec('a', ['ip', 'link', 'show', 'eth0'])).stdout, /mtu 9000/);
    } finally {
      await lab.down();
    }
    assert.equal(alive(pid), false, 'the service still runs');
    assert.equal(existsSync(log), false);
  });

  test('a service that fails at once fails up, and up leaves nothing behind', async () => {
    const topo = parseTopology(`
name: bad
hosts:
  a: { services: [ { name: oops, argv: [sh, -c, "echo no luck; exit 4"] } ] }
  b:
links: [ { a: a, b: b, net: "fc00:78::/64" } ]
`);
    const name = labName();
    await assert.rejects(Lab.up(topo, { name }), (e: unknown) => isSrError(e, 'LAB_UP_FAILED') && /no luck/.test(e.message));
    assert.deepEqual(myNamespaces(), []);
    assert.throws(() => Lab.attach(name), (e: unknown) => isSrError(e, 'LAB_NOT_FOUND'));
  });

  test('two labs of the same topology coexist under different names', async () => {
    await withLab('fig1', async (one) => {
      await withLab('fig1', async (two) => {
        assert.notEqual(one.ns('client'), two.ns('client'));
        for (const lab of [one, two]) {
          const r = await lab.exec('client', hasPing ? ['ping', '-6', '-c1', '-W2', 'fc00:2::2'] : ['ip', '-6', 'route', 'get', 'fc00:2::2']);
          assert.equal(r.code, 0, r.stderr);
        }
        assert.deepEqual(
          Lab.attach(two.name).addresses('server'),
          ['fc00:2::2'],
        );
      });
      assert.ok(myNamespaces().some((ns) => ns === one.ns('server')), 'the first lab survives the second one’s down');
      assert.equal((await one.exec('server', ['ip', '-6', 'addr', 'show', 'dev', 'eth0'])).code, 0);
    });
  });

  test('down cleans up after a lost state file', async () => {
    const lab = await Lab.up(loadTopology('fig5'), { name: labName() });
    try {
      rmSync(join(stateDir(), `${lab.name}.json`));
      assert.throws(() => Lab.attach(lab.name), (e: unknown) => isSrError(e, 'LAB_NOT_FOUND'));
      assert.ok(Lab.strayNamespaces().includes(lab.ns('m1')));
      await assert.rejects(Lab.up(loadTopology('fig5'), { name: lab.name }), (e: unknown) => isSrError(e, 'LAB_EXISTS'));
    } finally {
      await Lab.down(lab.name);
    }
    assert.deepEqual(myNamespaces(), []);
    await Lab.down(lab.name); // idempotent
  });

  test('down cleans up after `lab up` is killed half-way', async () => {
    const name = labName();
    const child = spawn(process.execPath, [BIN, 'lab', 'up', '--topology', 'chain3', '--name', name], { stdio: 'ignore' });
    try {
      const deadline = Date.now() + 10000;
      while (myNamespaces().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      assert.ok(myNamespaces().length > 0, 'killed before it made anything');
    } finally {
      const down = cli(['lab', 'down', '--name', name]);
      assert.equal(down.code, 0, down.stderr);
    }
    assert.deepEqual(myNamespaces(), []);
    assert.equal(existsSync(join(stateDir(), `${name}.json`)), false);
  });
});
