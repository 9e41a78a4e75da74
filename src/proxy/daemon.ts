/**
 * The proxy daemon's primary process: validates the config, applies the host configuration, forks one
 * worker per CPU (each with its own SO_REUSEPORT listener), serves the admin endpoint, changes the
 * function table at run time (ctl, SIGHUP), and on SIGTERM/SIGINT drains the workers and removes the
 * host configuration. With `workers: 0` (small hosts) there is no worker process: the primary runs one
 * ProxyWorker itself and asks it through the same handler table (worker-api.ts) a forked worker uses.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type http from 'node:http';
import { fileURLToPath } from 'node:url';
import { durationArgument } from '../config/duration.js';
import { SrError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import type { LogLevel } from '../config/schemas.js';
import { native } from '../native/addon.js';
import { listenFd } from '../native/sockets.js';
import type { FunctionSpec } from '../sdk/loader.js';
import type { FunctionInfo } from '../sdk/table.js';
import { untilStopSignal } from '../sys/signals.js';
import type { AdminRoute } from './admin.js';
import { startProxyAdmin } from './admin-config.js';
import { admitSpec, type LoadPolicy } from './module-policy.js';
import { checkFunctions, loadProxyConfig, parseFunctionEntry, type ProxyConfig } from './config.js';
import type { FlowRecord } from './flow.js';
import { ENV_BASEDIR, ENV_CONFIG, ENV_FUNCTIONS, ENV_INDEX, type Args, type FromWorker, type Op, type Result, type ToWorker, wireCode } from './ipc.js';
import { exposition, primaryProcessMetrics, RetainedMetrics, type MetricsJson } from './metrics.js';
import { netconfPhases, netconfPlan } from './netconf.js';
import { applyPlan, checkNetconfPrerequisites } from '../sys/plan.js';
import { nofileNeed, raiseNofile } from './rlimit.js';
import { RetainedStats, type ProxyStats } from './stats.js';
import { describeSkLookup, ENV_SKLOOKUP_SLOTS, SkLookupInterception } from './sklookup.js';
import { workerExecArgv } from './worker-runtime.js';
import { proxyHealth, RestartBackoff, type HealthState } from './supervision.js';
import { askLocal, guardProcess, workerHandlers } from './worker-api.js';
import { ProxyWorker } from './worker.js';
import { ownListenerMap } from './sklookup.js';
import type { WorkerHandlers } from './ipc.js';

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.js', import.meta.url));

export interface DaemonOptions {
  configPath: string;
  dryRun?: boolean;
  /** printed lines (dry run); default stdout */
  print?: (line: string) => void;
  /** `--log-level`: instead of the config file's `logLevel` (the workers' too) */
  logLevel?: LogLevel;
}

/** A worker: a forked process (`child`), or the one the primary runs itself with `workers: 0` (`local`). */
type WorkerSlot = { index: number; child: ChildProcess; local?: undefined } | { index: number; child?: undefined; local: { worker: ProxyWorker; handlers: WorkerHandlers; log: Logger } };

/** how long the single process (`workers: 0`) may spend removing its host configuration after a bug, before it exits anyway */
const BUG_CLEANUP_MS = 5000;

export class ProxyDaemon {
  private readonly workers: WorkerSlot[] = [];
  private admin: http.Server[] = [];
  /** removes the interception (after the drain) */
  private undoNetconf: (() => Promise<void>) | undefined;
  /** restores the host settings (last) */
  private undoHost: (() => Promise<void>) | undefined;
  /** netconf.intercept: sklookup — the program, its link and maps (sklookup.ts) */
  private sklookup: SkLookupInterception | undefined;
  private stopping = false;
  private req = 1;
  private readonly pending = new Map<number, (m: Extract<FromWorker, { type: 'res' }>) => void>();
  /** the function table now (the config's, changed by ctl and reloads) */
  private specs: FunctionSpec[];
  private readonly events: Record<string, number> = {};
  /** what workers that ended had counted: sums stay monotonic across a worker's death */
  private readonly retainedStats = new RetainedStats();
  private readonly retainedMetrics = new RetainedMetrics();
  /** the back-off between restarts of a worker that died, and the restarts waiting */
  private readonly backoff: RestartBackoff;
  private readonly restartTimers = new Map<number, { timer: NodeJS.Timeout; due: number }>();

