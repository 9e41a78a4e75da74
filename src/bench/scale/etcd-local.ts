/**
 * A one-member etcd on loopback for the controller-side measurements (memory, re-pointing): Debian's
 * etcd-server, data in a temporary folder, removed at stop(). Its db size and RSS are read back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdClient } from '../../controller/store/etcd-client.js';
import { run } from '../../sys/run.js';

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

export interface LocalEtcd {
  endpoint: string;
  client(): EtcdClient;
  /** `etcdctl endpoint status`: the db file's size and the part in use (bytes) */
  dbSize(): Promise<{ dbSize: number; inUse: number }>;
  /** the member's resident memory (bytes) */
  rss(): number;
  stop(): Promise<void>;
}

export async function startLocalEtcd(): Promise<LocalEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-scale-etcd-'));
  const [cp, pp] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${cp}`;
  const peer = `http://127.0.0.1:${pp}`;
  const proc: ChildProcess = spawn('etcd', ['--name', 'one', '--data-dir', join(dir, 'data'), '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `one=${peer}`, '--log-level', 'error', '--quota-backend-bytes', String(4 * 1024 ** 3)], { stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const probe = new EtcdClient({ endpoints: [endpoint], timeoutMs: 2000 });
  try {
    const end = Date.now() + 20_000;
    for (;;) {
      if (await probe.status().then(() => true, () => false)) break;
      if (Date.now() > end || proc.exitCode !== null) throw new Error('etcd on loopback did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stop();
    throw e;
  } finally {
    probe.close();
  }
  return {
    endpoint,
    client: () => new EtcdClient({ endpoints: [endpoint], timeoutMs: 10_000 }),
    async dbSize() {
      const r = await run(['etcdctl', '--endpoints', endpoint, 'endpoint', 'status', '-w', 'json']);
      const [s] = JSON.parse(r.stdout) as { Status: { dbSize: number; dbSizeInUse: number } }[];
      return { dbSize: s!.Status.dbSize, inUse: s!.Status.dbSizeInUse };
    },
    rss() {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : NaN;
    },
    stop,
  };
}
