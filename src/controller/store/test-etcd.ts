/**
 * For tests and the scale measurements only: a one-member etcd (Debian's etcd-server) on loopback —
 * free ports, data in a temporary folder, removed by stop() — and what they read back of it (its
 * db size, its resident memory). The store's unit tests, `npm run scale` and
 * scripts/repoint-timing.mjs all start it here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../sys/run.js';
import { EtcdClient } from './etcd-client.js';

export const HAS_LOOPBACK_ETCD = existsSync('/usr/bin/etcd');

/** A TCP port nobody listens on now (127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Until `cond` holds, polling every 25 ms; throws after `ms`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface LoopbackEtcd {
  endpoint: string;
  proc: ChildProcess;
  /** a client of it (closed by stop()) */
  client(timeoutMs?: number): EtcdClient;
  /** `etcdctl endpoint status`: the db file's size and the part in use (bytes) */
  dbSize(): Promise<{ dbSize: number; inUse: number }>;
  /** the member's resident memory (bytes) */
  rss(): number;
  /** closes the clients, kills the member and removes its data */
  stop(): Promise<void>;
}

/** Starts the member and waits until it answers; `args` go to etcd as well (e.g. a larger quota). */
export async function startLoopbackEtcd(args: readonly string[] = []): Promise<LoopbackEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-etcd-'));
  const [cp, pp] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${cp}`;
  const peer = `http://127.0.0.1:${pp}`;
  const proc = spawn('etcd', ['--name', 'one', '--data-dir', join(dir, 'data'), '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `one=${peer}`, '--log-level', 'error', ...args], { stdio: 'ignore' });
  const clients: EtcdClient[] = [];
  const e: LoopbackEtcd = {
    endpoint,
    proc,
    client: (timeoutMs = 2000) => {
      const c = new EtcdClient({ endpoints: [endpoint], timeoutMs });
      clients.push(c);
      return c;
    },
    async dbSize() {
      const r = await run(['etcdctl', '--endpoints', endpoint, 'endpoint', 'status', '-w', 'json']);
      const [s] = JSON.parse(r.stdout) as { Status: { dbSize: number; dbSizeInUse: number } }[];
      return { dbSize: s!.Status.dbSize, inUse: s!.Status.dbSizeInUse };
    },
    rss() {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : NaN;
    },
    async stop() {
      for (const c of clients.splice(0)) c.close();
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const probe = e.client();
  try {
    await until('etcd on loopback to answer', () => probe.status().then(() => true, () => false), 20_000);
  } catch (err) {
    await e.stop();
    throw err;
  }
  return e;
}