  constructor(
    private cfg: ProxyConfig,
    private readonly log: Logger,
    private readonly configPath?: string,
  ) {
    this.specs = cfg.functions;
    this.backoff = new RestartBackoff(cfg.workerRestart);
  }

  /**
   * Host settings, then the workers (listening), then interception, then admin: no SYN is steered to
   * a port nobody listens on. On failure undoes what it did and throws.
   */
  async start(): Promise<void> {
    const t0 = Date.now();
    try {
      if (this.cfg.netconf) checkNetconfPrerequisites();
      probePort(this.cfg);
      raiseNofile(nofileNeed(this.cfg), this.log);
      const phases = this.cfg.netconf
        ? netconfPhases(netconfPlan({ locators: this.cfg.locators, port: this.cfg.port, returnHops: this.cfg.returnHops, mptcp: this.cfg.mptcp, ...this.cfg.netconf }))
        : { host: [], interception: [] };
      if (phases.host.length) this.undoHost = await applyPlan(phases.host);
      if (this.cfg.netconf?.intercept === 'sklookup') {
        // the maps and the program before the workers, which get the listener map (attached later)
        this.sklookup = new SkLookupInterception({ locators: this.cfg.locators, workers: this.cfg.workers, maxOwnPrefixes: this.cfg.netconf.ownPrefixes }, this.log);
        await this.sklookup.prepare();
      }
      const tHost = Date.now();
      // the primary checks the functions while the workers boot (each loads them again)
      const boot = this.cfg.workers === 0 ? [this.startLocal()] : Array.from({ length: this.cfg.workers }, (_, i) => this.spawnWorker(i));
      const [checked, ...started] = await Promise.allSettled([checkFunctions(this.cfg, this.configPath), ...boot]);
      // the primary's error names the config file: it wins over a worker's
      for (const r of [checked!, ...started]) if (r.status === 'rejected') throw r.reason;
      const tWorkers = Date.now();
      if (this.cfg.netconf) {
        // sk_lookup: the program goes on before the nft rules make a SID's SYNs local (the workers'
        // listeners are in its slots already); tproxy: the nft rules are the interception
        this.sklookup?.attach();
        this.undoNetconf = await applyPlan(phases.interception);
        this.log.info({ steps: phases.host.length + phases.interception.length }, 'host configuration applied');
      }
      const tInterception = Date.now();
      if (this.cfg.admin) this.admin = await startProxyAdmin(this.cfg.admin, this.routes(), this.log);
      this.log.info({ port: this.cfg.port, workers: this.cfg.workers, admin: this.cfg.admin, startMs: Date.now() - t0, phasesMs: { host: tHost - t0, workers: tWorkers - tHost, interception: tInterception - tWorkers } }, 'proxy started');
    } catch (e) {
      await this.stop(0);
      throw e;
    }
  }

  private routes(): AdminRoute[] {
    type B = { spec?: unknown; id?: unknown; deadlineMs?: number };
    const json = (f: (body: unknown) => Promise<unknown>) => async (body: unknown) => ({ body: await f(body) });
    return [
      { method: 'GET', path: '/flows', summary: 'the flow table of every worker', handle: json(() => this.flows()) },
      { method: 'GET', path: '/stats', summary: 'per-function counters', access: 'open', handle: json(() => this.stats()) },
      { method: 'GET', path: '/health', summary: 'readiness: 200 when every worker listens and the host configuration is applied; 503 and the reason while not, or draining', access: 'open', handle: async () => proxyHealth(this.healthState()) },
      { method: 'GET', path: '/functions', summary: 'the function table', handle: json(() => this.functions()) },
      {
        method: 'GET',
        path: '/metrics',
        summary: 'Prometheus metrics',
        access: 'open',
        handle: async () => {
          const m = await this.metrics();
          return { body: m.text, contentType: m.contentType };
        },
      },
      { method: 'POST', path: '/functions/load', summary: 'load or replace a function: {spec}', handle: json((b) => this.load((b as B).spec)) },
      {
        method: 'POST',
        path: '/functions/unload',
        summary: 'unload a function: {id, deadlineMs?}',
        handle: json(async (b) => this.unload(Number((b as B).id), (b as B).deadlineMs === undefined ? undefined : durationArgument((b as B).deadlineMs, 'deadlineMs', { max: 3_600_000 }))),
      },
      { method: 'POST', path: '/functions/reload', summary: 'reload a function’s module: {id}', handle: json((b) => this.reloadFunction(Number((b as B).id))) },
      { method: 'POST', path: '/config/reload', summary: 're-read the config file (as SIGHUP)', handle: json(() => this.reloadConfig()) },
    ];
  }

