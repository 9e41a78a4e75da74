/**
 * Network-namespace plumbing for labs: batches of `ip`/`tc` commands run *inside* a named namespace
 * (`ip -n NS ...`), sysctls through `ip netns exec NS sysctl`, finding and ending the processes of a
 * namespace, deleting namespaces. Nothing here touches the host's own network namespace.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { SrError } from '../core/errors.js';
import { run } from '../sys/run.js';

export const NETNS_DIR = '/run/netns';

/** Names of all named network namespaces (what `ip netns list` shows). */
export function listNamespaces(): string[] {
  try {
    return readdirSync(NETNS_DIR).sort();
  } catch {
    return [];
  }
}

async function runChecked(argv: string[], input: string | undefined, what: string): Promise<string> {
  const r = await run(argv, input);
  if (r.code !== 0) {
    const err = r.stderr.trim().split('\n').slice(0, 3).join('; ');
    throw new SrError('COMMAND_FAILED', `${what}: \`${argv.join(' ')}\` failed: ${err}${input ? ` (input: ${input.trim().split('\n').join('; ')})` : ''}`);
  }
  return r.stdout;
}

/** `ip [-6] [-n NS] -batch -` with the lines on stdin. */
export async function ipBatch(lines: string[], opts: { ns?: string; inet6?: boolean; force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  const argv = ['ip', ...(opts.inet6 ? ['-6'] : []), ...(opts.ns ? ['-n', opts.ns] : []), ...(opts.force ? ['-force'] : []), '-batch', '-'];
  await runChecked(argv, lines.join('\n') + '\n', opts.ns ?? 'ip');
}

/** `tc -n NS -batch -` with the lines on stdin. */
export async function tcBatch(ns: string, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await runChecked(['tc', '-n', ns, '-batch', '-'], lines.join('\n') + '\n', ns);
}

/** `ip netns exec NS sysctl -q -w k=v ...` */
export async function sysctls(ns: string, kv: string[]): Promise<void> {
  if (kv.length === 0) return;
  await runChecked(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', ...kv], undefined, ns);
}

interface IpAddrJson {
  ifname: string;
  operstate?: string;
  addr_info?: { family: string; local: string; scope?: string; tentative?: boolean; dadfailed?: boolean }[];
}

/** Why the namespace's interfaces are not ready yet (undefined when they are): every listed
 *  interface is up with its addresses and a link-local address, and no address is tentative. */
export async function notReady(ns: string, expect: { iface: string; address: string }[]): Promise<string | undefined> {
  const out = await runChecked(['ip', '-n', ns, '-j', 'address', 'show'], undefined, ns);
  const links = JSON.parse(out) as IpAddrJson[];
  for (const e of expect) {
    const l = links.find((x) => x.ifname === e.iface);
    if (!l) return `${ns}: no interface ${e.iface}`;
    if (l.operstate !== 'UP') return `${ns}: ${e.iface} is ${l.operstate ?? 'not up'}`;
    const addrs = (l.addr_info ?? []).filter((a) => a.family === 'inet6');
    const bad = addrs.find((a) => a.tentative || a.dadfailed);
    if (bad) return `${ns}: ${bad.local} on ${e.iface} is ${bad.dadfailed ? 'dadfailed' : 'tentative'}`;
    if (!addrs.some((a) => a.local === e.address)) return `${ns}: ${e.iface} lacks ${e.address}`;
    if (!addrs.some((a) => a.scope === 'link')) return `${ns}: ${e.iface} has no link-local address yet`;
  }
  return undefined;
}

/** The namespace's inode; undefined when it is not a mounted network namespace, or when it is this
 *  process's own or init's namespace (never end processes there). */
function nsInode(ns: string): number | undefined {
  let st;
  try {
    st = statSync(`${NETNS_DIR}/${ns}`);
  } catch {
    return undefined;
  }
  const own = statSync('/proc/self/ns/net');
  if (st.dev !== own.dev || st.ino === own.ino) return undefined;
  let init: number | undefined;
  try {
    init = statSync('/proc/1/ns/net').ino; // not readable in some containers
  } catch {
    init = undefined;
  }
  return st.ino === init ? undefined : st.ino;
}

/** Pids of the processes living in any of the namespaces (never this process). */
export function pidsIn(namespaces: string[]): number[] {
  const inodes = new Set(namespaces.map(nsInode).filter((i): i is number => i !== undefined));
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/ns/net`); // fails for zombies and vanished processes
    } catch {
      continue;
    }
    const m = /^net:\[(\d+)\]$/.exec(link);
    if (m && inodes.has(Number(m[1]))) pids.push(pid);
  }
  return pids;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/** The start time of a live process (field 22 of /proc/PID/stat); undefined when it is gone or a zombie. */
function startTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
}

/** SIGTERM every process in the namespaces, SIGKILL what is left after `graceMs`; returns once every
 *  one has exited (a process leaves its namespace before it has finished exiting: wait for that too). */
export async function killAll(namespaces: string[], graceMs = 2000): Promise<number> {
  const targets = new Map<number, string>();
  const refresh = (): number[] => {
    for (const pid of pidsIn(namespaces)) {
      const st = startTime(pid);
      if (st !== undefined && !targets.has(pid)) targets.set(pid, st);
    }
    for (const [pid, st] of targets) if (startTime(pid) !== st) targets.delete(pid);
    return [...targets.keys()];
  };
  let left = refresh();
  const total = left.length;
  if (total === 0) return 0;
  signal(left, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(10);
    left = refresh();
  }
  for (let round = 0; left.length > 0 && round < 100; round++) {
    signal(left, 'SIGKILL');
    await sleep(20);
    left = refresh();
  }
  if (left.length > 0) throw new SrError('COMMAND_FAILED', `processes ${left.join(', ')} in ${namespaces.join(', ')} do not end`);
  return total;
}

/** `ip netns del` for each (one `ip -force -batch`); missing ones are skipped. */
export async function deleteNamespaces(namespaces: string[]): Promise<void> {
  const present = new Set(listNamespaces());
  const doomed = namespaces.filter((n) => present.has(n));
  if (doomed.length === 0) return;
  const r = await run(['ip', '-force', '-batch', '-'], doomed.map((n) => `netns delete ${n}`).join('\n') + '\n');
  const still = listNamespaces().filter((n) => doomed.includes(n));
  if (still.length > 0) throw new SrError('COMMAND_FAILED', `cannot delete namespaces ${still.join(', ')}: ${r.stderr.trim()}`);
}
