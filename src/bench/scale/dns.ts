/**
 * Answers per second for SR requests, in the `etcd` lab (client — ar — …, controllers on ctl and
 * ctl2, a three-member etcd on e1–e3), the access-router agent (`srv6pipes access-router`) on ar:
 *   cold  every query from a new client address (added with nodad to the client's eth0): each one
 *         a new binding key, so a new BSID allocated and installed before the answer (dnsload.ts);
 *   warm  the same clients again: each a refresh (no install);
 *   warm, one source  dnsperf from the client's own address (one key, refreshed) for `seconds`.
 * Configurations, interleaved per repetition: one controller (in-memory state), one controller on
 * etcd, two controllers on etcd (the load split between them, rates summed). The controllers run
 * at `logLevel: warn` (one line per bind at info would measure the logging).
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { readExample } from '../../config/examples.js';
import type { Lab } from '../../lab/index.js';
import { withScaleLab, type ScaleContext } from './common.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const BIN = join(ROOT, 'bin', 'srv6pipes');
const DNSLOAD = join(dirname(fileURLToPath(import.meta.url)), 'dnsload.js');
const CTL = { ctl: 'fc00:9::2', ctl2: 'fc00:8::2' } as const;
const MEMBERS = [
  { host: 'e1', addr: 'fc00:31::2' },
  { host: 'e2', addr: 'fc00:32::2' },
  { host: 'e3', addr: 'fc00:33::2' },
];
/** the first client source: fc00:1::1:0 (below it: the lab's own addresses) */
const FIRST = 0x10000;
const ENDPOINTS = MEMBERS.map((m) => `http://[${m.addr}]:2379`);

interface Config {
  name: string;
  etcd: boolean;
  controllers: (keyof typeof CTL)[];
}
const CONFIGS: Config[] = [
  { name: 'one controller, in memory', etcd: false, controllers: ['ctl'] },
  { name: 'one controller, etcd ×3', etcd: true, controllers: ['ctl'] },
  { name: 'two controllers, etcd ×3', etcd: true, controllers: ['ctl', 'ctl2'] },
];

function controllerYaml(prefix: string | undefined): string {
  const yaml = readExample('controller-access.yaml')
    .replace(/^\s+health: \{ address:.*\n/gm, '')
    .replace('bindingSids: { lifetime: 120s }', 'bindingSids: { lifetime: 600s, perClient: 16, max: 1000000, rate: { perSecond: 1000000, burst: 1000000 } }');
  if (!yaml.includes('max: 1000000')) throw new Error('controller-access.yaml changed: the scale bench cannot raise bindingSids');
  return `${yaml}\nlogLevel: warn\n${prefix ? `store: { etcd: { endpoints: [${ENDPOINTS.map((e) => `"${e}"`).join(', ')}], prefix: "${prefix}" } }\n` : ''}`;
}

/** Spawns srv6pipes on `host` and waits for its `ready` log line (JSON lines on stdout), or, with a function, until it resolves true. */
const warnings: string[] = [];

async function daemon(lab: Lab, host: string, args: string[], ready: string | (() => Promise<boolean>)): Promise<ChildProcess> {
  const child = lab.spawn(host, [process.execPath, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} on ${host} did not start:\n${text.slice(-2000)}`)), 30_000);
    let done = false;
    const onData = (c: Buffer): void => {
      if (done) return;
      text = (text + c.toString()).slice(-10_000);
      if (typeof ready === 'string' && text.includes(`"msg":"${ready}"`)) {
        done = true;
        clearTimeout(timer);
        resolve();
      }
    };
    if (typeof ready === 'function') {
      void (async () => {
        while (!done && child.exitCode === null) {
          if (await ready()) {
            done = true;
            clearTimeout(timer);
            resolve();
            return;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
    }
    child.stdout!.on('data', onData);
    // warnings and errors are kept (the report counts them)
    child.stdout!.on('data', (c: Buffer) => {
      for (const line of c.toString().split('\n')) if (/"level":(40|50|60)/.test(line) && warnings.length < 1000) warnings.push(`${host}: ${line.slice(0, 300)}`);
    });
    child.stderr!.on('data', (c: Buffer) => void (text += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} on ${host} exited with ${code}:\n${text.slice(-2000)}`));
    });
  });
  child.removeAllListeners('exit');
  return child;
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await gone;
}