  private healthState(): HealthState {
    return {
      draining: this.stopping,
      workersWanted: Math.max(1, this.cfg.workers),
      workersListening: this.workers.length,
      restarting: new Map([...this.restartTimers].map(([i, r]) => [i, r.due])),
      hostConfigured: !this.cfg.netconf || this.undoNetconf !== undefined,
      restarts: this.backoff.restarts,
    };
  }

  /** A worker died (or its restart failed): start it again after the back-off (supervision.ts), counted. */
  private scheduleRestart(index: number, why: Record<string, unknown>): void {
    const delay = this.backoff.died(index);
    this.count('worker_restart');
    this.log.error({ worker: index, ...why, restartInMs: delay, restarts: this.backoff.restarts }, 'worker died; restarting it');
    const timer = setTimeout(() => {
      this.restartTimers.delete(index);
      if (this.stopping) return;
      this.spawnWorker(index).catch((e: unknown) => {
        if (!this.stopping) this.scheduleRestart(index, { err: e instanceof Error ? e.message : e });
      });
    }, delay);
    this.restartTimers.set(index, { timer, due: Date.now() + delay });
  }

  /** Worker processes alive (0 with `workers: 0`: the primary serves the flows itself). */
  private workerProcesses(): number {
    return this.workers.filter((w) => w.child).length;
  }

  /**
   * `workers: 0`: one ProxyWorker in this process, listening like a forked one (sk_lookup: it puts its
   * listener in the primary's own map). The process-level policy of a worker applies to the whole
   * process (worker-api.ts: guardProcess); on a bug that ends it, the host configuration is removed
   * (best effort) before the exit, as stop() removes it: nobody else would.
   */
  private async startLocal(): Promise<void> {
    const log = createLogger(this.cfg.logLevel, { role: 'worker', worker: 0 });
    const worker = new ProxyWorker({ ...this.cfg, functions: this.specs }, log, 0, this.sklookup ? ownListenerMap(this.sklookup) : undefined);
    guardProcess(worker, log, {
      role: 'proxy (workers: 0)',
      lastWordsMs: BUG_CLEANUP_MS,
      lastWords: () => this.removeHostConfiguration(true),
      exit: (code) => process.exit(code),
    });
    try {
      await worker.start();
    } catch (e) {
      await worker.drain(0).catch(() => undefined); // its listeners, relay thread and functions
      throw e;
    }
    this.workers.push({ index: 0, local: { worker, handlers: workerHandlers(worker), log } });
    log.info({ port: this.cfg.port }, 'worker listening (in the primary: workers 0)');
  }

