/**
 * The proxy daemon's primary process: validates the config, applies the host configuration, forks one
 * worker per CPU (each with its own SO_REUSEPORT listener), serves the admin endpoint, and on
 * SIGTERM/SIGINT drains the workers and removes the host configuration.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type http from 'node:http';
import { fileURLToPath } from 'node:url';
import { SrError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { native } from '../native/addon.js';
import { listenFd } from '../native/sockets.js';
import { startAdmin } from './admin.js';
import { loadProxyConfig, type ProxyConfig } from './config.js';
import type { FlowRecord } from './flow.js';
import { ENV_CONFIG, ENV_INDEX, type FromWorker, type ToWorker } from './ipc.js';
import { applyPlan, checkNetconfPrerequisites, netconfPlan } from './netconf.js';
import { mergeStats, type ProxyStats } from './stats.js';

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.js', import.meta.url));

export interface DaemonOptions {
  configPath: string;
  dryRun?: boolean;
  /** printed lines (dry run); default stdout */
  print?: (line: string) => void;
}

interface WorkerSlot {
  index: number;
  child: ChildProcess;
}

export class ProxyDaemon {
  private readonly workers: WorkerSlot[] = [];
  private admin: http.Server | undefined;
  private undoNetconf: (() => Promise<void>) | undefined;
  private stopping = false;
  private req = 1;
  private readonly pending = new Map<number, (m: FromWorker) => void>();

  constructor(
    readonly cfg: ProxyConfig,
    private readonly log: Logger,
  ) {}

  /** Applies netconf, starts workers and admin. On failure undoes what it did and throws. */
  async start(): Promise<void> {
    try {
      if (this.cfg.netconf) {
        checkNetconfPrerequisites();
        probePort(this.cfg);
        const plan = netconfPlan({ locators: this.cfg.locators, port: this.cfg.port, ...this.cfg.netconf });
        this.undoNetconf = await applyPlan(plan);
        this.log.info({ steps: plan.length }, 'host configuration applied');
      } else {
        probePort(this.cfg);
      }
      await Promise.all(Array.from({ length: this.cfg.workers }, (_, i) => this.spawnWorker(i)));
      if (this.cfg.admin) {
        const a = this.cfg.admin;
        this.admin = await startAdmin(a.address, a.port, [
          { path: '/flows', summary: 'the flow table of every worker', handle: () => this.flows() },
          { path: '/stats', summary: 'per-function counters', handle: () => this.stats() },
          { path: '/health', summary: 'liveness', handle: async () => ({ ok: true, workers: this.workers.length }) },
        ]);
      }
      this.log.info({ port: this.cfg.port, workers: this.cfg.workers, admin: this.cfg.admin }, 'proxy started');
    } catch (e) {
      await this.stop(0);
      throw e;
    }
  }

  private spawnWorker(index: number): Promise<void> {
    const child = fork(WORKER_MAIN, [], {
      env: { ...process.env, [ENV_CONFIG]: JSON.stringify(this.cfg.raw), [ENV_INDEX]: String(index) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const slot: WorkerSlot = { index, child };
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      child.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          ready = true;
          this.workers.push(slot);
          resolve();
        } else if (m.type === 'failed') {
          const e = m.code === 'INTERNAL' ? new Error(m.message) : new SrError(m.code as never, m.message, m.hint ? { hint: m.hint } : undefined);
          reject(e);
        } else if ('req' in m) {
          this.pending.get(m.req)?.(m);
        }
      });
      child.on('exit', (code, signal) => {
        const i = this.workers.indexOf(slot);
        if (i >= 0) this.workers.splice(i, 1);
        if (!ready) {
          reject(new SrError('INTERNAL', `worker ${index} exited during start (code ${code}, signal ${signal})`));
          return;
        }
        if (!this.stopping) {
          this.log.error({ worker: index, code, signal }, 'worker died; restarting it');
          this.spawnWorker(index).catch((e: unknown) => this.log.error({ err: e }, 'worker restart failed'));
        }
      });
    });
  }

  private ask<T extends FromWorker>(w: WorkerSlot, msg: ToWorker & { req: number }): Promise<T | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(msg.req);
        resolve(undefined);
      }, 2000);
      this.pending.set(msg.req, (m) => {
        clearTimeout(timer);
        this.pending.delete(msg.req);
        resolve(m as T);
      });
      w.child.send(msg);
    });
  }

  async flows(): Promise<FlowRecord[]> {
    const parts = await Promise.all(
      this.workers.map((w) => this.ask<Extract<FromWorker, { type: 'flows' }>>(w, { type: 'flows', req: this.req++ })),
    );
    return parts.flatMap((p) => p?.flows ?? []);
  }

  async stats(): Promise<ProxyStats & { workers: number }> {
    const parts = await Promise.all(
      this.workers.map((w) => this.ask<Extract<FromWorker, { type: 'stats' }>>(w, { type: 'stats', req: this.req++ })),
    );
    return { ...mergeStats(parts.flatMap((p) => (p ? [p.stats] : []))), workers: this.workers.length };
  }

  /** Drains the workers (up to the deadline), stops admin, removes the host configuration. */
  async stop(deadlineMs = this.cfg.timeouts.drain): Promise<void> {
    this.stopping = true;
    const exits = this.workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.child.exitCode !== null) return resolve();
          const kill = setTimeout(() => w.child.kill('SIGKILL'), deadlineMs + 3000);
          w.child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          w.child.send({ type: 'drain', deadlineMs } satisfies ToWorker);
        }),
    );
    await Promise.all(exits);
    await new Promise<void>((resolve) => (this.admin ? this.admin.close(() => resolve()) : resolve()));
    if (this.undoNetconf) {
      await this.undoNetconf();
      this.undoNetconf = undefined;
      this.log.info('host configuration removed');
    }
  }
}

/** Fails early with PORT_BUSY when something already listens on the port (even with SO_REUSEPORT). */
function probePort(cfg: ProxyConfig): void {
  const fd = listenFd({ address: cfg.listen, port: cfg.port, transparent: !!cfg.netconf });
  native().close(fd);
}

/** `srv6pipes proxy`: runs until SIGTERM/SIGINT, then drains and exits 0. */
export async function runProxy(o: DaemonOptions): Promise<number> {
  const cfg = loadProxyConfig(o.configPath);
  const print = o.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  if (o.dryRun) {
    print(`# srv6pipes proxy --dry-run: config ${o.configPath} is valid; nothing is changed.`);
    print(`# listener: [${cfg.listen}]:${cfg.port}, ${cfg.workers} worker(s), functions ${[...cfg.functions.values()].map((f) => `${f.id}=${f.vf.name}`).join(' ')}`);
    if (!cfg.netconf) print('# netconf: off — the operator provides interception (see README: host configuration)');
    else for (const s of netconfPlan({ locators: cfg.locators, port: cfg.port, ...cfg.netconf })) print(s.describe);
    return 0;
  }
  const log = createLogger(cfg.logLevel, { role: 'primary' });
  const daemon = new ProxyDaemon(cfg, log);
  await daemon.start();
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      log.info({ signal: sig, deadlineMs: cfg.timeouts.drain }, 'draining');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      // a second signal must not kill the primary before it removes the host configuration
      const again = (s: NodeJS.Signals): void => log.warn({ signal: s }, 'already draining');
      process.on('SIGTERM', again);
      process.on('SIGINT', again);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await daemon.stop();
  log.info('stopped');
  return 0;
}
