/**
 * What m1 (or p1/p2) runs: a Linux router (plain forwarding), an srv6pipes proxy, or HAProxy in
 * transparent mode behind the same four nftables rules the proxy installs (kernel-datapath.md).
 * Every process runs inside a lab namespace, in the foreground, with configs from the work dir.
 */
import type { BenchRelay } from './types.js';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SrError } from '../core/errors.js';
import type { Lab } from '../lab/index.js';
import { fdLimit, waitListening, withFdLimit } from './pages.js';

const BIN = fileURLToPath(new URL('../../../bin/srv6pipes', import.meta.url));
const NFT_TABLE = 's6pbench';
const HAPROXY_PORT = 7777;

/** Flows one relay process can hold: two sockets each, under the hard fd limit (with room for pipes). */
export function maxFlows(): number {
  return Math.floor((fdLimit() - 1500) / 2);
}

/** `proxy-single`: the srv6pipes proxy with `workers: 0` (one process; bench --single) */
export type ContenderKind = 'router' | 'proxy' | 'proxy-single' | 'haproxy';

export interface Contender {
  kind: ContenderKind;
  host: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** the main process's pid as seen from the host (the proxy's workers are its children) */
  pid(): number | undefined;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

async function stopChild(child: ChildProcess | undefined, graceMs = 5000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
  if ((await Promise.race([exited(child).then(() => 'ok' as const), late])) === 'late') {
    child.kill('SIGKILL');
    await exited(child);
  }
  clearTimeout(timer);
}

async function must(lab: Lab, host: string, argv: string[], input?: string): Promise<void> {
  const r = await lab.exec(host, argv, input === undefined ? {} : { input });
  if (r.code !== 0) throw new SrError('COMMAND_FAILED', `${host}: ${argv.join(' ')}: ${r.stderr.trim()}`);
}

/** The client's host route to the server: plain, or with an SRH pushed inline (segs in order);
 *  `extra` route attributes (e.g. ['congctl', 'cubic']). */
export async function steer(lab: Lab, client: string, server: string, gateway: string, segs: string[], extra: string[] = []): Promise<void> {
  const encap = segs.length > 0 ? ['encap', 'seg6', 'mode', 'inline', 'segs', segs.join(',')] : [];
  await must(lab, client, ['ip', '-6', 'route', 'replace', `${server}/128`, ...encap, 'via', gateway, 'dev', 'eth0', ...extra]);
}

export function router(host: string): Contender {
  return { kind: 'router', host, start: async () => undefined, stop: async () => undefined, pid: () => undefined };
}

export interface ProxyFunction {
  id: number;
  function: string;
  options?: Record<string, unknown>;
}

/**
 * `srv6pipes proxy` with 2 workers (the CPU count of the reference machine) and its own netconf;
 * `workers: 0` is the contender `proxy-single` (one process, the primary serving the flows).
 */