  private spawnWorker(index: number): Promise<void> {
    const child = fork(WORKER_MAIN, [], {
      execArgv: workerExecArgv(process.execArgv, process.env),
      env: {
        ...process.env,
        [ENV_CONFIG]: JSON.stringify(this.cfg.raw),
        [ENV_BASEDIR]: this.cfg.baseDir,
        [ENV_FUNCTIONS]: JSON.stringify(this.specs),
        [ENV_INDEX]: String(index),
        ...(this.sklookup ? { [ENV_SKLOOKUP_SLOTS]: String(this.sklookup.slots) } : {}),
      },
      // sklookup: the listener map's fd, at WORKER_MAP_FD (4) in the worker
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...(this.sklookup ? [this.sklookup.listenersFd] : [])],
    });
    const slot: WorkerSlot = { index, child };
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      let final: ProxyStats | undefined;
      child.on('message', (m: FromWorker) => {
        if (m.type === 'final') final = m.stats;
        else if (m.type === 'ready') {
          ready = true;
          // restarted while stop() drained the others: it would keep the primary alive (it drains on disconnect)
          if (this.stopping) child.disconnect();
          this.workers.push(slot);
          this.backoff.up(index);
          resolve();
        } else if (m.type === 'failed') {
          reject(m.code === 'INTERNAL' ? new Error(m.message) : new SrError(wireCode(m.code), m.message, m.hint ? { hint: m.hint } : undefined));
        } else {
          this.pending.get(m.req)?.(m);
        }
      });
      child.on('exit', (code, signal) => {
        const i = this.workers.indexOf(slot);
        if (i >= 0) this.workers.splice(i, 1);
        if (ready) {
          this.retainedStats.retire(slot, signal ?? `exit ${code}`, final);
          this.retainedMetrics.retire(slot).catch((e: unknown) => this.log.error({ err: e }, 'keeping an ended worker’s metrics failed'));
        }
        if (!ready) {
          reject(new SrError('INTERNAL', `worker ${index} exited during start (code ${code}, signal ${signal})`));
          return;
        }
        if (!this.stopping) this.scheduleRestart(index, { code, signal });
      });
    });
  }

  /** Sends a request to one worker; resolves with its result, rejects with its error. */
  private ask<K extends Op>(w: WorkerSlot, op: K, args: Args<K>, timeoutMs = 10_000): Promise<Result<K>> {
    if (w.local) return askLocal(w.local.handlers, op, args, timeoutMs, w.local.log, w.index);
    const child = w.child;
    const req = this.req++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(req);
        reject(new SrError('INTERNAL', `worker ${w.index} did not answer ${op} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(req, (m) => {
        clearTimeout(timer);
        this.pending.delete(req);
        // the worker answered this op with its handler's result (ipc.ts: WorkerHandlers)
        if (m.ok) resolve(m.result as Result<K>);
        else reject(m.code === 'INTERNAL' ? new Error(m.message) : new SrError(wireCode(m.code), m.message));
      });
      child.send({ type: 'req', req, op, args } as ToWorker);
    });
  }

  private all<K extends Op>(op: K, args: Args<K>, timeoutMs?: number): Promise<Result<K>[]> {
    return Promise.all(this.workers.map((w) => this.ask(w, op, args, timeoutMs)));
  }

  /** As `all`, each answer with the worker it came from. */
  private allFrom<K extends Op>(op: K, args: Args<K>): Promise<[WorkerSlot, Result<K>][]> {
    return Promise.all(this.workers.map(async (w) => [w, await this.ask(w, op, args)] as [WorkerSlot, Result<K>]));
  }

  async flows(): Promise<FlowRecord[]> {
    return (await this.all('flows', {})).flat();
  }

  async stats(): Promise<ProxyStats & { workers: number }> {
    return { ...this.retainedStats.merge(await this.allFrom('stats', {})), workers: this.workerProcesses() };
  }

  async metrics(): Promise<{ text: string; contentType: string }> {
    const [stats, functionMetrics, process] = await Promise.all([this.stats(), this.allFrom('metrics', {}), primaryProcessMetrics()]);
    return exposition(stats, this.events, this.retainedMetrics.merge(functionMetrics), stats.workers, { process, restarts: this.backoff.restarts });
  }

  /** logrotate (SIGHUP): every worker reopens its access log by its path. */
  async reopenLogs(): Promise<void> {
    if (this.cfg.accessLog) await this.all('reopenLogs', {});
  }

  /** The table (as worker 0 has it) with flow counts summed over workers. */
  async functions(): Promise<FunctionInfo[]> {
    const lists = await this.all('functions', {});
    const [first, ...rest] = lists;
    return (first ?? []).map((f) => ({
      ...f,
      activeFlows: f.activeFlows + rest.reduce((n, l) => n + (l.find((x) => x.id === f.id)?.activeFlows ?? 0), 0),
    }));
  }

  /** What ctl may load (docs/security.md): the config file's entries, built-ins, modules from admin.moduleDirs, exec argv from the config. */
  private loadPolicy(): LoadPolicy {
    return { moduleDirs: this.cfg.admin?.moduleDirs ?? [], execArgv: this.cfg.admin?.execArgv ?? [], trusted: this.cfg.functions, baseDir: this.cfg.baseDir };
  }

  private count(event: string): void {
    this.events[event] = (this.events[event] ?? 0) + 1;
  }

  async load(raw: unknown): Promise<{ id: number; version: number[] }> {
    const { spec: asked, deprecations } = parseFunctionEntry(raw, 'spec');
    for (const d of deprecations) this.log.warn(d);
    const spec = await admitSpec(asked, this.loadPolicy());
    await checkFunctions({ ...this.cfg, functions: [spec] }, 'spec');
    const versions = await this.all('load', { spec }, 30_000);
    this.specs = [...this.specs.filter((s) => s.id !== spec.id), spec].sort((a, b) => a.id - b.id);
    this.count('load');
    this.log.info({ fn: spec.id, spec }, 'function loaded');
    return { id: spec.id, version: versions };
  }

  async unload(id: number, deadlineMs = this.cfg.timeouts.drain): Promise<{ id: number; reset: number }> {
    const results = await this.all('unload', { id, deadlineMs }, deadlineMs + 10_000);
    this.specs = this.specs.filter((s) => s.id !== id);
    this.count('unload');
    const reset = results.reduce((n, r) => n + r.reset, 0);
    this.log.info({ fn: id, reset }, 'function unloaded');
    return { id, reset };
  }

  async reloadFunction(id: number): Promise<{ id: number; version: number[] }> {
    const spec = this.specs.find((s) => s.id === id);
    if (!spec) throw new SrError('FUNCTION_NOT_LOADED', `no function with id ${id} is loaded`);
    await admitSpec(spec, this.loadPolicy(), 'reload');
    await checkFunctions({ ...this.cfg, functions: [spec] }, 'reload');
    const versions = await this.all('reload', { id }, 30_000);
    this.count('reload');
    this.log.info({ fn: id }, 'function reloaded');
    return { id, version: versions };
  }

  /** Re-reads the config file and makes the function table match it (SIGHUP). */
  async reloadConfig(): Promise<{ loaded: number[]; unloaded: number[]; kept: number[] }> {
    if (!this.configPath) throw new SrError('BAD_ARGUMENT', 'the proxy was not started from a config file');
    const next = loadProxyConfig(this.configPath);
    for (const d of next.deprecations) this.log.warn(d);
    await checkFunctions(next, this.configPath);
    const restartOnly: string[] = (['port', 'listen', 'workers', 'netconf', 'admin', 'mptcp', 'limits', 'accessLog'] as const).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(this.cfg[k]));
    if (JSON.stringify(next.locators.map((l) => [l.locator.addr.toString('hex'), l.locator.length, l.functionBits])) !== JSON.stringify(this.cfg.locators.map((l) => [l.locator.addr.toString('hex'), l.locator.length, l.functionBits]))) restartOnly.push('locators');
    if (restartOnly.length) this.log.warn({ fields: restartOnly }, 'these settings change only on restart');
    const results = await this.all('apply', { specs: next.functions }, 30_000);
    this.specs = next.functions;
    this.cfg = { ...this.cfg, functions: next.functions, timeouts: next.timeouts, logLevel: next.logLevel };
    this.count('config_reload');
    const r = results[0] ?? { loaded: [], unloaded: [], kept: [] };
    this.log.info(r, 'configuration reloaded');
    return r;
  }

  /** Drains the workers (up to the deadline), stops admin, removes the host configuration. */
  async stop(deadlineMs = this.cfg.timeouts.drain): Promise<void> {
    this.stopping = true;
    for (const r of this.restartTimers.values()) clearTimeout(r.timer);
    this.restartTimers.clear();
    const exits = this.workers.map((w) => {
      // in this process: its drain resets what is left at the deadline and closes its relay and functions
      if (w.local) return this.ask(w, 'drain', { deadlineMs }, deadlineMs + 3000).then(
        () => undefined,
        (e: unknown) => this.log.error({ err: e }, 'draining the in-process worker failed'),
      );
      const child = w.child;
      return new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), deadlineMs + 3000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        this.ask(w, 'drain', { deadlineMs }, deadlineMs + 3000).catch(() => undefined);
      });
    });
    await Promise.all(exits);
    this.workers.splice(0, this.workers.length, ...this.workers.filter((w) => w.child));
    await Promise.all(this.admin.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.admin = [];
    await this.removeHostConfiguration();
  }

  /**
   * The interception, then the sk_lookup program and maps, then the host settings, each once (a stop
   * and a bug's exit may both ask). `bestEffort` (the exit on a bug): a step that fails is logged and
   * the next one still runs; otherwise the first failure throws.
   */
  private async removeHostConfiguration(bestEffort = false): Promise<void> {
    const step = async (what: string, f: (() => Promise<void> | void) | undefined): Promise<void> => {
      if (!f) return;
      try {
        await f();
      } catch (e) {
        if (!bestEffort) throw e;
        this.log.error({ err: e }, `removing the host configuration: ${what} failed`);
      }
    };
    // the interception stayed in place while the flows in flight drained; now it goes, then the host settings
    const { undoNetconf, sklookup, undoHost } = this;
    this.undoNetconf = this.sklookup = this.undoHost = undefined;
    await step('the interception', undoNetconf);
    await step('the sk_lookup program', sklookup && (() => sklookup.stop()));
    await step('the host settings', undoHost);
    if (undoHost) this.log.info('host configuration removed');
  }
}

/** Fails early with PORT_BUSY when something already listens on the port (even with SO_REUSEPORT). */
function probePort(cfg: ProxyConfig): void {
  const fd = listenFd({ address: cfg.listen, port: cfg.port, transparent: !!cfg.netconf });
  native().close(fd);
}

function describeSpec(s: FunctionSpec): string {
  return s.chain ? `${s.id}=chain(${s.parts.map((p) => p.function).join(',')})` : `${s.id}=${s.parts[0]?.function}`;
}

/** `srv6pipes proxy`: runs until SIGTERM/SIGINT, then drains and exits 0. SIGHUP re-reads the config. */
export async function runProxy(o: DaemonOptions): Promise<number> {
  const loaded = loadProxyConfig(o.configPath);
  // --log-level: the workers validate `raw`, so it goes there too
  const cfg = o.logLevel === undefined ? loaded : { ...loaded, logLevel: o.logLevel, raw: { ...(loaded.raw as object), logLevel: o.logLevel } };
  const print = o.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  if (o.dryRun) {
    await checkFunctions(cfg, o.configPath);
    print(`# srv6pipes proxy --dry-run: config ${o.configPath} is valid; nothing is changed.`);
    for (const d of cfg.deprecations) print(`# deprecated: ${d}`);
    print(`# listener: [${cfg.listen}]:${cfg.port}, ${cfg.workers === 0 ? 'no worker process (workers: 0): the primary serves the flows' : `${cfg.workers} worker(s)`}, functions ${cfg.functions.map(describeSpec).join(' ')}`);
    if (!cfg.netconf) print('# netconf: off — the operator provides interception (see README: host configuration)');
    else {
      const { host, interception } = netconfPhases(netconfPlan({ locators: cfg.locators, port: cfg.port, returnHops: cfg.returnHops, mptcp: cfg.mptcp, ...cfg.netconf }));
      for (const s of host) print(s.describe);
      print('# (the workers listen here; then the interception)');
      if (cfg.netconf.intercept === 'sklookup') for (const l of describeSkLookup({ locators: cfg.locators, workers: cfg.workers, maxOwnPrefixes: cfg.netconf.ownPrefixes })) print(l);
      for (const s of interception) print(s.describe);
    }
    return 0;
  }
  const log = createLogger(cfg.logLevel, { role: 'primary' });
  for (const d of cfg.deprecations) log.warn(d);
  const daemon = new ProxyDaemon(cfg, log, o.configPath);
  await daemon.start();
  const onHup = (): void => {
    daemon.reopenLogs().catch((e: unknown) => log.error({ err: e }, 'reopening the access log failed'));
    daemon.reloadConfig().catch((e: unknown) => log.error({ err: e instanceof SrError ? e.message : e, code: e instanceof SrError ? e.code : undefined }, 'configuration reload failed; the running table is unchanged'));
  };
  const sig = await untilStopSignal(log, onHup);
  log.info({ signal: sig, deadlineMs: cfg.timeouts.drain }, 'draining');
  await daemon.stop();
  log.info('stopped');
  return 0;
}
