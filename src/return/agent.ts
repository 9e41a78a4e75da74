/**
 * `srv6pipes return-agent`: return steering on a host that runs an unmodified server (lighttpd,
 * nginx…). It installs the steering for the given return hops in its network namespace
 * (steering.ts), logs the packets marked per hop every `--report` seconds, and removes everything
 * on SIGTERM/SIGINT.
 */
import { createLogger } from '../log.js';
import { applyPlan, checkNetconfPrerequisites } from '../proxy/netconf.js';
import { untilStopSignal } from '../sys/signals.js';
import { SrError } from '../errors.js';
import { returnCounters, returnSteeringPlan, type ReturnHop } from './steering.js';

export async function runReturnAgent(o: { hops: ReturnHop[]; reportSeconds?: number; logLevel?: string; dryRun?: boolean }): Promise<number> {
  if (o.hops.length === 0) throw new SrError('BAD_ARGUMENT', 'no return hop given', { hint: 'srv6pipes return-agent --hop 17=fc00:a::ffff' });
  const plan = returnSteeringPlan(o.hops);
  if (o.dryRun) {
    for (const s of plan) process.stdout.write(`${s.describe}\n`);
    return 0;
  }
  checkNetconfPrerequisites();
  const log = createLogger(o.logLevel ?? 'info', { component: 'return-agent' });
  const undo = await applyPlan(plan);
  log.info({ hops: o.hops }, 'return agent started');
  // the report timer also keeps the process alive until a stop signal (nothing else is pending)
  const timer = setInterval(() => void returnCounters().then((c) => log.info({ marked: c }, 'return steering')), Math.max(1, o.reportSeconds ?? 60) * 1000);
  await untilStopSignal(log);
  clearInterval(timer);
  log.info({ marked: await returnCounters() }, 'return steering');
  await undo();
  log.info('return agent stopped');
  return 0;
}
