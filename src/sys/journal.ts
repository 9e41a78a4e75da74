/**
 * The host-change journal: what a running daemon has changed on its host (plan.ts steps report it as
 * `Leftover` data), kept in a small JSON file per process and network namespace, so that after a
 * SIGKILL — when no revert ran — `srv6pipes doctor` can report it and `srv6pipes cleanup` can undo it.
 *
 *   ${SRV6PIPES_STATE_DIR:-/run/srv6pipes}/<netns inode>-<pid>.json
 *   { "pid": 1234, "netns": 4026532281, "command": "proxy --config …", "started": "…", "leftovers": [ … ] }
 *
 * The file is written on each change and removed when the last change is reverted (a clean stop).
 * /run is a tmpfs: a reboot, which also resets what the journal describes, empties it. Writing is
 * best effort: a daemon that cannot write it (no /run, read-only) runs as before, and the doctor's
 * scan (leftovers.ts) still finds its nft tables, rules and routes by name and protocol.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native/addon.js';

export type Leftover =
  /** a sysctl this process set to `value`; `previous` goes back */
  | { kind: 'sysctl'; key: string; path: string; value: string; previous: string }
  /** an nft table this process owns */
  | { kind: 'nft'; family: string; table: string }
  /** an `ip -6 rule` this process added (the argv after `ip -6 rule add`) */
  | { kind: 'rule'; args: string[] }
  /** a routing table this process filled: flushed on cleanup (only the routes of `proto`, when given) */
  | { kind: 'table'; table: number; proto?: number };

export interface JournalFile {
  pid: number;
  netns: number;
  /** SO_NETNS_COOKIE of the namespace (never reused, unlike the inode): tells a journal of a deleted namespace from this one's */
  cookie?: string;
  command: string;
  started: string;
  leftovers: Leftover[];
}

export function stateDir(): string {
  return process.env['SRV6PIPES_STATE_DIR'] ?? '/run/srv6pipes';
}

/** The inode of a process's network namespace (the same number `ip netns identify`/lsns show). */
export function netnsInode(pid: number | 'self' = 'self'): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return undefined;
  }
}

/** SO_NETNS_COOKIE of this process's network namespace (Linux ≥ 5.14; undefined before, or without the addon). */
export function netnsCookie(): string | undefined {
  try {
    const n = native();
    const c = n.constants;
    const fd = n.socket(c.AF_INET6, c.SOCK_STREAM, c.IPPROTO_TCP);
    try {
      return n.getsockoptBuffer(fd, c.SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, 8).readBigUInt64LE(0).toString();
    } finally {
      n.close(fd);
    }
  } catch {
    return undefined;
  }
}

const key = (l: Leftover): string => JSON.stringify(l);

export class Journal {
  private readonly entries: Leftover[] = [];
  private readonly started = new Date().toISOString();

  constructor(
    readonly path: string,
    private readonly header: Omit<JournalFile, 'leftovers' | 'started'>,
  ) {}

  add(left: readonly Leftover[]): void {
    if (!left.length) return;
    this.entries.push(...left);
    this.write();
  }

  remove(left: readonly Leftover[]): void {
    if (!left.length) return;
    for (const l of left) {
      const i = this.entries.map(key).lastIndexOf(key(l));
      if (i >= 0) this.entries.splice(i, 1);
    }
    this.write();
  }

  get leftovers(): readonly Leftover[] {
    return this.entries;
  }

  private write(): void {
    try {
      if (this.entries.length === 0) {
        rmSync(this.path, { force: true });
        return;
      }
      mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
      const body: JournalFile = { ...this.header, started: this.started, leftovers: this.entries };
      writeFileSync(`${this.path}.tmp`, `${JSON.stringify(body, null, 1)}\n`, { mode: 0o600 });
      renameSync(`${this.path}.tmp`, this.path);
    } catch {
      // best effort (see above)
    }
  }
}

let current: Journal | undefined;

