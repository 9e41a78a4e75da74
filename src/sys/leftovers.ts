/**
 * What srv6pipes daemons left in this network namespace, and removing it (`srv6pipes cleanup`).
 *
 * Two sources: the journals (journal.ts) of processes that are gone — every sysctl, nft table, ip
 * rule and routing table they changed, sysctls with their old values — and a scan for what carries
 * our names: nft tables `ip6 srv6pipes*` and ip rules and routes of protocol 177 (SRV6PIPES_PROTO),
 * which finds leftovers of a daemon whose journal is missing. What a live daemon of this namespace
 * journaled is in use, not left over: it is never touched. (The sk_lookup program pins nothing: its
 * link is an fd of the primary and goes away with it, even on SIGKILL.)
 */
import { rmSync, writeFileSync } from 'node:fs';
import { readJournals, type JournalRecord, type Leftover } from './journal.js';
import { readSysctl } from './plan.js';
import { run } from './run.js';

/** The routing protocol number on srv6pipes' ip rules and routes (`ip -6 rule show protocol 177`). */
export const SRV6PIPES_PROTO = 177;

export interface FoundLeftover {
  leftover: Leftover;
  /** one line: what it is and who left it */
  describe: string;
  /** the dead process whose journal names it; undefined: found by the scan */
  pid?: number;
  /** a sysctl someone changed again since: cleanup leaves it alone */
  changedSince?: boolean;
}

export interface LeftoverReport {
  /** live srv6pipes daemons of this namespace (their changes are in use) */
  live: { pid: number; command: string }[];
  found: FoundLeftover[];
  /** journals of dead processes (removed by cleanup) */
  deadJournals: JournalRecord[];
}

function describe(l: Leftover): string {
  switch (l.kind) {
    case 'sysctl':
      return `sysctl ${l.key}=${l.value} (was ${l.previous})`;
    case 'nft':
      return `nft table ${l.family} ${l.table}`;
    case 'rule':
      return `ip -6 rule ${l.args.join(' ')}`;
    case 'table':
      return `routes in table ${l.table}${l.proto !== undefined ? ` (proto ${l.proto})` : ''}`;
  }
}

export const sameLeftover = (a: Leftover, b: Leftover): boolean => {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'nft' && b.kind === 'nft') return a.family === b.family && a.table === b.table;
  if (a.kind === 'table' && b.kind === 'table') return a.table === b.table;
  if (a.kind === 'rule' && b.kind === 'rule') return ruleKey(a.args) === ruleKey(b.args);
  if (a.kind === 'sysctl' && b.kind === 'sysctl') return a.path === b.path;
  return false;
};

/** fwmark and lookup of rule args (what identifies our rules; `protocol` is shown as `proto`). */
function ruleKey(args: readonly string[]): string {
  const get = (k: string): string => {
    const i = args.indexOf(k);
    return i >= 0 ? (args[i + 1] ?? '') : '';
  };
  // `ip rule show` prints marks in hex (0x10011), a step may have given them in decimal (65553)
  const mark = get('fwmark')
    .split('/')
    .map((x) => (x === '' ? '' : Number(x).toString(16)))
    .join('/');
  return `${mark} ${get('lookup')}`;
}

/**
 * `ip -6 rule show` lines of protocol 177 → rule args (`fwmark M lookup T protocol 177`) with their
 * priority. Filtered here: iproute2 6.1 ignores `protocol` in `ip rule show` and lists every rule.
 */
export function parseRules(text: string): { priority: number; args: string[] }[] {
  const out: { priority: number; args: string[] }[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):\s+from all (.*)$/.exec(line.trim());
    if (!m || !new RegExp(`\\bproto(col)? ${SRV6PIPES_PROTO}\\b`).test(m[2]!)) continue;
    const words = m[2]!.replace(/\bproto\b/, 'protocol').split(/\s+/).filter(Boolean);
    out.push({ priority: Number(m[1]), args: words });
  }
  return out;
}

/** `ip -6 route show table all` lines → the tables that hold routes of proto 177. */
export function parseRouteTables(text: string): number[] {
  const tables = new Set<number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`\\bproto ${SRV6PIPES_PROTO}\\b`).test(line) ? /\btable (\d+)\b/.exec(line) : null;
    if (m) tables.add(Number(m[1]));
  }
  return [...tables].sort((a, b) => a - b);
}

/** `nft list tables` → our tables (ip6 srv6pipes, srv6pipes_*). */
export function parseNftTables(text: string): { family: string; table: string }[] {
  const out: { family: string; table: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^table (\S+) (srv6pipes(?:_\S+)?)$/.exec(line.trim());
    if (m) out.push({ family: m[1]!, table: m[2]! });
  }
  return out;
}

