/** Entry point of a worker process, forked by the primary (daemon.ts). */
import { isSrError } from '../errors.js';
import { createLogger } from '../log.js';
import { validateProxyConfig } from './config.js';
import { ENV_CONFIG, ENV_INDEX, type FromWorker, type ToWorker } from './ipc.js';
import { ProxyWorker } from './worker.js';

function send(m: FromWorker): void {
  process.send?.(m);
}

async function main(): Promise<void> {
  const index = Number(process.env[ENV_INDEX] ?? 0);
  const cfg = validateProxyConfig(JSON.parse(process.env[ENV_CONFIG] ?? '{}'), 'config');
  const log = createLogger(cfg.logLevel, { role: 'worker', worker: index });
  const worker = new ProxyWorker(cfg, log, index);
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
  process.on('disconnect', () => {
    // the primary is gone: reset what is left and leave
    void worker.drain(0).then(() => process.exit(0));
  });
  process.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'flows':
        send({ type: 'flows', req: m.req, flows: worker.flowTable() });
        break;
      case 'stats':
        send({ type: 'stats', req: m.req, stats: worker.statsSnapshot() });
        break;
      case 'drain':
        void worker.drain(m.deadlineMs).then(({ remaining }) => {
          send({ type: 'drained', remaining });
          setTimeout(() => process.exit(0), 50);
        });
        break;
    }
  });
  log.info({ port: cfg.port }, 'worker listening');
  send({ type: 'ready' });
}

void main();