async function startEtcd(lab: Lab, dir: string): Promise<ChildProcess[]> {
  const initial = MEMBERS.map((m) => `${m.host}=http://[${m.addr}]:2380`).join(',');
  const members = MEMBERS.map((m) => {
    const fd = openSync(join(dir, `${m.host}.log`), 'a');
    try {
      return lab.spawn(m.host, ['etcd', '--name', m.host, '--data-dir', join(dir, m.host), '--listen-client-urls', `http://[${m.addr}]:2379`, '--advertise-client-urls', `http://[${m.addr}]:2379`, '--listen-peer-urls', `http://[${m.addr}]:2380`, '--initial-advertise-peer-urls', `http://[${m.addr}]:2380`, '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', lab.name, '--quota-backend-bytes', String(4 * 1024 ** 3)], { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await lab.exec('ctl', ['etcdctl', '--endpoints', ENDPOINTS.join(','), '--dial-timeout', '2s', '--command-timeout', '3s', 'endpoint', 'health'], { timeoutMs: 15_000 });
    if (r.code === 0) return members;
    if (Date.now() > deadline) {
      await Promise.all(members.map(stopChild));
      throw new Error(`etcd did not become healthy: ${r.stdout}${r.stderr}`);
    }
    await new Promise((res) => setTimeout(res, 500));
  }
}

interface Load {
  sent: number;
  answered: number;
  rcodes: Record<string, number>;
  seconds: number;
  p50: number;
  p99: number;
}

async function dnsload(lab: Lab, server: string, first: number, count: number, window: number): Promise<Load> {
  const r = await lab.exec('client', [process.execPath, DNSLOAD, '--server', server, '--base', 'fc00:1::', '--first', String(first), '--count', String(count), '--window', String(window)], { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`dnsload: ${r.stderr}`);
  return JSON.parse(r.stdout) as Load;
}

/** dnsperf from one source (the client's own address) for `seconds`; -v lists every query's latency. */
async function dnsperf(lab: Lab, server: string, seconds: number, dataFile: string): Promise<Load> {
  const r = await lab.exec('client', ['dnsperf', '-s', server, '-a', 'fc00:1::2', '-d', dataFile, '-l', String(seconds), '-q', '64', '-t', '5', '-v'], { timeoutMs: (seconds + 30) * 1000 });
  if (r.code !== 0) throw new Error(`dnsperf: ${r.stderr}${r.stdout.slice(-500)}`);
  const lat: number[] = [];
  const rcodes: Record<string, number> = {};
  // -v: "> NOERROR server.lab.example AAAA 0.000412" per answer
  for (const m of r.stdout.matchAll(/^> (\S+) \S+ \S+ ([0-9.]+)$/gm)) {
    rcodes[m[1]!] = (rcodes[m[1]!] ?? 0) + 1;
    lat.push(Number(m[2]) * 1000);
  }
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)]! : NaN);
  const qps = Number(/Queries per second:\s+([0-9.]+)/.exec(r.stdout)?.[1]);
  const sent = Number(/Queries sent:\s+(\d+)/.exec(r.stdout)?.[1]);
  const answered = Number(/Queries completed:\s+(\d+)/.exec(r.stdout)?.[1]);
  return { sent, answered, rcodes, seconds: answered / qps, p50: pct(50), p99: pct(99) };
}

/** Runs one load per controller at once (halves of the sources); rate = all answers / the longest run. */
async function split(ctls: (keyof typeof CTL)[], run: (server: string, part: number) => Promise<Load>): Promise<Load> {
  const parts = await Promise.all(ctls.map((c, i) => run(CTL[c], i)));
  const lat50 = parts.map((p) => p.p50).sort((a, b) => a - b);
  const rcodes: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.rcodes)) rcodes[k] = (rcodes[k] ?? 0) + v;
  return { sent: parts.reduce((a, p) => a + p.sent, 0), answered: parts.reduce((a, p) => a + p.answered, 0), rcodes, seconds: Math.max(...parts.map((p) => p.seconds)), p50: lat50[lat50.length >> 1]!, p99: Math.max(...parts.map((p) => p.p99)) };
}

