/**
 * `srv6pipes demo` — the main job, end to end: the paper's Fig. 1 lab (client — P1 — P2 — server),
 * a real HTTP server, two proxies with XOR functions (an inverse pair), a download through the chain
 * with an integrity check, captures proving that the P1→P2 link carried transformed bytes while the
 * server got plaintext from the client's own address. Part 2 (controlled.ts): the controller hands
 * out a binding SID, an unmodified curl runs through it, and a replica fails over behind it. Part 3
 * (bonding.ts): an MPTCP converter pair bonds two shaped uplinks for an ordinary HTTP download.
 * Tears everything down, also on Ctrl-C.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Lab, loadTopology } from '../lab/index.js';
import { runBondingPart } from './bonding.js';
import { runControllerPart } from './controlled.js';
import { MARKER } from './marker.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const BIN = fileURLToPath(new URL('../../../bin/srv6pipes', import.meta.url));
const KEY = 0x5a;

export interface DemoOptions {
  sizeBytes?: number;
  print?: (line: string) => void;
}

function firstJson(child: ChildProcess, pred: (o: Record<string, unknown>) => boolean, what: string, timeoutMs = 15000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (pred(o)) {
          clearTimeout(timer);
          resolve(o);
        }
      } catch {
        // not JSON
      }
    });
    child.once('exit', (code) => reject(new Error(`${what}: the process exited with ${code}`)));
  });
}

function countOf(hay: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) n++;
  return n;
}

function waitTcpdump(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('tcpdump did not start')), 10000);
    createInterface({ input: child.stderr! }).on('line', (l) => {
      if (l.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

export async function runDemo(o: DemoOptions = {}): Promise<number> {
  const print = o.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const size = o.sizeBytes ?? 8 << 20;
  const work = mkdtempSync(join(tmpdir(), 'srv6pipes-demo-'));
  const name = `demo${process.pid.toString(36)}`.slice(0, 16);
  print('srv6pipes demo — the paper’s Fig. 1: client → P1 (xor) → P2 (xor) → server');
  const lab = await Lab.up(loadTopology('fig1'), { name });
  let interrupted = false;
  let current: Lab | undefined = lab;
  const onSignal = (): void => {
    interrupted = true;
    print('interrupted: tearing the lab down');
    void (current ? current.down() : Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const client = lab.address('client');
    const server = lab.address('server');
    const sid1 = `fc00:a::2:0:${KEY.toString(16)}`;
    const sid2 = `fc00:b::2:0:${KEY.toString(16)}`;
    print(`  lab          ${name}: client ${client}, p1, p2, server ${server} (namespaces s6p-${name}-*)`);
    print(`  path         ${sid1} → ${sid2} → ${server}   (function 2 = xor, argument 0x${KEY.toString(16)} = key)`);

    // proxies: both run xor with the same key — an inverse pair
    const proxies: Record<string, ChildProcess> = {};
    for (const [host, loc] of [['p1', 'fc00:a::/80'], ['p2', 'fc00:b::/80']] as const) {
      const cfg = join(work, `${host}.yaml`);
      writeFileSync(cfg, `workers: 1\nlocators: [ { prefix: "${loc}" } ]\nfunctions:\n  - { id: 1, function: copy }\n  - { id: 2, function: xor }\n`);
      const child = lab.spawn(host, [process.execPath, BIN, 'proxy', '--config', cfg], { stdio: ['ignore', 'pipe', 'inherit'] });
      proxies[host] = child;
      await firstJson(child, (l) => l['msg'] === 'proxy started', `proxy on ${host}`);
    }
    print('  proxies      p1 and p2 running `srv6pipes proxy` (xor on function 2)');

    // captures on the P1→P2 link (at p2) and the P2→server link (at server)
    const caps = { p1p2: join(work, 'p1-p2.pcap'), p2srv: join(work, 'p2-server.pcap') };
    const dumps = [
      lab.spawn('p2', ['tcpdump', '-i', 'eth0', '-U', '-n', '-w', caps.p1p2, 'tcp'], { stdio: ['ignore', 'ignore', 'pipe'] }),
      lab.spawn('server', ['tcpdump', '-i', 'eth0', '-U', '-n', '-w', caps.p2srv, 'tcp'], { stdio: ['ignore', 'ignore', 'pipe'] }),
    ];
    await Promise.all(dumps.map(waitTcpdump));

    const http = lab.spawn('server', [process.execPath, join(HERE, 'http-server.js'), '--port', '80', '--size', String(size)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const listening = await firstJson(http, (l) => l['event'] === 'listening', 'HTTP server');
    const served = firstJson(http, (l) => l['event'] === 'request', 'the HTTP request', 60000);
    print(`  server       HTTP on [${server}]:80 serving /file (${(size / 1048576).toFixed(1)} MiB, sha256 ${String(listening['sha256']).slice(0, 16)}…)`);

    const r = await lab.exec('client', [process.execPath, join(HERE, 'http-client.js'), '--host', server, '--port', '80', '--path', '/file', '--segments', `${sid1},${sid2}`], { timeoutMs: 60000 });
    const resp = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as Record<string, unknown>;
    const req = await served;
    await new Promise((res) => setTimeout(res, 300));
    for (const d of dumps) d.kill('SIGINT');
    await new Promise((res) => setTimeout(res, 300));

    const plain = Buffer.from(MARKER, 'latin1');
    const xored = Buffer.from(plain.map((b) => b ^ KEY));
    const linkA = readFileSync(caps.p1p2);
    const linkB = readFileSync(caps.p2srv);
    const a = { plain: countOf(linkA, plain), xored: countOf(linkA, xored) };
    const b = { plain: countOf(linkB, plain), xored: countOf(linkB, xored) };

    const okBody = resp['status'] === 200 && resp['bytes'] === size && resp['sha256'] === listening['sha256'];
    const okAddr = req['remote'] === client;
    const okLink = a.plain === 0 && a.xored > 0 && b.plain > 0 && b.xored === 0;
    const mbps = ((size * 8) / (Number(resp['ms']) / 1000) / 1e6).toFixed(0);
    print(`  transfer     GET /file: HTTP ${resp['status']}, ${resp['bytes']} bytes in ${Number(resp['ms']).toFixed(0)} ms (${mbps} Mb/s); sha256 ${okBody ? 'matches the server’s' : 'DOES NOT MATCH'}`);
    print(`  server saw   the request from [${req['remote']}]:${req['remotePort']} — ${okAddr ? 'the client’s own address' : `NOT the client (${client})`}`);
    print(`  P1→P2 link   plaintext marker ${a.plain}×, XORed marker ${a.xored}× — ${a.plain === 0 && a.xored > 0 ? 'carried transformed bytes' : 'UNEXPECTED'}`);
    print(`  P2→server    plaintext marker ${b.plain}×, XORed marker ${b.xored}× — ${b.plain > 0 && b.xored === 0 ? 'plaintext again' : 'UNEXPECTED'}`);

    for (const [host, child] of Object.entries(proxies)) {
      const st = await lab.exec(host, [process.execPath, BIN, 'stats', '--json']);
      const s = JSON.parse(st.stdout) as { functions: { functionId: number; function: string; flowsTotal: number; bytesUp: number; bytesDown: number }[] };
      const f = s.functions.map((x) => `fn ${x.functionId} (${x.function}): ${x.flowsTotal} flow, ${x.bytesUp} B up, ${x.bytesDown} B down`).join('; ');
      print(`  ${host.padEnd(12)} ${f || 'no flows'}`);
      child.kill('SIGTERM');
    }
    http.kill('SIGTERM');
    const pass = okBody && okAddr && okLink;
    print(`  result       ${pass ? 'PASS' : 'FAIL'}`);
    await lab.down();
    current = undefined;
    print('  teardown     lab removed');
    const part = { bin: BIN, here: HERE, work, size, print, onLab: (l: Lab | undefined) => (current = l) };
    const pass2 = await runControllerPart(part);
    print('  teardown     lab removed');
    const pass3 = await runBondingPart(part);
    print('  teardown     lab removed');
    const all = pass && pass2 && pass3;
    print(`srv6pipes demo: ${all ? 'PASS' : 'FAIL'}`);
    return all ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!interrupted && current) await current.down();
    rmSync(work, { recursive: true, force: true });
  }
}
