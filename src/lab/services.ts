/**
 * A topology's long-running services: started once the network is up, each in its host's namespace,
 * detached (they outlive `srv6pipes lab up`), stdout and stderr appended to
 * `<state dir>/<lab>/<host>.<service>.log`. `Lab.down` ends them with every other process of the lab.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SrError } from '../core/errors.js';
import type { ServiceState } from './state.js';
import type { Topology } from './topology.js';

/** How long a service must stay up for `up` to call it started (a service that exits 0 sooner is fine). */
const SETTLE_MS = 150;

function tail(path: string, lines = 5): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

export async function startServices(topo: Topology, namespaces: Record<string, string>, logDir: string): Promise<ServiceState[]> {
  const started: ServiceState[] = [];
  const failures: string[] = [];
  for (const host of Object.values(topo.hosts)) {
    for (const svc of host.services) {
      mkdirSync(logDir, { recursive: true });
      const log = join(logDir, `${host.name}.${svc.name}.log`);
      const fd = openSync(log, 'a');
      let child;
      try {
        child = spawn('ip', ['netns', 'exec', namespaces[host.name]!, ...svc.argv], {
          detached: true,
          stdio: ['ignore', fd, fd],
          env: { ...process.env, ...svc.env },
        });
      } finally {
        closeSync(fd);
      }
      const what = `service ${svc.name} on ${host.name}`;
      child.on('error', (e) => failures.push(`${what}: ${e.message}`));
      child.on('exit', (code, sig) => {
        if (code !== 0) failures.push(`${what} exited (${sig ?? `code ${code}`}): ${tail(log)} (log: ${log})`);
      });
      child.unref();
      if (child.pid === undefined) {
        await new Promise((r) => setImmediate(r));
        throw new SrError('LAB_UP_FAILED', `${what} did not start: ${failures.join('; ')}`);
      }
      started.push({ host: host.name, name: svc.name, pid: child.pid, log });
    }
  }
  if (started.length > 0) await new Promise((r) => setTimeout(r, SETTLE_MS));
  if (failures.length > 0) throw new SrError('LAB_UP_FAILED', failures.join('; '));
  return started;
}

/** Is the process alive (and not a zombie)? */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}
