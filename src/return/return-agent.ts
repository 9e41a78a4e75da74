/**
 * `srv6pipes return-agent`: return steering on a host that runs an unmodified server (lighttpd,
 * nginx…). It makes the host accept SRHs (`seg6_enabled=1` on all, default and every interface: a
 * stock kernel drops every packet carrying one, and the proxies' onward packets carry their tag in
 * one), installs the steering for the return hops in its network namespace (steering.ts) —
 * hops given on the command line, or learnt from the controller (a TYPE 65283 query, refreshed; a
 * change re-installs the steering) — logs the packets marked per hop every `--report` seconds, and
 * removes everything on SIGTERM/SIGINT (the sysctls get their old values back).
 */
import { createLogger } from '../core/log.js';
import { applyPlan, checkNetconfPrerequisites, seg6AcceptSteps } from '../sys/plan.js';
import { untilStopSignal } from '../sys/signals.js';
import { SrError } from '../core/errors.js';
import { fetchReturnHops } from '../dns/query.js';
import { checkReturnHops, returnCounters, returnSteeringPlan, type ReturnHop } from './steering.js';

export interface ReturnAgentOptions {
  /** hops given on the command line; they win over the controller's for the same id */
  hops: ReturnHop[];
  /** ask this controller ([ADDR]:PORT) for the proxies' return hops; several instances of a replicated one are asked in turn */
  controller?: readonly string[];
  refreshSeconds?: number;
  reportSeconds?: number;
  logLevel?: string;
  dryRun?: boolean;
}

/** The hops to install: the given ones, then the controller's for the other ids, by id. */
export function mergeHops(given: readonly ReturnHop[], learnt: readonly ReturnHop[]): ReturnHop[] {
  const byId = new Map<number, ReturnHop>();
  for (const h of [...learnt, ...given]) byId.set(h.id, { id: h.id, sid: h.sid });
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

const sameHops = (a: readonly ReturnHop[], b: readonly ReturnHop[]): boolean => JSON.stringify(a) === JSON.stringify(b);

export async function runReturnAgent(o: ReturnAgentOptions): Promise<number> {
  if (o.hops.length === 0 && !o.controller?.length) {
    throw new SrError('BAD_ARGUMENT', 'no return hop given', { hint: 'srv6pipes return-agent --hops 17=fc00:a::ffff, or --controller ADDR' });
  }
  checkReturnHops(o.hops);
  const learn = async (): Promise<ReturnHop[]> => {
    if (!o.controller?.length) return [];
    const hops = await fetchReturnHops({ controller: o.controller });
    checkReturnHops(hops);
    return hops;
  };
  if (o.dryRun) {
    for (const s of [...seg6AcceptSteps(), ...returnSteeringPlan(mergeHops(o.hops, await learn()))]) process.stdout.write(`${s.describe}\n`);
    return 0;
  }
  checkNetconfPrerequisites();
  const log = createLogger(o.logLevel ?? 'info', { component: 'return-agent' });
  // once for the agent's whole run: a change of hops must not open a gap in which SRHs are dropped
  const undoSeg6 = await applyPlan(seg6AcceptSteps());
  try {
    return await steer(o, learn, log);
  } finally {
    await undoSeg6();
  }
}

async function steer(o: ReturnAgentOptions, learn: () => Promise<ReturnHop[]>, log: ReturnType<typeof createLogger>): Promise<number> {
  let installed: ReturnHop[] = [];
  let undo: () => Promise<void> = async () => undefined;
  // one change at a time: the steering is removed and installed again as a whole (a brief gap)
  const install = async (next: ReturnHop[]): Promise<void> => {
    if (sameHops(installed, next)) return;
    await undo();
    undo = async () => undefined;
    installed = [];
    undo = await applyPlan(returnSteeringPlan(next));
    installed = next;
  };
  const refresh = async (): Promise<void> => {
    let learnt: ReturnHop[];
    try {
      learnt = await learn();
    } catch (e) {
      log.warn({ controller: o.controller, error: (e as Error).message }, 'return hops: no answer from the controller; keeping the current ones');
      learnt = installed.filter((h) => !o.hops.some((g) => g.id === h.id));
    }
    const next = mergeHops(o.hops, learnt);
    if (sameHops(installed, next)) return;
    try {
      await install(next);
      log.info({ hops: next }, 'return hops installed');
    } catch (e) {
      log.error({ hops: next, error: (e as Error).message }, 'return hops: the steering could not be installed');
    }
  };
  await refresh();
  log.info({ hops: installed, ...(o.controller ? { controller: o.controller } : {}) }, 'return agent started');
  // the report timer also keeps the process alive until a stop signal (nothing else is pending)
  const report = setInterval(() => void returnCounters().then((c) => log.info({ marked: c }, 'return steering')), Math.max(1, o.reportSeconds ?? 60) * 1000);
  let busy = Promise.resolve();
  const poll = o.controller?.length ? setInterval(() => (busy = busy.then(refresh)), Math.max(1, o.refreshSeconds ?? 30) * 1000) : undefined;
  await untilStopSignal(log);
  clearInterval(report);
  clearInterval(poll);
  await busy;
  log.info({ marked: await returnCounters() }, 'return steering');
  await undo();
  log.info('return agent stopped');
  return 0;
}
