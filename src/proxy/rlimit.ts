/**
 * The proxy's descriptor limit (RLIMIT_NOFILE), sized from its flow limits as HAProxy sizes it from
 * maxconn: a relayed flow holds 2 sockets (and, on the native relay while it splices, 2 pipes: 4 more, which `auto` makes room for but the flow cap does not count), an `exec` filter process 3 pipes, plus a margin for
 * listeners, IPC, logs, DNS lookups and accepts that are refused. Every worker process needs its share;
 * the primary raises the limit before it forks them (children inherit it), as root the hard limit
 * too (up to fs.nr_open). Node raises its soft limit to the hard one when it boots.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { native } from '../native/addon.js';
import { workerShare } from './admission.js';
import type { ProxyConfig } from './config.js';

/** descriptors beyond the flows' own: listeners, IPC, logs, lookups, refused accepts */
export const NOFILE_MARGIN = 1024;
/** descriptors per `exec` filter process (stdin, stdout, stderr pipes) */
const FDS_PER_PROCESS = 3;

/** exec processes one worker may run: each exec part's maxProcesses (default 64) */
function execProcesses(cfg: ProxyConfig): number {
  let n = 0;
  for (const f of cfg.functions) {
    for (const p of f.parts) {
      if (p.function !== 'exec') continue;
      const m = (p.options as { maxProcesses?: unknown }).maxProcesses;
      n += typeof m === 'number' && m > 0 ? m : 64;
    }
  }
  return n;
}

/** Descriptors a flow must have: its 2 sockets (what a worker's flow cap counts). */
export function fdsPerFlow(_cfg: Pick<ProxyConfig, 'nativeRelay'>): number {
  return 2;
}

/**
 * Descriptors a flow may also use: the native relay's pipes (2 per direction that splices, made at its
 * first bulk read). Counted when the limit is raised (`limits.nofile: auto`), not in the flow cap: a
 * direction that gets no pipe stays on recv/send (native/relay.c), so a worker admits as many flows as
 * its sockets allow — a cap counting 6 per flow held a 20,000-descriptor container to 3,300 flows.
 */
export function optionalFdsPerFlow(cfg: Pick<ProxyConfig, 'nativeRelay'>): number {
  return cfg.nativeRelay && cfg.nativeRelay.mode !== 'copy' ? 4 : 0;
}

/** Descriptors one worker needs for its share of the limits. */
export function nofileNeed(cfg: ProxyConfig): number {
  if (cfg.limits.nofile !== 'auto') return cfg.limits.nofile;
  return (fdsPerFlow(cfg) + optionalFdsPerFlow(cfg)) * workerShare(cfg.limits.flows, cfg.workers) + FDS_PER_PROCESS * execProcesses(cfg) + NOFILE_MARGIN;
}

function nrOpen(): number {
  try {
    return Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim()) || 1_048_576;
  } catch {
    return 1_048_576;
  }
}

export interface NofileResult {
  need: number;
  soft: number;
  hard: number;
  /** false when the hard limit is below the need and could not be raised */
  enough: boolean;
}

/**
 * Raises this process's RLIMIT_NOFILE to `need` (soft, and hard when it is lower and we may);
 * never lowers it. Logs what it set; warns when the hard limit stays below the need.
 */
export function raiseNofile(need: number, log: Logger): NofileResult {
  const n = native();
  const [soft0, hard0] = n.getNofile();
  const unlimited = (x: number) => x < 0;
  let hard = hard0;
  if (!unlimited(hard0) && hard0 < need && process.getuid?.() === 0) {
    const target = Math.min(need, nrOpen());
    try {
      n.setNofile(target, target);
      hard = target;
    } catch (e) {
      log.warn({ err: (e as Error).message, need }, 'could not raise the hard descriptor limit');
    }
  }
  const [soft1] = n.getNofile();
  const wantSoft = unlimited(hard) ? need : Math.min(need, hard);
  if (!unlimited(soft1) && soft1 < wantSoft) n.setNofile(wantSoft, hard);
  const [soft, hardNow] = n.getNofile();
  const enough = unlimited(soft) || soft >= need;
  const fields = { need, before: { soft: soft0, hard: hard0 }, soft, hard: hardNow };
  if (enough) log.info(fields, 'descriptor limit (RLIMIT_NOFILE) set for the flow limits');
  else log.warn({ ...fields, hint: 'run as root or raise the hard limit (ulimit -Hn), or lower limits.flows' }, 'descriptor limit below what limits.flows needs: flows beyond it are reset');
  return { need, soft, hard: hardNow, enough };
}

/**
 * In a worker: an explicit `limits.nofile` is this process's soft limit exactly (Node raised the
 * soft limit to the hard one when it booted). With `auto` the inherited limit stays.
 */
export function applyWorkerNofile(cfg: ProxyConfig): void {
  if (cfg.limits.nofile === 'auto') return;
  const n = native();
  const [, hard] = n.getNofile();
  n.setNofile(hard >= 0 ? Math.min(cfg.limits.nofile, hard) : cfg.limits.nofile, hard >= 0 ? hard : cfg.limits.nofile);
}

/**
 * descriptors a worker keeps free beyond its flows: lookups, logs, a connection being refused, and
 * the connections the native accept holds undecided (at most 16, native/accept.h ACCEPT_AHEAD), each
 * with an early onward socket (nativeRelay.connectEarly)
 */
export const FD_RESERVE = 48;

/**
 * Flows this process's descriptor limit leaves room for, now: (soft limit - descriptors open -
 * reserve - exec pipes) / descriptors per flow. Called by a worker once it listens (its base descriptors are open).
 */
export function fdFlowCap(cfg: ProxyConfig, log: Logger): number {
  const [soft] = native().getNofile();
  if (soft < 0) return Infinity;
  let open: number;
  try {
    open = readdirSync('/proc/self/fd').length;
  } catch {
    open = 64;
  }
  const cap = Math.max(0, Math.floor((soft - open - FD_RESERVE - FDS_PER_PROCESS * execProcesses(cfg)) / fdsPerFlow(cfg)));
  const share = workerShare(cfg.limits.flows, cfg.workers);
  if (cap < share) log.warn({ flows: cap, share, nofile: soft }, 'the descriptor limit leaves room for fewer flows than limits.flows: beyond, SYNs are reset (NOFILE_LIMIT)');
  return cap;
}
