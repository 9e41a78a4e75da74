/** Entry point of a worker process, forked by the primary (daemon.ts). */
import { isSrError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { validateProxyConfig } from './config.js';
import { dispatch, ENV_BASEDIR, ENV_CONFIG, ENV_FUNCTIONS, ENV_INDEX, type FromWorker, type ToWorker, type WorkerHandlers } from './ipc.js';
import { ProxyWorker } from './worker.js';

function send(m: FromWorker): void {
  process.send?.(m);
}

/** The worker's answer to each request of the primary (ipc.ts: WorkerApi). */
function handlers(worker: ProxyWorker): WorkerHandlers {
  return {
    flows: () => worker.flowTable(),
    stats: () => worker.statsSnapshot(),
    metrics: () => worker.metricsSnapshot(),
    functions: () => worker.listFunctions(),
    load: async ({ spec }) => (await worker.functions.load(spec)).version,
    unload: ({ id, deadlineMs }) => worker.functions.unload(id, deadlineMs),
    reload: async ({ id }) => (await worker.functions.reload(id)).version,
    apply: ({ specs }) => worker.applyFunctions(specs),
    drain: ({ deadlineMs }) => worker.drain(deadlineMs),
  };
}

/** exit code of a worker that ends on a bug (EX_SOFTWARE); the primary restarts it */
const EXIT_BUG = 70;

/**
 * The worker's last line of defence, and its policy (docs/security.md, "packets that must not end a
 * worker"). Nothing a peer sends should reach these handlers: every connection handler is wrapped,
 * every promise of the accept path has a catch, and a flow's own errors reset that flow (worker.ts,
 * flow.ts). What reaches them is a bug:
 *  - unhandledRejection: a promise failed with no one waiting for it. The stack was not unwound
 *    through half-done work, so the worker's state is intact: log it with its stack, count it
 *    (`srv6pipes_worker_bugs_total{kind="unhandledRejection"}`) and go on.
 *  - uncaughtException: a throw unwound an event handler midway; the worker's state may be
 *    inconsistent, so it must not go on. Log it with its stack, count it, reset every flow at once
 *    (RST, never a FIN that would pass a truncated stream for a complete one), hand the counters to the
 *    primary, and exit with EXIT_BUG: the primary starts a fresh worker.
 */
function guardProcess(worker: ProxyWorker, log: ReturnType<typeof createLogger>): void {
  process.on('unhandledRejection', (reason) => {
    worker.countBug('unhandledRejection');
    log.error({ err: reason }, 'unhandled promise rejection (a bug): counted; the worker goes on');
  });
  let dying = false;
  process.on('uncaughtException', (err, origin) => {
    if (dying) return;
    dying = true;
    worker.countBug('uncaughtException');
    log.fatal({ err, origin }, 'uncaught exception (a bug): every flow is reset and the worker exits; the primary restarts it');
    try {
      worker.resetAll({ kind: 'worker_exit' });
    } catch (e) {
      log.error({ err: e }, 'resetting the flows failed');
    }
    const exit = (): never => process.exit(EXIT_BUG);
    setTimeout(exit, 1000);
    if (process.send) process.send({ type: 'final', stats: worker.statsSnapshot() } satisfies FromWorker, undefined, {}, exit);
    else exit();
  });
}

async function main(): Promise<void> {
  const index = Number(process.env[ENV_INDEX] ?? 0);
  const cfg = validateProxyConfig(JSON.parse(process.env[ENV_CONFIG] ?? '{}'), 'config', process.env[ENV_BASEDIR] ?? process.cwd());
  if (process.env[ENV_FUNCTIONS]) cfg.functions = JSON.parse(process.env[ENV_FUNCTIONS]) as typeof cfg.functions;
  const log = createLogger(cfg.logLevel, { role: 'worker', worker: index });
  const worker = new ProxyWorker(cfg, log, index);
  guardProcess(worker, log);
  try {
    await worker.start();
  } catch (e) {
    if (isSrError(e)) send({ type: 'failed', code: e.code, message: e.message, hint: e.hint });
    else send({ type: 'failed', code: 'INTERNAL', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    process.exit(1);
  }
  // the primary handles signals; a worker ignores them and waits for 'drain'
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('SIGHUP', () => undefined);
  process.on('disconnect', () => {
    // the primary is gone: reset what is left and leave
    void worker.drain(0).then(() => process.exit(0));
  });
  const answer = handlers(worker);
  process.on('message', (m: ToWorker) => {
    dispatch(answer, m.op, m.args).then(
      (result) => {
        send({ type: 'res', req: m.req, ok: true, result });
        if (m.op === 'drain') setTimeout(() => process.exit(0), 50);
      },
      (e: unknown) => {
        const code = isSrError(e) ? e.code : 'INTERNAL';
        if (!isSrError(e)) log.error({ err: e, op: m.op }, 'request failed');
        send({ type: 'res', req: m.req, ok: false, code, message: e instanceof Error ? e.message : String(e) });
      },
    );
  });
  log.info({ port: cfg.port }, 'worker listening');
  send({ type: 'ready' });
}

void main();
