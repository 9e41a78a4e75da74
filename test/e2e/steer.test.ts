/**
 * `srv6pipes steer` end to end in the Fig. 1 lab (client — p1 — p2 — server): the controller and
 * lighttpd run in `server` (fc00:2::2), proxies on p1 and p2 (copy = 1, xor = 2), and an unmodified
 * curl in `client` downloads a file through the path the controller gives. The proxies' stats show
 * the flows, a capture on p1 shows the SRH the kernel inserted, and the route is gone afterwards.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { readExample } from '../../src/config/examples.js';

const FIG1_CONTROLLER_YAML = readExample('controller.yaml');
import { Lab, loadTopology } from '../../src/lab/index.js';
import { BIN, exited, JsonLines, proxyYaml, startProxy, uniqueName, writeConfig, type ProxyHandle } from '../helpers/harness.js';

const CTL = 'fc00:2::2';
const SERVER = 'fc00:2::2';
const PORT = 8080;
const FILE_BYTES = 3 << 20;
const XOR = 'fc00:a::2:0:5a';
const XOR2 = 'fc00:b::2:0:5a';
const COPY = 'fc00:a::1:0:0';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A `st4…` lab, taken down in `finally`. */
async function withSteerLab<T>(fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.up(loadTopology('fig1'), { name: uniqueName('st4') });
  try {
    return await fn(lab);
  } finally {
    await lab.down();
  }
}