/** This process's journal (one per process: every plan it applies adds to it). */
export function journal(): Journal {
  if (!current) {
    const netns = netnsInode() ?? 0;
    const cookie = netnsCookie();
    current = new Journal(join(stateDir(), `${netns}-${process.pid}.json`), { pid: process.pid, netns, ...(cookie !== undefined ? { cookie } : {}), command: process.argv.slice(2).join(' ') });
  }
  return current;
}

/** Is a process alive (and in the same network namespace, when `netns` is given)? */
export function processAlive(pid: number, netns?: number): boolean {
  const ino = netnsInode(pid);
  return ino !== undefined && (netns === undefined || ino === netns);
}

export interface JournalRecord extends JournalFile {
  file: string;
  /** the process still runs in that namespace: its changes are in use, not leftovers */
  alive: boolean;
  /** written in an earlier namespace with the same inode (its cookie differs): nothing of it is here */
  stale: boolean;
}

/**
 * The journals of one network namespace (this process's by default), with their owners' liveness.
 * Inodes of deleted namespaces are reused: a journal whose cookie is not this namespace's is `stale`.
 */
export function readJournals(netns = netnsInode() ?? 0, cookie = netnsCookie()): JournalRecord[] {
  let names: string[];
  try {
    names = readdirSync(stateDir());
  } catch {
    return [];
  }
  const out: JournalRecord[] = [];
  for (const n of names) {
    if (!n.startsWith(`${netns}-`) || !n.endsWith('.json')) continue;
    const file = join(stateDir(), n);
    try {
      const j = JSON.parse(readFileSync(file, 'utf8')) as JournalFile;
      if (j.pid === process.pid) continue;
      const stale = cookie !== undefined && j.cookie !== undefined && j.cookie !== cookie;
      out.push({ ...j, file, stale, alive: !stale && processAlive(j.pid, netns) });
    } catch {
      // a torn or foreign file: not ours to judge
    }
  }
  return out.sort((a, b) => a.started.localeCompare(b.started));
}

/** Inodes of every network namespace that still exists as far as this host shows: the processes' and `ip netns`'s. */
function liveNamespaces(): Set<number> {
  const out = new Set<number>();
  const add = (p: string): void => {
    try {
      out.add(statSync(p).ino);
    } catch {
      // gone meanwhile, or not ours to see
    }
  };
  for (const pid of readdirSync('/proc')) if (/^\d+$/.test(pid)) add(`/proc/${pid}/ns/net`);
  try {
    for (const n of readdirSync('/run/netns')) add(`/run/netns/${n}`);
  } catch {
    // no named namespaces
  }
  return out;
}

/**
 * Journals whose process and namespace are both gone (a lab deleted under a killed daemon): nothing
 * they name exists any more. `srv6pipes cleanup` removes these files wherever it runs.
 */
export function orphanJournals(): string[] {
  let names: string[];
  try {
    names = readdirSync(stateDir()).filter((n) => /^\d+-\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const live = liveNamespaces();
  return names
    .filter((n) => {
      const [ns, pid] = n.replace('.json', '').split('-').map(Number) as [number, number];
      return !live.has(ns) && netnsInode(pid) === undefined;
    })
    .map((n) => join(stateDir(), n));
}

/** Removes the journals written in these network namespaces (by inode) whose process is gone: for a
 *  lab whose namespaces were just deleted. Returns the files removed. */
export function removeJournalsOf(inodes: number[]): string[] {
  let names: string[];
  try {
    names = readdirSync(stateDir());
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = /^(\d+)-(\d+)\.json$/.exec(n);
    if (!m || !inodes.includes(Number(m[1])) || netnsInode(Number(m[2])) !== undefined) continue;
    try {
      unlinkSync(join(stateDir(), n));
      removed.push(n);
    } catch {
      // removed meanwhile
    }
  }
  return removed;
}

/** The inode of a named network namespace (`ip netns add NAME`), if it exists. */
export function namespaceInode(name: string): number | undefined {
  try {
    return statSync(`/run/netns/${name}`).ino;
  } catch {
    return undefined;
  }
}