export function srv6pipesProxy(lab: Lab, host: string, locator: string, functions: ProxyFunction[], work: string, o: { workers?: number; relay?: BenchRelay } = {}): Contender {
  const workers = o.workers ?? 2;
  let child: ChildProcess | undefined;
  return {
    kind: workers === 0 ? 'proxy-single' : 'proxy',
    host,
    pid: () => child?.pid,
    async start() {
      const cfg = join(work, `proxy-${lab.name}-${host}-w${workers}.yaml`);
      const fns = functions.map((f) => `  - { id: ${f.id}, function: ${f.function}${f.options ? `, options: ${JSON.stringify(f.options)}` : ''} }`);
      // one client (wrk, the idle-flow opener) is the whole world here: the same ceiling as HAProxy's maxconn
      const limits = `limits: { flows: ${maxFlows()}, flowsPerClient: ${maxFlows()} }`;
      writeFileSync(cfg, [`workers: ${workers}`, `locators: [ { prefix: "${locator}" } ]`, 'functions:', ...fns, 'timeouts: { connect: 5s, drain: 1s }', limits, ...(o.relay === 'js' ? ['nativeRelay: off'] : o.relay === 'native-late' ? ['nativeRelay: { connectEarly: false }'] : []), ''].join('\n'));
      const c = lab.spawn(host, withFdLimit([process.execPath, BIN, 'proxy', '--config', cfg]), { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      const text: string[] = [];
      c.stderr!.on('data', (b: Buffer) => text.push(b.toString()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new SrError('COMMAND_FAILED', `srv6pipes proxy on ${host} did not start in 20 s: ${text.join('').slice(-400)}`)), 20000);
        createInterface({ input: c.stdout! }).on('line', (line) => {
          text.push(line);
          if (line.includes('"proxy started"')) {
            clearTimeout(timer);
            resolve();
          }
        });
        c.once('exit', (code) => {
          clearTimeout(timer);
          reject(new SrError('COMMAND_FAILED', `srv6pipes proxy on ${host} exited with ${code}: ${text.join('\n').slice(-600)}`));
        });
      });
    },
    async stop() {
      await stopChild(child, 8000);
      child = undefined;
    },
  };
}

/** HAProxy 2.x, transparent (`usesrc clientip`), splice-auto, 2 threads; interception by nftables
 *  TPROXY on the same locator as the proxy (the four rules of kernel-datapath.md). */
export function haproxy(lab: Lab, host: string, locator: string, work: string): Contender {
  let child: ChildProcess | undefined;
  return {
    kind: 'haproxy',
    host,
    pid: () => child?.pid,
    async start() {
      const nft = [
        `table ip6 ${NFT_TABLE} {`,
        '  chain pre {',
        '    type filter hook prerouting priority mangle; policy accept;',
        `    ip6 daddr ${locator} meta mark set 1`,
        `    meta mark 1 tcp flags & (syn|ack) == syn tproxy to :${HAPROXY_PORT} accept`,
        '    meta mark 1 accept',
        '    meta l4proto tcp socket transparent 1 meta mark set 1 accept',
        '  }',
        '}',
        '',
      ].join('\n');
      await must(lab, host, ['nft', '-f', '-'], nft);
      await must(lab, host, ['ip', '-6', 'rule', 'add', 'fwmark', '1', 'lookup', '100']);
      await must(lab, host, ['ip', '-6', 'route', 'replace', 'local', '::/0', 'dev', 'lo', 'table', '100']);
      const cfg = join(work, `haproxy-${lab.name}-${host}.cfg`);
      writeFileSync(
        cfg,
        [
          'global',
          '  nbthread 2',
          `  maxconn ${maxFlows()}`,
          '  maxpipes 500',
          'defaults',
          '  mode tcp',
          '  option splice-auto',
          '  timeout connect 5s',
          '  timeout client 10m',
          '  timeout server 10m',
          'frontend fe',
          `  bind [::]:${HAPROXY_PORT} transparent`,
          '  default_backend be',
          'backend be',
          '  source ipv6@::: usesrc clientip',
          '  server s0 0.0.0.0',
          '',
        ].join('\n'),
      );
      const c = lab.spawn(host, withFdLimit(['haproxy', '-db', '-f', cfg]), { stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      const err: string[] = [];
      c.stderr!.on('data', (b: Buffer) => err.push(b.toString()));
      try {
        await waitListening(lab, host, HAPROXY_PORT, 'haproxy', c);
      } catch (e) {
        throw new SrError('COMMAND_FAILED', `${(e as Error).message}: ${err.join('').slice(-600)}`);
      }
    },
    async stop() {
      await stopChild(child);
      child = undefined;
      await lab.exec(host, ['nft', 'delete', 'table', 'ip6', NFT_TABLE]);
      await lab.exec(host, ['ip', '-6', 'rule', 'del', 'fwmark', '1', 'lookup', '100']);
      await lab.exec(host, ['ip', '-6', 'route', 'flush', 'table', '100']);
    },
  };
}