export async function measureDns(ctx: ScaleContext, o: { seconds: number; coldQueries: number }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-scale-dns-'));
  try {
    await withScaleLab('etcd', async (lab) => {
      const tokenFile = join(dir, 'ar.token');
      writeFileSync(tokenFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
      const dataFile = join(dir, 'queries.txt');
      writeFileSync(dataFile, 'server.lab.example AAAA\n');
      // every (repetition, configuration) asks from its own fresh sources
      const total = ctx.reps * CONFIGS.length * o.coldQueries;
      // every client address is a neighbour entry on ar and ctl; the kernel's table is host-wide (gc_thresh3)
      const thresh = Number(readFileSync('/proc/sys/net/ipv6/neigh/default/gc_thresh3', 'utf8').trim());
      if (o.coldQueries > thresh / 2) ctx.note(`dns: ${o.coldQueries} clients per configuration against a neighbour table of ${thresh} entries (net.ipv6.neigh.default.gc_thresh3, host-wide): overflows lose answers (see dmesg), and the rates then measure the timeouts`);
      ctx.say(`dns: adding ${total} client addresses`);
      const lines: string[] = [];
      for (let i = FIRST; i < FIRST + total; i++) lines.push(`addr add fc00:1::${((i >>> 16) & 0xffff).toString(16)}:${(i & 0xffff).toString(16)}/64 dev eth0 nodad`);
      const added = await lab.exec('client', ['ip', '-6', '-batch', '-'], { input: `${lines.join('\n')}\n`, timeoutMs: 300_000 });
      if (added.code !== 0) throw new Error(`adding client addresses: ${added.stderr.slice(0, 500)}`);
      const etcd = await startEtcd(lab, dir);
      let first = FIRST;
      try {
        for (let rep = 0; rep < ctx.reps; rep++) {
          for (const [ci, cfg] of CONFIGS.entries()) {
            const config = join(dir, `controller-${rep}-${ci}.yaml`);
            writeFileSync(config, controllerYaml(cfg.etcd ? `/scale-${rep}-${ci}` : undefined));
            writeFileSync(join(dir, 'ar.token'), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
            const ar = await daemon(lab, 'ar', ['access-router', '--bsid-prefix', 'fc00:f::/64', '--listen', '[fc00:9::1]:7780', '--client-interface', 'eth0', '--token-file', tokenFile, '--max-bsids', '1000000', '--max-in-flight', '10000'], 'access-router agent started');
            const ctls: ChildProcess[] = [];
            try {
              // logLevel warn: no "controller started" line; ready once it answers (the dnsperf source's binding)
              const answers = (c: keyof typeof CTL) => async () => /status: NOERROR/.test((await lab.exec('client', ['dig', `@${CTL[c]}`, '-b', 'fc00:1::2', '+time=1', '+tries=1', 'AAAA', 'server.lab.example'], { timeoutMs: 5000 })).stdout);
              for (const c of cfg.controllers) ctls.push(await daemon(lab, c, ['controller', '--config', config], answers(c)));
              const n = o.coldQueries;
              const base = first;
              first += n;
              const half = Math.ceil(n / cfg.controllers.length);
              const window = 64;
              const phases: [string, () => Promise<Load>][] = [
                ['cold (new client each query)', () => split(cfg.controllers, (srv, part) => dnsload(lab, srv, base + part * half, Math.min(half, n - part * half), window / cfg.controllers.length))],
                ['warm (the same clients again)', () => split(cfg.controllers, (srv, part) => dnsload(lab, srv, base + part * half, Math.min(half, n - part * half), window / cfg.controllers.length))],
                [`warm, one source (dnsperf ${o.seconds} s)`, () => split(cfg.controllers, (srv) => dnsperf(lab, srv, o.seconds, dataFile))],
              ];
              for (const [phase, fn] of phases) {
                ctx.say(`dns (${cfg.name}): ${phase}`);
                const l = await fn();
                const row = { part: 'dns', config: cfg.name, at: phase };
                ctx.record({ ...row, metric: 'answers/s', unit: '1/s' }, l.answered / l.seconds);
                ctx.record({ ...row, metric: 'p50', unit: 'ms' }, l.p50);
                ctx.record({ ...row, metric: 'p99', unit: 'ms' }, l.p99);
                const bad = Object.entries(l.rcodes).filter(([k]) => k !== 'NOERROR');
                if (bad.length || l.answered < l.sent) ctx.note(`dns (${cfg.name}, ${phase}, rep ${rep + 1}): ${l.answered}/${l.sent} answered; ${JSON.stringify(l.rcodes)}`);
              }
            } finally {
              const w = warnings.splice(0);
              if (w.length) ctx.note(`dns (${cfg.name}, rep ${rep + 1}): ${w.length} warning/error log lines, e.g. ${[...new Set(w.map((l) => l.replace(/"time":\d+,|"pid":\d+,|"hostname":"[^"]*",/g, '')))].slice(0, 3).join(' | ')}`);
              for (const c of ctls) await stopChild(c);
              await stopChild(ar);
            }
          }
        }
      } finally {
        await Promise.all(etcd.map(stopChild));
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
