/**
 * Cost per connection, in the Fig. 5 lab (unshaped):
 *  - setup: time from connect() to the first response byte of `GET /1KB.bin` on a fresh connection,
 *    sequential connections, p50 and p99; router vs srv6pipes vs HAProxy;
 *  - memory: RSS growth of everything in m1's namespace per established idle flow, srv6pipes vs HAProxy.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SrError } from '../core/errors.js';
import type { Lab } from '../lab/index.js';
import { haproxy, maxFlows, router, srv6pipesProxy, steer, type Contender } from './contenders.js';
import { FIG5, shapedTopology, sid } from './labs.js';
import { fdLimit, startLighttpd, withFdLimit } from './pages.js';
import { percentile, record } from './stats.js';
import type { BenchContext, Figure, Point } from './types.js';

const SETUP_CLIENT = `import net from 'node:net';
const [host, n] = [process.argv[2], Number(process.argv[3])];
const req = 'GET /1KB.bin HTTP/1.1\\r\\nHost: bench\\r\\nConnection: close\\r\\n\\r\\n';
const ms = [];
for (let i = 0; i < n; i++) {
  ms.push(await new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let first;
    const s = net.connect({ host, port: 80 }, () => s.write(req));
    s.on('data', () => { if (first === undefined) first = Number(process.hrtime.bigint() - t0) / 1e6; });
    s.on('error', reject);
    s.on('close', () => (first === undefined ? reject(new Error('no response')) : resolve(first)));
  }));
}
process.stdout.write(JSON.stringify(ms) + '\\n');
`;

const IDLE_CLIENT = `import net from 'node:net';
const [host, n] = [process.argv[2], Number(process.argv[3])];
const socks = [];
let failed = 0;
const one = () => new Promise((resolve) => {
  const s = net.connect({ host, port: 80 }, () => (socks.push(s), resolve()));
  s.on('error', () => (failed++, resolve()));
});
for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, one));
process.stdout.write(JSON.stringify({ open: socks.length, failed }) + '\\n');
setInterval(() => undefined, 1 << 30);
`;

/** Many short-lived flows: widen the ephemeral port range and reuse TIME_WAIT ports (lab namespaces only). */
async function manyFlows(lab: Lab): Promise<void> {
  for (const host of [FIG5.client, FIG5.m1]) {
    await lab.exec(host, ['sysctl', '-qw', 'net.ipv4.ip_local_port_range=1024 65535', 'net.ipv4.tcp_tw_reuse=1']);
  }
}

function script(ctx: BenchContext, name: string, text: string): string {
  const path = join(ctx.work, name);
  writeFileSync(path, text);
  return path;
}

/** router (setup only), the proxy (2 workers), with --single the proxy at `workers: 0`, HAProxy: interleaved in this order */
function contenders(ctx: BenchContext, lab: Lab, withRouter: boolean): Contender[] {
  const proxy = (workers: number) => srv6pipesProxy(lab, FIG5.m1, FIG5.locator, [{ id: 1, function: 'copy' }], ctx.work, { relay: ctx.params.relay, workers });
  return [...(withRouter ? [router(FIG5.m1)] : []), proxy(2), ...(ctx.params.single ? [proxy(0)] : []), haproxy(lab, FIG5.m1, FIG5.locator, ctx.work)];
}

const segsOf = (c: Contender) => (c.kind === 'router' ? [] : [sid(FIG5.locator, 1)]);

