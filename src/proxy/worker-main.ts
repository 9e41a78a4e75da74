/** Entry point of a worker process, forked by the primary (daemon.ts). */
import { isSrError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { validateProxyConfig } from './config.js';
import { dispatch, ENV_BASEDIR, ENV_CONFIG, ENV_FUNCTIONS, ENV_INDEX, type FromWorker, type ToWorker } from './ipc.js';
import { guardProcess, workerHandlers } from './worker-api.js';
import { collectWorkerProcessMetrics } from './metrics.js';
import { ProxyWorker } from './worker.js';

function send(m: FromWorker): void {
  process.send?.(m);
}

async function main(): Promise<void> {
  const index = Number(process.env[ENV_INDEX] ?? 0);
  const cfg = validateProxyConfig(JSON.parse(process.env[ENV_CONFIG] ?? '{}'), 'config', process.env[ENV_BASEDIR] ?? process.cwd());
  if (process.env[ENV_FUNCTIONS]) cfg.functions = JSON.parse(process.env[ENV_FUNCTIONS]) as typeof cfg.functions;
  const log = createLogger(cfg.logLevel, { role: 'worker', worker: index });
  const worker = new ProxyWorker(cfg, log, index);
  collectWorkerProcessMetrics(index); // its process_* and nodejs_* series, labelled worker-N (metrics.ts)
  // the process-level policy (worker-api.ts): on a bug that ends it, the worker hands its counters to
  // the primary (which keeps them) and exits with EXIT_BUG; the primary starts a fresh worker
  guardProcess(worker, log, {
    role: 'worker',
    lastWordsMs: 1000,
    lastWords: () => new Promise<void>((resolve) => (process.send ? process.send({ type: 'final', stats: worker.statsSnapshot() } satisfies FromWorker, undefined, {}, () => resolve()) : resolve())),
    exit: (code) => process.exit(code),
  });
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
  const answer = workerHandlers(worker);
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
