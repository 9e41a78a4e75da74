/**
 * A one-member etcd (Debian's etcd-server) on loopback for the store's unit tests: free ports, data
 * in a temporary folder, killed and removed by stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdClient } from '../../src/controller/store/etcd-client.js';

export const HAS_LOOPBACK_ETCD = existsSync('/usr/bin/etcd');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface LoopbackEtcd {
  endpoint: string;
  proc: ChildProcess;
  client(timeoutMs?: number): EtcdClient;
  stop(): void;
}

export async function startLoopbackEtcd(): Promise<LoopbackEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-etcd-'));
  const [cp, pp] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${cp}`;
  const peer = `http://127.0.0.1:${pp}`;
  const proc = spawn('etcd', ['--name', 'one', '--data-dir', join(dir, 'data'), '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `one=${peer}`, '--log-level', 'error'], { stdio: 'ignore' });
  const clients: EtcdClient[] = [];
  const e: LoopbackEtcd = {
    endpoint,
    proc,
    client: (timeoutMs = 2000) => {
      const c = new EtcdClient({ endpoints: [endpoint], timeoutMs });
      clients.push(c);
      return c;
    },
    stop: () => {
      for (const c of clients) c.close();
      if (proc.exitCode === null) proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const probe = e.client();
  try {
    await until('etcd to answer', () => probe.status().then(() => true, () => false), 20_000);
  } catch (err) {
    e.stop();
    throw err;
  }
  return e;
}
