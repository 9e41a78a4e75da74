/**
 * `srv6pipes soak` (npm run soak): N concurrent flows held through the two-proxy chain of Fig. 1
 * (client — p1 — p2 — server, an XOR pair so both proxies transform every byte) for a while, a flood
 * of SYNs naming an unknown function at p1's locator meanwhile, then every flow finished and checked
 * by sha256 end to end. Reports flows lost, memory per flow (RSS of each proxy's processes, idle vs
 * holding the flows), the flood's outcomes and what the proxies counted. Not part of `npm test`.
 * Every wait is bounded (hold, flood, and fixed deadlines for opening and finishing).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SrError } from '../core/errors.js';
import { Lab, loadTopology } from '../lab/index.js';
import { JsonLines } from '../sys/json-lines.js';

const BIN = fileURLToPath(new URL('../../../bin/srv6pipes', import.meta.url));
const PEER = fileURLToPath(new URL('./soak-peer.js', import.meta.url));

export interface SoakParams {
  flows: number;
  holdMs: number;
  floodMs: number;
  /** bytes per flow each way (half sent at open, half at the end) */
  bytes: number;
  workers: number;
  out: string;
}

/** "120s", "2m", "500ms" or a number of seconds. */
/** `srv6pipes soak` options, typed (the CLI parses them); absent = the default. Durations in ms. */
export interface SoakOptions {
  flows?: number;
  hold?: number;
  flood?: number;
  bytes?: number;
  workers?: number;
  out?: string;
}

export function soakParams(o: SoakOptions): SoakParams {
  const int = (k: 'flows' | 'bytes' | 'workers', d: number, min: number, max: number): number => {
    const v = o[k] ?? d;
    if (!Number.isInteger(v) || v < min || v > max) throw new SrError('BAD_ARGUMENT', `--${k}: an integer in ${min}..${max}`, { hint: 'see srv6pipes soak --help' });
    return v;
  };
  const p: SoakParams = {
    flows: int('flows', 10_000, 1, 25_000),
    holdMs: o.hold ?? 120_000,
    floodMs: o.flood ?? 30_000,
    bytes: int('bytes', 16_384, 2, 16 << 20),
    workers: int('workers', 2, 1, 64),
    out: resolve(o.out ?? 'results/soak'),
  };
  if (p.holdMs > 3_600_000) throw new SrError('BAD_ARGUMENT', '--hold: at most 60m');
  if (p.floodMs > p.holdMs) throw new SrError('BAD_ARGUMENT', '--flood must fit in --hold (the flood runs while the flows are held)');
  return p;
}

function proxyConfig(locator: string, p: SoakParams, host: string): string {
  const room = Math.ceil(p.flows * 1.2) + 100; // SO_REUSEPORT spreads flows unevenly over the workers
  return [
    `workers: ${p.workers}`,
    `locators: [ { prefix: "${locator}" } ]`,
    'functions:',
    '  - { id: 1, function: copy }',
    '  - { id: 2, function: xor }',
    `timeouts: { connect: 10s, idle: ${Math.ceil(p.holdMs / 1000) + 300}s, drain: 10s }`,
    `limits: { flows: ${room}, flowsPerClient: ${room} }`,
    // the flow table needs a credential: a root-only socket, which `--config` points the CLI at
    `admin: { socket: "${resolve(p.out, `${host}-admin.sock`)}" }`,
    // warn lines for every flood SYN would dwarf the report; rejections are counted in /stats
    'logLevel: error',
  ].join('\n');
}

/** RSS (kB) of a process and its descendants. */
function rssTree(pid: number): { processes: number; rssKb: number } {
  let processes = 0;
  let rssKb = 0;
  const visit = (p: number): void => {
    try {
      const st = readFileSync(`/proc/${p}/status`, 'utf8');
      rssKb += Number(/VmRSS:\s+(\d+)/.exec(st)?.[1] ?? 0);
      processes++;
      for (const t of readdirSync(`/proc/${p}/task`)) {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) visit(Number(c));
      }
    } catch {
      // gone
    }
  };
  visit(pid);
  return { processes, rssKb };
}

