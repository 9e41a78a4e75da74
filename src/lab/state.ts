/**
 * Lab state: one JSON file per lab, `<dir>/<name>.json`, and the lab's service logs in `<dir>/<name>/`.
 * `<dir>` is /run/srv6pipes/labs (tmpfs: gone after a reboot, as the namespaces are), or
 * $SRV6PIPES_LAB_DIR. The file is created exclusively before anything else is made, so it is also
 * the lock that keeps two `up`s of the same name apart.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SrError } from '../core/errors.js';
import { LAB_NAME } from './schema.js';
import type { Topology } from './topology.js';

export interface ServiceState {
  host: string;
  name: string;
  pid: number;
  log: string;
}

export interface LabState {
  version: 1;
  name: string;
  /** 'starting' until `up` has finished; a lab left 'starting' crashed while coming up */
  status: 'starting' | 'up';
  createdAt: string;
  /** the process that ran `up` */
  ownerPid: number;
  topology: Topology;
  /** host → namespace */
  namespaces: Record<string, string>;
  logDir: string;
  services: ServiceState[];
}

export function stateDir(): string {
  return process.env['SRV6PIPES_LAB_DIR'] || '/run/srv6pipes/labs';
}

export function statePath(name: string): string {
  return join(stateDir(), `${name}.json`);
}

export function logDir(name: string): string {
  return join(stateDir(), name);
}

/** Creates the state file; false when it exists already (the lab is up or coming up). */
export function claimState(state: LabState): boolean {
  mkdirSync(stateDir(), { recursive: true, mode: 0o755 });
  let fd: number;
  try {
    fd = openSync(statePath(state.name), 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, JSON.stringify(state, null, 2) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Replaces the state file atomically. */
export function writeState(state: LabState): void {
  const path = statePath(state.name);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o644 });
  renameSync(tmp, path);
}

export function readState(name: string): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(statePath(name), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(text) as LabState;
    if (s.version !== 1 || s.name !== name) throw new Error('not a lab state of this version');
    return s;
  } catch (e) {
    throw new SrError('LAB_NOT_FOUND', `the state file ${statePath(name)} is damaged: ${(e as Error).message}`, {
      hint: `take the lab down (it cleans up without the file): srv6pipes lab down --name ${name}`,
    });
  }
}

/** Names of the labs that have a state file. */
export function stateNames(): string[] {
  try {
    return readdirSync(stateDir())
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .filter((n) => LAB_NAME.test(n))
      .sort();
  } catch {
    return [];
  }
}

export function removeState(name: string): void {
  rmSync(statePath(name), { force: true });
  rmSync(logDir(name), { recursive: true, force: true });
}
