/**
 * Emulated links (`delay`, `loss` in a topology): starting the link emulator of each delayed link in
 * its middle namespace (a detached process, logged like a service, ended by `Lab.down` with every
 * other process of the lab), and reading what the links did: the emulator's stats file and the loss
 * chains' nftables counters.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SrError } from '../core/errors.js';
import { run } from '../sys/run.js';
import type { EmulatorStats } from './linkemu/emulator.js';
import { EMU_IF, LOSS_TABLE, type NamespacePlan } from './plan.js';
import type { ServiceState } from './state.js';
import type { Topology } from './topology.js';

const MAIN = fileURLToPath(new URL('./linkemu/main.js', import.meta.url));
const START_TIMEOUT_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let rtProbe: string[] | undefined;
/** `chrt -f 10` when this machine lets us run a process SCHED_FIFO (probed once), else nothing.
 *  A link's frames are moved by softirqs on a real host: they do not queue behind processes. A
 *  real-time emulator sleeps in ppoll when idle and uses CPU only for the frames it moves (the
 *  kernel's RT throttling keeps 5 % of each CPU for others even then). */
function realtimePrefix(): string[] {
  if (rtProbe === undefined) {
    const r = spawnSync('chrt', ['-f', '10', 'true'], { stdio: 'ignore' });
    rtProbe = r.status === 0 ? ['chrt', '-f', '10'] : [];
  }
  return rtProbe;
}

export function emulatorStatsPath(logDir: string, host: string): string {
  return join(logDir, `${host}.stats.json`);
}

/** Starts the emulator of every middle namespace in `plans`; resolves once each has bound its sockets
 *  (its stats file exists). LAB_UP_FAILED names the link and the log's tail. */
export async function startEmulators(plans: NamespacePlan[], logDir: string): Promise<ServiceState[]> {
  const started: ServiceState[] = [];
  const waits: Promise<void>[] = [];
  for (const p of plans) {
    if (!p.emulator) continue;
    mkdirSync(logDir, { recursive: true });
    const log = join(logDir, `${p.host}.linkemu.log`);
    const stats = emulatorStatsPath(logDir, p.host);
    const fd = openSync(log, 'a');
    let child;
    try {
      const argv = [...realtimePrefix(), process.execPath, MAIN, '--a', EMU_IF.a, '--b', EMU_IF.b, '--delay-us', String(p.emulator.delayUs), '--mtu', String(p.emulator.mtu), '--stats', stats];
      child = spawn('ip', ['netns', 'exec', p.ns, ...argv], { detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    child.unref();
    let exited: string | undefined;
    child.on('exit', (code, sig) => (exited = sig ?? `code ${code}`));
    child.on('error', (e) => (exited = e.message));
    const what = `link emulator of links[${p.emulator.link}] (${p.ns})`;
    if (child.pid !== undefined) started.push({ host: p.host, name: 'linkemu', pid: child.pid, log });
    waits.push(
      (async () => {
        const deadline = Date.now() + START_TIMEOUT_MS;
        for (;;) {
          if (existsSync(stats)) return;
          if (exited !== undefined || child.pid === undefined) {
            await sleep(50); // let the log be flushed
            throw new SrError('LAB_UP_FAILED', `${what} exited (${exited ?? 'no pid'}): ${tail(log)} (log: ${log})`);
          }
          if (Date.now() > deadline) throw new SrError('LAB_UP_FAILED', `${what} not ready after ${START_TIMEOUT_MS} ms (log: ${log})`);
          await sleep(20);
        }
      })(),
    );
  }
  await Promise.all(waits);
  return started;
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '';
  }
}

export interface LossCounter {
  /** frames that reached the loss chain (the receiving interface) */
  frames: number;
  dropped: number;
}

export interface LinkStatus {
  link: number;
  /** "host.iface" of each end */
  a: string;
  b: string;
  delay?: string;
  loss?: string;
  /** the emulator's counters (links with a delay) */
  emulator?: EmulatorStats;
  /** per receiving end ("host.iface"): what the loss chain saw and dropped (links with a loss) */
  lossCounters?: Record<string, LossCounter>;
}

interface NftJson {
  nftables: { rule?: { chain: string; expr: ({ counter?: { packets: number } } & Record<string, unknown>)[] } }[];
}

/** The loss chains' counters in one host: chain in_<iface> → {frames, dropped}. */
async function lossCounters(ns: string): Promise<Map<string, LossCounter>> {
  const out = new Map<string, LossCounter>();
  const r = await run(['ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'table', 'netdev', LOSS_TABLE]);
  if (r.code !== 0) return out;
  const doc = JSON.parse(r.stdout) as NftJson;
  for (const item of doc.nftables) {
    const rule = item.rule;
    if (!rule || !rule.chain.startsWith('in_')) continue;
    const iface = rule.chain.slice(3);
    const packets = rule.expr.find((e) => e.counter)?.counter?.packets ?? 0;
    const c = out.get(iface) ?? { frames: 0, dropped: 0 };
    if (rule.expr.some((e) => 'drop' in e)) c.dropped = packets;
    else c.frames = packets;
    out.set(iface, c);
  }
  return out;
}

/** What every emulated link did so far (links without delay or loss are left out). */
export async function linkStatus(topo: Topology, namespaces: Record<string, string>, logDir: string): Promise<LinkStatus[]> {
  const out: LinkStatus[] = [];
  const counters = new Map<string, Map<string, LossCounter>>();
  for (const [i, l] of topo.links.entries()) {
    if (l.delay === undefined && l.loss === undefined) continue;
    const s: LinkStatus = { link: i, a: `${l.a.host}.${l.a.iface}`, b: `${l.b.host}.${l.b.iface}` };
    if (l.delay !== undefined) {
      s.delay = l.delay;
      const path = emulatorStatsPath(logDir, `_l${i}`);
      try {
        s.emulator = JSON.parse(readFileSync(path, 'utf8')) as EmulatorStats;
      } catch {
        // not written yet, or the lab is down
      }
    }
    if (l.loss !== undefined) {
      s.loss = l.loss;
      s.lossCounters = {};
      for (const end of [l.a, l.b]) {
        const ns = namespaces[end.host];
        if (!ns) continue;
        if (!counters.has(end.host)) counters.set(end.host, await lossCounters(ns));
        s.lossCounters[`${end.host}.${end.iface}`] = counters.get(end.host)!.get(end.iface) ?? { frames: 0, dropped: 0 };
      }
    }
    out.push(s);
  }
  return out;
}