export const connSetup: Figure = {
  id: 'setup',
  title: 'Connection setup: time to first byte of a fresh connection',
  what: 'Sequential fresh connections from the client, each `GET /1KB.bin` with `Connection: close`; the time from connect() to the first response byte. A proxy adds its own accept and a second handshake to the server. "added" is contender − router, per repetition.',
  plannedRuns: (p) => p.reps * (p.single ? 4 : 3),
  plots: () => [
    { file: 'setup-p50.svg', title: 'Connection setup + first byte, p50', scenario: 'unshaped', metric: 'setup p50', kind: 'bars' },
    { file: 'setup-p99.svg', title: 'Connection setup + first byte, p99', scenario: 'unshaped', metric: 'setup p99', kind: 'bars' },
  ],
  ratios: [
    ['proxy', 'router'],
    ['haproxy', 'router'],
    ['proxy', 'haproxy'],
    ['proxy-single', 'haproxy'],
  ],
  async run(ctx: BenchContext): Promise<Point[]> {
    const points: Point[] = [];
    const p = ctx.params;
    const client = script(ctx, 'setup-client.mjs', SETUP_CLIENT);
    await ctx.withLab(shapedTopology('fig5', 'unshaped'), async (lab) => {
      await startLighttpd(lab, FIG5.server, ctx.work, ['1KB']);
      await manyFlows(lab);
      for (let rep = 0; rep < p.reps && !ctx.aborted(); rep++) {
        const p50: Record<string, number> = {};
        const p99: Record<string, number> = {};
        for (const c of contenders(ctx, lab, true)) {
          if (ctx.aborted()) break;
          ctx.progress(`setup rep ${rep + 1}/${p.reps}: ${c.kind}, ${p.setupConnections} connections`);
          await c.start();
          try {
            await steer(lab, FIG5.client, FIG5.serverAddr, FIG5.gateway, segsOf(c));
            const n = p.setupConnections;
            await lab.exec(FIG5.client, [process.execPath, client, FIG5.serverAddr, String(Math.min(20, n))], { timeoutMs: 30000 }); // warm-up
            const r = await lab.exec(FIG5.client, [process.execPath, client, FIG5.serverAddr, String(n)], { timeoutMs: 120000 });
            if (r.code !== 0) throw new SrError('COMMAND_FAILED', `setup client via ${c.kind} failed: ${r.stderr.trim().slice(0, 400)}`);
            const ms = JSON.parse(r.stdout) as number[];
            p50[c.kind] = percentile(ms, 50);
            p99[c.kind] = percentile(ms, 99);
            ctx.tick();
          } finally {
            await c.stop();
          }
        }
        for (const [k, v] of Object.entries(p50)) record(points, { figure: 'setup', scenario: 'unshaped', series: k, x: 'p50', metric: 'setup p50', unit: 'ms' }, v);
        for (const [k, v] of Object.entries(p99)) record(points, { figure: 'setup', scenario: 'unshaped', series: k, x: 'p99', metric: 'setup p99', unit: 'ms' }, v);
        for (const k of ['proxy', 'proxy-single', 'haproxy']) {
          if (p50[k] === undefined || p50['router'] === undefined) continue;
          record(points, { figure: 'setup', scenario: 'unshaped', series: `${k} added`, x: 'p50', metric: 'added p50', unit: 'ms' }, p50[k]! - p50['router']);
          record(points, { figure: 'setup', scenario: 'unshaped', series: `${k} added`, x: 'p99', metric: 'added p99', unit: 'ms' }, p99[k]! - p99['router']!);
        }
      }
    });
    return points;
  },
};

/** Sum of VmRSS (bytes) of every process in the host's namespace. */
export function namespaceRss(lab: Lab, host: string): number {
  const pids = execFileSync('ip', ['netns', 'pids', lab.ns(host)], { encoding: 'utf8' }).split('\n').filter((l) => /^\d+$/.test(l.trim()));
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid.trim()}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kb * 1024;
}

async function established(lab: Lab, host: string): Promise<number> {
  const r = await lab.exec(host, ['ss', '-Htn', 'state', 'established']);
  return r.stdout.split('\n').filter((l) => l.trim().length > 0).length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openIdle(lab: Lab, path: string, n: number): Promise<{ child: ChildProcess; open: number; failed: number }> {
  const child = lab.spawn(FIG5.client, withFdLimit([process.execPath, path, FIG5.serverAddr, String(n)]), { stdio: ['ignore', 'pipe', 'pipe'] });
  const err: string[] = [];
  child.stderr!.on('data', (b: Buffer) => err.push(b.toString()));
  const r = await new Promise<{ open: number; failed: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new SrError('COMMAND_FAILED', `idle client: ${n} connections not open after 60 s`)), 60000);
    createInterface({ input: child.stdout! }).once('line', (l) => (clearTimeout(timer), resolve(JSON.parse(l) as { open: number; failed: number })));
    child.once('exit', (code) => (clearTimeout(timer), reject(new SrError('COMMAND_FAILED', `idle client exited with ${code}: ${err.join('').slice(-400)}`))));
  });
  return { child, ...r };
}