/** What is left over in this namespace (reads only). */
export async function findLeftovers(): Promise<LeftoverReport> {
  const all = readJournals();
  const journals = all.filter((j) => !j.stale);
  const live = journals.filter((j) => j.alive);
  // a stale journal (a deleted namespace's) is garbage: removed by cleanup, never acted on
  const dead = [...journals.filter((j) => !j.alive), ...all.filter((j) => j.stale).map((j) => ({ ...j, leftovers: [] }))];
  const inUse = (l: Leftover): boolean => live.some((j) => j.leftovers.some((x) => sameLeftover(x, l)));
  const found: FoundLeftover[] = [];
  const add = (f: FoundLeftover): void => {
    if (inUse(f.leftover) || found.some((x) => sameLeftover(x.leftover, f.leftover))) return;
    found.push(f);
  };
  for (const j of dead) {
    for (const l of j.leftovers) {
      const changedSince = l.kind === 'sysctl' && readSysctl({ key: l.key, path: l.path }) !== l.value;
      // a sysctl that has its old value again (or whose interface is gone) is no leftover
      if (l.kind === 'sysctl' && changedSince) continue;
      add({ leftover: l, describe: `${describe(l)}, left by pid ${j.pid} (${j.command || 'srv6pipes'})`, pid: j.pid });
    }
  }
  const nft = await run(['nft', 'list', 'tables']).catch(() => ({ code: 1, stdout: '', stderr: '' }));
  if (nft.code === 0) for (const t of parseNftTables(nft.stdout)) add({ leftover: { kind: 'nft', ...t }, describe: `nft table ${t.family} ${t.table} (no live srv6pipes process owns it)` });
  const rules = await run(['ip', '-6', 'rule', 'show', 'protocol', String(SRV6PIPES_PROTO)]).catch(() => ({ code: 1, stdout: '', stderr: '' }));
  if (rules.code === 0) for (const r of parseRules(rules.stdout)) add({ leftover: { kind: 'rule', args: r.args }, describe: `ip -6 rule ${r.args.join(' ')} (priority ${r.priority}; no live srv6pipes process owns it)` });
  // unfiltered: with `proto 177` ip leaves the protocol out of the lines; parseRouteTables picks ours
  const routes = await run(['ip', '-6', 'route', 'show', 'table', 'all']).catch(() => ({ code: 1, stdout: '', stderr: '' }));
  if (routes.code === 0) for (const t of parseRouteTables(routes.stdout)) add({ leftover: { kind: 'table', table: t, proto: SRV6PIPES_PROTO }, describe: `routes of proto ${SRV6PIPES_PROTO} in table ${t} (no live srv6pipes process owns them)` });
  // a dead journal's entry already gone from the host (e.g. removed by hand) is no leftover
  const present = await Promise.all(found.map((f) => stillThere(f.leftover, { nft: nft.stdout, rules: rules.stdout, routes: routes.stdout })));
  return { live: live.map((j) => ({ pid: j.pid, command: j.command })), found: found.filter((_, i) => present[i]), deadJournals: dead };
}

async function stillThere(l: Leftover, seen: { nft: string; rules: string; routes: string }): Promise<boolean> {
  switch (l.kind) {
    case 'sysctl':
      return true;
    case 'nft':
      return parseNftTables(seen.nft).some((t) => t.family === l.family && t.table === l.table);
    case 'rule': {
      const r = await run(['ip', '-6', 'rule', 'show', ...ruleSelector(l.args)]).catch(() => ({ code: 1, stdout: '' }));
      return r.code === 0 && r.stdout.trim() !== '';
    }
    case 'table': {
      const r = await run(['ip', '-6', 'route', 'show', 'table', String(l.table), ...(l.proto !== undefined ? ['proto', String(l.proto)] : [])]).catch(() => ({ code: 1, stdout: '' }));
      return r.code === 0 && r.stdout.trim() !== '';
    }
  }
}

/** fwmark M lookup T (protocol P) of rule args: what `ip rule show/del` select on. */
function ruleSelector(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const k of ['fwmark', 'lookup', 'protocol']) {
    const i = args.indexOf(k);
    if (i >= 0 && args[i + 1] !== undefined) out.push(k, args[i + 1]!);
  }
  return out;
}

/** Undoes one leftover; resolves with an error line, or undefined when it went. */
async function remove(l: Leftover): Promise<string | undefined> {
  switch (l.kind) {
    case 'sysctl':
      try {
        writeFileSync(l.path, l.previous);
        return undefined;
      } catch (e) {
        return `${l.key}: ${(e as Error).message}`;
      }
    case 'nft': {
      const r = await run(['nft', 'delete', 'table', l.family, l.table]);
      return r.code === 0 ? undefined : r.stderr.trim();
    }
    case 'rule': {
      const sel = ruleSelector(l.args);
      if (sel.length === 0) return `rule ${l.args.join(' ')}: no fwmark/lookup to select it by`;
      let removed = 0;
      while (removed < 16 && (await run(['ip', '-6', 'rule', 'del', ...sel])).code === 0) removed++;
      return removed > 0 ? undefined : `ip -6 rule del ${sel.join(' ')} failed`;
    }
    case 'table': {
      const r = await run(['ip', '-6', 'route', 'flush', 'table', String(l.table), ...(l.proto !== undefined ? ['proto', String(l.proto)] : [])]);
      return r.code === 0 ? undefined : r.stderr.trim();
    }
  }
}

/**
 * Removes what findLeftovers found, newest first (a dead journal's entries in reverse order: the
 * interception before the sysctls, forwarding before accept_ra), then the dead journals. Returns
 * what went and what failed.
 */
export async function cleanLeftovers(report: LeftoverReport): Promise<{ removed: string[]; failed: string[] }> {
  const removed: string[] = [];
  const failed: string[] = [];
  // the scan's finds first (interception: nft, rules, routes), then the journals' entries newest first
  const order = [...report.found.filter((f) => f.pid === undefined), ...report.found.filter((f) => f.pid !== undefined).reverse()];
  const kindRank = { nft: 0, rule: 1, table: 2, sysctl: 3 } as const;
  order.sort((a, b) => kindRank[a.leftover.kind] - kindRank[b.leftover.kind]);
  for (const f of order) {
    const err = await remove(f.leftover);
    if (err === undefined) removed.push(f.describe);
    else failed.push(`${f.describe}: ${err}`);
  }
  if (failed.length === 0) for (const j of report.deadJournals) rmSync(j.file, { force: true });
  return { removed, failed };
}