async function startController(lab: Lab): Promise<{ stop: () => Promise<number | null> }> {
  const child = lab.spawn('server', [process.execPath, BIN, 'controller', '--config', writeConfig(FIG1_CONTROLLER_YAML)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new JsonLines(child);
  await Promise.race([
    out.next((l) => l['msg'] === 'controller started', 15000, 'controller start'),
    exited(child).then((c) => {
      throw new Error(`controller exited with ${c}:\n${out.text.join('\n')}`);
    }),
  ]);
  return { stop: async () => (child.exitCode === null && child.kill('SIGTERM'), exited(child)) };
}

/** lighttpd in `server` on PORT, serving one random file; resolves with its sha256. */
async function startHttp(lab: Lab, dir: string): Promise<{ child: ChildProcess; sha: string }> {
  const body = randomBytes(FILE_BYTES);
  writeFileSync(join(dir, 'file'), body);
  const conf = join(dir, 'lighttpd.conf');
  writeFileSync(conf, [`server.document-root = "${dir}"`, `server.port = ${PORT}`, 'server.bind = "[::]"', 'mimetype.assign = ( "" => "application/octet-stream" )', ''].join('\n'));
  const child = lab.spawn('server', ['lighttpd', '-D', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  for (let i = 0; ; i++) {
    if ((await lab.exec('server', ['ss', '-Htln', `sport = :${PORT}`])).stdout.trim()) break;
    if (child.exitCode !== null || i > 200) throw new Error(`lighttpd did not start (exit ${child.exitCode}): ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, sha: sha256(body) };
}

/** Flows per function id on a proxy (`srv6pipes stats --json`). */
async function flows(lab: Lab, host: string): Promise<Record<number, number>> {
  const r = await lab.exec(host, [process.execPath, BIN, 'stats', '--json']);
  const st = JSON.parse(r.stdout) as { functions: { functionId: number; flowsTotal: number }[] };
  return Object.fromEntries(st.functions.map((f) => [f.functionId, f.flowsTotal]));
}

async function hostRoute(lab: Lab): Promise<unknown[]> {
  return JSON.parse((await lab.exec('client', ['ip', '-6', '-j', 'route', 'show', 'exact', `${SERVER}/128`])).stdout || '[]') as unknown[];
}

/** tcpdump on p1's client-side link: the first packet with a routing header, verbose. */
async function captureSrh(lab: Lab): Promise<{ text: Promise<string> }> {
  const child = lab.spawn('p1', ['tcpdump', '-l', '-c', '1', '-nvi', 'eth0', 'ip6[6] == 43'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('tcpdump did not start')), 10000);
    child.stderr!.on('data', (c: Buffer) => /listening on/.test(c.toString()) && (clearTimeout(t), resolve()));
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), 20000);
  return { text: exited(child).then(() => (clearTimeout(timer), out)) };
}

interface Setup {
  lab: Lab;
  dir: string;
  sha: string;
}

async function withEverything(fn: (s: Setup) => Promise<void>): Promise<void> {
  await withSteerLab(async (lab) => {
    const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-steer-'));
    const ctl = await startController(lab);
    const fns = ['{ id: 1, function: copy }', '{ id: 2, function: xor }'];
    const proxies: ProxyHandle[] = [];
    const http = await startHttp(lab, dir);
    try {
      proxies.push(await startProxy(lab, 'p1', proxyYaml('fc00:a::/80', fns)));
      proxies.push(await startProxy(lab, 'p2', proxyYaml('fc00:b::/80', fns)));
      await fn({ lab, dir, sha: http.sha });
    } finally {
      http.child.kill('SIGTERM');
      for (const p of proxies) assert.equal(await p.stop(), 0);
      assert.equal(await ctl.stop(), 0);
    }
  });
}

describe('steer (fig1: an unmodified curl through the controller’s path)', () => {
  test('-- curl: through xor on p1 and xor on p2, the body intact, the SRH inline, the route gone after', async () => {
    await withEverything(async ({ lab, dir, sha }) => {
      const out = join(dir, 'got');
      const cap = await captureSrh(lab);
      const r = await lab.exec('client', [process.execPath, BIN, 'steer', 'plain.lab.example', '--functions', 'xor,xor', '--controller', CTL, '--', 'curl', '-sS', '-o', out, '-w', '%{http_code}', `http://[${SERVER}]:${PORT}/file`], { timeoutMs: 60000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '200', 'stdout is the command’s');
      assert.match(r.stderr, /plain\.lab\.example → fc00:2::2 through fc00:a::2:0:5a → fc00:b::2:0:5a \(dev eth0 via fc00:1::1\)/);
      assert.equal(sha256(readFileSync(out)), sha, 'xor on p1 and on p2 cancel out: the body is intact');
      assert.equal((await flows(lab, 'p1'))[2], 1, 'p1 applied xor to the flow');
      assert.equal((await flows(lab, 'p2'))[2], 1, 'p2 applied xor to the flow');
      assert.deepEqual(await hostRoute(lab), [], 'the route is gone');
      // the kernel's SRH, seen on p1's client side: DA = p1's SID, segments [server, p2, p1], SL 2
      const pkt = await cap.text;
      assert.match(pkt, new RegExp(`fc00:1::2\\.\\d+ > ${XOR}\\.${PORT}|fc00:1::2 > ${XOR}`), pkt);
      assert.match(pkt, new RegExp(`segleft=2, last-entry=2.*\\[0\\]${SERVER}, \\[1\\]${XOR2}, \\[2\\]${XOR}\\)`), pkt);
    });
  });

  test('a required function (copy), exit codes, no path, an existing route, --dry-run', async () => {
    await withEverything(async ({ lab, dir, sha }) => {
      const steer = (...args: string[]) => lab.exec('client', [process.execPath, BIN, 'steer', ...args], { timeoutMs: 60000 });
      // server.lab.example requires copy (p1): asked for nothing, the path is [copy SID, server]
      const out = join(dir, 'copy');
      const r = await steer('server.lab.example', '--controller', CTL, '--', 'curl', '-sS', '-o', out, `http://[${SERVER}]:${PORT}/file`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`through ${COPY} \\(dev eth0`));
      assert.equal(sha256(readFileSync(out)), sha);
      assert.equal((await flows(lab, 'p1'))[1], 1, 'p1 applied copy');

      // the command's exit code is steer's (curl -f: 22 on a 404); the route is removed all the same
      const nf = await steer('server.lab.example', '--controller', CTL, '--', 'curl', '-sSf', '-o', '/dev/null', `http://[${SERVER}]:${PORT}/nope`);
      assert.equal(nf.code, 22, nf.stderr);
      assert.deepEqual(await hostRoute(lab), []);

      // no function applies: said, nothing steered, the command still runs (no new proxy flow)
      const before = await flows(lab, 'p1');
      const plain = await steer('plain.lab.example', '--controller', CTL, '--', 'curl', '-sS', '-o', join(dir, 'plain'), `http://[${SERVER}]:${PORT}/file`);
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stderr, /no function applies, not steered/);
      assert.equal(sha256(readFileSync(join(dir, 'plain'))), sha);
      assert.deepEqual(await flows(lab, 'p1'), before);

      // --dry-run prints the command and changes nothing
      const dry = await steer('plain.lab.example', '--functions', 'xor,xor', '--controller', CTL, '--dry-run');
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(dry.stdout, `ip -6 route replace ${SERVER}/128 encap seg6 mode inline segs ${XOR},${XOR2} dev eth0 via fc00:1::1\n`);
      assert.deepEqual(await hostRoute(lab), []);

      // a route that is not ours: refused (exit 2, code and hint), left as it was, the command not run
      assert.equal((await lab.exec('client', ['ip', '-6', 'route', 'add', `${SERVER}/128`, 'via', 'fc00:1::1', 'dev', 'eth0'])).code, 0);
      const busy = await steer('server.lab.example', '--controller', CTL, '--', 'touch', join(dir, 'ran'));
      assert.equal(busy.code, 2);
      assert.match(busy.stderr, /a route to fc00:2::2\/128 exists already \(via fc00:1::1 dev eth0\) \[STEER_ROUTE_EXISTS\]\n {2}hint: .*--replace/);
      assert.throws(() => readFileSync(join(dir, 'ran')), 'the command did not run');
      assert.equal((await hostRoute(lab)).length, 1);
      // --replace takes it over and puts it back
      const rep = await steer('server.lab.example', '--controller', CTL, '--replace', '--', 'ip', '-6', '-j', 'route', 'show', 'exact', `${SERVER}/128`);
      assert.equal(rep.code, 0, rep.stderr);
      assert.deepEqual((JSON.parse(rep.stdout) as { segs: string[] }[])[0]!.segs, [COPY, '::']);
      const back = (await hostRoute(lab)) as { gateway?: string; encap?: string }[];
      assert.equal(back.length, 1);
      assert.equal(back[0]!.gateway, 'fc00:1::1', 'the previous route is back');
      assert.equal(back[0]!.encap, undefined);
    });
  });

  test('without a command: holds the route until SIGTERM; an unmodified curl goes through the path meanwhile', async () => {
    await withEverything(async ({ lab, dir, sha }) => {
      const child = lab.spawn('client', [process.execPath, BIN, 'steer', 'server.lab.example', '--controller', CTL, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const out = new JsonLines(child);
      const steering = await out.next((l) => l['event'] === 'steering', 15000, 'the steering line');
      assert.deepEqual(steering['routes'], [
        { destination: SERVER, segments: [COPY], dev: 'eth0', gateway: 'fc00:1::1', command: `ip -6 route replace ${SERVER}/128 encap seg6 mode inline segs ${COPY} dev eth0 via fc00:1::1` },
      ]);
      assert.equal(steering['ttl'], 30);
      assert.equal((await hostRoute(lab)).length, 1);
      for (const n of [1, 2]) {
        const r = await lab.exec('client', ['curl', '-sS', '-m', '10', '-o', join(dir, `held${n}`), `http://[${SERVER}]:${PORT}/file`], { timeoutMs: 20000 });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(sha256(readFileSync(join(dir, `held${n}`))), sha);
      }
      assert.equal((await flows(lab, 'p1'))[1], 2, 'p1 applied copy to both of curl’s flows');
      child.kill('SIGTERM');
      assert.equal(await exited(child), 0);
      assert.deepEqual((await out.next((l) => l['event'] === 'removed', 5000, 'the removed line'))['destinations'], [SERVER]);
      assert.deepEqual(await hostRoute(lab), []);
    });
  });
});