async function adminJson(lab: Lab, host: string, what: 'stats' | 'flows', outDir: string): Promise<unknown> {
  const r = await lab.exec(host, [process.execPath, BIN, what, '--json', '--config', join(outDir, `${host}.yaml`)], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${host}: srv6pipes ${what}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as unknown;
}

interface Stats {
  functions: { functionId: number; flowsActive: number; flowsTotal: number; endings: Record<string, number> }[];
  rejected: Record<string, number>;
  workers: number;
}
const active = (s: Stats): number => s.functions.reduce((n, f) => n + f.flowsActive, 0);

async function startLogged(lab: Lab, host: string, argv: string[], logFile: string, ready: (l: Record<string, unknown>) => boolean, what: string): Promise<{ child: ChildProcess; out: JsonLines }> {
  const child = lab.spawn(host, argv, { stdio: ['pipe', 'pipe', openSync(logFile, 'a')] });
  const out = new JsonLines(child);
  const died = new Promise<never>((_, reject) => child.once('exit', (c) => reject(new Error(`${what} exited with ${c}: ${out.text.slice(-5).join('\n')}`))));
  await Promise.race([out.next(ready, 30_000, what), died]);
  died.catch(() => undefined);
  return { child, out };
}

export async function runSoak(p: SoakParams, print: (s: string) => void = (s) => void process.stdout.write(`${s}\n`)): Promise<number> {
  mkdirSync(p.out, { recursive: true });
  const t0 = Date.now();
  const lab = await Lab.up(loadTopology('fig1'), { name: `soak${process.pid.toString(36)}`.slice(0, 12) });
  const children: ChildProcess[] = [];
  try {
    const proxies: Record<string, ChildProcess> = {};
    for (const [host, loc] of [['p1', 'fc00:a::/80'], ['p2', 'fc00:b::/80']] as const) {
      const cfg = join(p.out, `${host}.yaml`);
      writeFileSync(cfg, proxyConfig(loc, p, host));
      // the proxy's log lines (errors only) go to a file; 'proxy started' is an info line: wait on stats
      const child = lab.spawn(host, [process.execPath, BIN, 'proxy', '--config', cfg], { stdio: ['ignore', openSync(join(p.out, `${host}.log`), 'w'), 'inherit'] });
      children.push(child);
      proxies[host] = child;
    }
    for (const host of ['p1', 'p2']) {
      const until = Date.now() + 30_000;
      for (;;) {
        if (proxies[host]!.exitCode !== null) throw new Error(`the proxy on ${host} exited: see ${p.out}/${host}.log`);
        try {
          await adminJson(lab, host, 'stats', p.out);
          break;
        } catch (e) {
          if (Date.now() > until) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
    const server = await startLogged(lab, 'server', [process.execPath, PEER, 'server', '9000'], join(p.out, 'peers.log'), (l) => l['event'] === 'listening', 'the echo server');
    children.push(server.child);
    const idle = { p1: rssTree(proxies['p1']!.pid!), p2: rssTree(proxies['p2']!.pid!) };
    print(`soak: ${p.flows} flows through p1 — p2 (xor pair), ${p.bytes} bytes each way, hold ${p.holdMs / 1000}s, flood ${p.floodMs / 1000}s`);
    const client = await startLogged(lab, 'client', [process.execPath, PEER, 'client', String(p.flows), String(p.bytes), 'fc00:a::2:0:5a,fc00:b::2:0:5a'], join(p.out, 'peers.log'), (l) => l['event'] === 'opened', 'the client opening its flows');
    children.push(client.child);
    const opened = (await client.out.next((l) => l['event'] === 'opened')) as { flows: number; failedOpen: Record<string, number>; ms: number };
    print(`  opened ${opened.flows} flows in ${(opened.ms / 1000).toFixed(1)} s${Object.keys(opened.failedOpen).length ? `, failed: ${JSON.stringify(opened.failedOpen)}` : ''}`);
    const holdStart = Date.now();
    // memory holding the flows, before the flood: a moment for the last relays to settle
    await new Promise((r) => setTimeout(r, Math.min(2000, p.holdMs / 4)));
    const holding = { p1: rssTree(proxies['p1']!.pid!), p2: rssTree(proxies['p2']!.pid!) };
    // the flood runs while the flows are held
    const floodChild = lab.spawn('client', [process.execPath, PEER, 'flood', 'fc00:a::99:0:0', String(p.floodMs), '1000000', '64'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(floodChild);
    const floodOut = new JsonLines(floodChild);
    const samples: { atS: number; p1: { rssKb: number; active: number }; p2: { rssKb: number; active: number } }[] = [];
    let peak = { p1: idle.p1, p2: idle.p2 };
    while (Date.now() - holdStart < p.holdMs) {
      const s1 = (await adminJson(lab, 'p1', 'stats', p.out)) as Stats;
      const s2 = (await adminJson(lab, 'p2', 'stats', p.out)) as Stats;
      const r = { p1: rssTree(proxies['p1']!.pid!), p2: rssTree(proxies['p2']!.pid!) };
      if (r.p1.rssKb + r.p2.rssKb > peak.p1.rssKb + peak.p2.rssKb) peak = r;
      samples.push({ atS: Math.round((Date.now() - holdStart) / 1000), p1: { rssKb: r.p1.rssKb, active: active(s1) }, p2: { rssKb: r.p2.rssKb, active: active(s2) } });
      await new Promise((res) => setTimeout(res, Math.min(10_000, Math.max(0, p.holdMs - (Date.now() - holdStart)))));
    }
    const held = samples.at(-1);
    const floodResult = (await floodOut.next((l) => l['event'] === 'flood', 30_000, 'the flood summary')) as { attempts: number; outcomes: Record<string, number>; perSecond: number };
    print(`  held ${Math.round((Date.now() - holdStart) / 1000)} s; flood: ${floodResult.attempts} connects (${floodResult.perSecond}/s): ${JSON.stringify(floodResult.outcomes)}`);
    client.child.stdin!.write('finish\n');
    const done = (await client.out.next((l) => l['event'] === 'done', 180_000, 'the flows to finish')) as {
      flows: number;
      verified: number;
      mismatched: number;
      short: number;
      errors: Record<string, number>;
      lostBeforeFinish: Record<string, number>;
      finishMs: number;
    };
    // the flow tables must empty
    let tables = { p1: -1, p2: -1 };
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      tables = { p1: ((await adminJson(lab, 'p1', 'flows', p.out)) as unknown[]).length, p2: ((await adminJson(lab, 'p2', 'flows', p.out)) as unknown[]).length };
      if (tables.p1 === 0 && tables.p2 === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const final = { p1: (await adminJson(lab, 'p1', 'stats', p.out)) as Stats, p2: (await adminJson(lab, 'p2', 'stats', p.out)) as Stats };
    const perFlow = (host: 'p1' | 'p2'): number => Math.round(((holding[host].rssKb - idle[host].rssKb) * 1024) / Math.max(1, opened.flows));
    const lost = p.flows - done.verified;
    const result = {
      params: { ...p, out: undefined },
      opened,
      done,
      lost,
      flood: floodResult,
      rejectedAtP1: final.p1.rejected,
      endings: { p1: final.p1.functions.map((f) => ({ fn: f.functionId, endings: f.endings })), p2: final.p2.functions.map((f) => ({ fn: f.functionId, endings: f.endings })) },
      flowTablesAfter: tables,
      memory: {
        idle: { p1: idle.p1, p2: idle.p2 },
        holding: { p1: holding.p1, p2: holding.p2 },
        peakDuringFlood: { p1: peak.p1, p2: peak.p2 },
        bytesPerFlow: { p1: perFlow('p1'), p2: perFlow('p2') },
      },
      samples,
      totalS: Math.round((Date.now() - t0) / 1000),
      heldActive: held,
      date: new Date().toISOString(),
    };
    writeFileSync(join(p.out, 'soak.json'), `${JSON.stringify(result, null, 1)}\n`);
    const ok = lost === 0 && done.mismatched === 0 && tables.p1 === 0 && tables.p2 === 0 && (final.p1.rejected['FLOW_UNKNOWN_FUNCTION'] ?? 0) > 0;
    const lines = [
      `# Soak ${result.date}`,
      '',
      `- ${p.flows} flows through client — p1 — p2 — server (xor pair), ${p.bytes} bytes each way per flow, ${p.workers} workers per proxy`,
      `- opened in ${(opened.ms / 1000).toFixed(1)} s; held ${p.holdMs / 1000} s (active at the last sample: p1 ${held?.p1.active}, p2 ${held?.p2.active})`,
      `- verified by sha256: ${done.verified}; mismatched ${done.mismatched}; short ${done.short}; errors ${JSON.stringify(done.errors)}; lost before finish ${JSON.stringify(done.lostBeforeFinish)}`,
      `- flood at p1's locator (unknown function) during the hold: ${floodResult.attempts} connects, ${floodResult.perSecond}/s, outcomes ${JSON.stringify(floodResult.outcomes)}; p1 counted ${JSON.stringify(final.p1.rejected)}`,
      `- memory (RSS of each proxy's ${holding.p1.processes} processes): p1 ${(idle.p1.rssKb / 1024).toFixed(0)} MB idle → ${(holding.p1.rssKb / 1024).toFixed(0)} MB holding the flows (peak ${(peak.p1.rssKb / 1024).toFixed(0)} MB during the flood), p2 ${(idle.p2.rssKb / 1024).toFixed(0)} → ${(holding.p2.rssKb / 1024).toFixed(0)} MB (peak ${(peak.p2.rssKb / 1024).toFixed(0)}): ${(perFlow('p1') / 1024).toFixed(1)} / ${(perFlow('p2') / 1024).toFixed(1)} KiB per flow`,
      `- flow tables after: p1 ${tables.p1}, p2 ${tables.p2}; total ${result.totalS} s`,
      `- ${ok ? 'PASS' : 'FAIL'}: nothing lost, every flow intact, the flood refused and counted`,
    ];
    writeFileSync(join(p.out, 'summary.md'), `${lines.join('\n')}\n`);
    for (const l of lines.slice(2)) print(l);
    print(`results: ${join(p.out, 'soak.json')}, ${join(p.out, 'summary.md')}`);
    return ok ? 0 : 1;
  } finally {
    for (const c of children.reverse()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => exitOrKill(c, 15_000)));
    await lab.down();
  }
}

/** Waits for a child to exit; SIGKILL after `ms`. */
function exitOrKill(c: ChildProcess, ms: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      resolve();
    }, ms);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