export const memory: Figure = {
  id: 'memory',
  title: 'Memory per established idle flow: srv6pipes vs HAProxy',
  what: 'N idle connections (no byte sent) through m1 to lighttpd; the RSS of every process in m1’s namespace after all 2N sockets there are established, minus the RSS before, divided by N.',
  plannedRuns: (p) => p.reps * (p.single ? 3 : 2) * p.idleFlows.length,
  plots: () => [{ file: 'memory.svg', title: 'RSS growth per idle flow', scenario: 'unshaped', metric: 'bytes per flow', kind: 'bars' }],
  ratios: [
    ['proxy', 'haproxy'],
    ['proxy-single', 'haproxy'],
    ['proxy-single', 'proxy'],
  ],
  async run(ctx: BenchContext): Promise<Point[]> {
    const points: Point[] = [];
    const p = ctx.params;
    const client = script(ctx, 'idle-client.mjs', IDLE_CLIENT);
    await ctx.withLab(shapedTopology('fig5', 'unshaped'), async (lab) => {
      await startLighttpd(lab, FIG5.server, ctx.work, ['1KB']);
      await manyFlows(lab);
      for (let rep = 0; rep < p.reps && !ctx.aborted(); rep++) {
        for (const wanted of p.idleFlows) {
          const cap = Math.floor(maxFlows() / 1000) * 1000;
          const n = Math.min(wanted, cap);
          if (n < wanted && rep === 0) ctx.note(`memory: ${wanted} idle flows capped at ${n}: the hard fd limit (${fdLimit()}) allows ${maxFlows()} flows (2 sockets each) per relay process`);
          for (const c of contenders(ctx, lab, false)) {
            if (ctx.aborted()) break;
            ctx.progress(`memory rep ${rep + 1}/${p.reps}: ${c.kind}, ${n} idle flows`);
            await c.start();
            let idle: ChildProcess | undefined;
            try {
              await steer(lab, FIG5.client, FIG5.serverAddr, FIG5.gateway, segsOf(c));
              await sleep(500);
              const before = namespaceRss(lab, FIG5.m1);
              const o = await openIdle(lab, client, n);
              idle = o.child;
              if (o.failed > 0) ctx.note(`memory ${c.kind} ${n}: ${o.failed} of ${n} connections failed; per-flow figures use the ${o.open} open ones`);
              const deadline = Date.now() + 30000;
              let est = 0;
              while ((est = await established(lab, FIG5.m1)) < 2 * o.open && Date.now() < deadline) await sleep(200);
              if (est < 2 * o.open) ctx.note(`memory ${c.kind} ${n}: only ${est} of ${2 * o.open} sockets established on m1`);
              await sleep(1000);
              const after = namespaceRss(lab, FIG5.m1);
              if (o.open === 0) throw new SrError('COMMAND_FAILED', 'no connection opened');
              record(points, { figure: 'memory', scenario: 'unshaped', series: c.kind, x: `${n} flows`, metric: 'bytes per flow', unit: 'B' }, (after - before) / o.open);
              record(points, { figure: 'memory', scenario: 'unshaped', series: c.kind, x: `${n} flows`, metric: 'RSS', unit: 'MB' }, after / 1e6);
            } catch (e) {
              if (ctx.aborted()) throw e;
              const est = await established(lab, FIG5.m1);
              const srv = await established(lab, FIG5.server);
              ctx.note(`memory ${c.kind} ${n} flows: no point (${(e as Error).message}; established sockets: m1 ${est}, server ${srv})`);
            } finally {
              ctx.tick();
              if (idle && idle.exitCode === null) {
                const gone = new Promise((r) => idle!.once('exit', r));
                idle.kill('SIGKILL');
                await gone;
              }
              await c.stop();
              // the next contender starts from a quiet lab: every flow of this one closed
              const deadline = Date.now() + 20000;
              while (Date.now() < deadline && (await established(lab, FIG5.server)) + (await established(lab, FIG5.m1)) > 0) await sleep(200);
            }
          }
        }
      }
    });
    return points;
  },
};
