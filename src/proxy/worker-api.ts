/**
 * What a worker is to the primary, wherever it runs: the handler table that answers each request of
 * the typed `WorkerApi` (ipc.ts), and the process-level guard policy. A forked worker
 * (worker-main.ts) answers the primary's IPC messages with it; with `workers: 0` the primary runs one
 * ProxyWorker in its own process and calls the same table directly (daemon.ts), so every admin route,
 * `ctl`, SIGHUP reload and drain goes through the same handlers in both modes.
 */
import type { Logger } from 'pino';
import { isSrError, SrError } from '../core/errors.js';
import { dispatch, type Args, type Op, type Result, type WorkerHandlers } from './ipc.js';
import type { ProxyWorker } from './worker.js';

/** The worker's answer to each request of the primary (ipc.ts: WorkerApi). */
export function workerHandlers(worker: ProxyWorker): WorkerHandlers {
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
    reopenLogs: () => {
      worker.reopenLogs();
      return null;
    },
  };
}

/**
 * The primary's request to an in-process worker (`workers: 0`), with the same contract as one over
 * IPC (daemon.ts `ask`): the handler's result; its SrError as it is; any other error as a plain Error
 * with its message (logged, as worker-main.ts logs it); and INTERNAL "did not answer" after `timeoutMs`.
 */
export function askLocal<K extends Op>(handlers: WorkerHandlers, op: K, args: Args<K>, timeoutMs: number, log: Logger, index = 0): Promise<Result<K>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new SrError('INTERNAL', `worker ${index} did not answer ${op} in ${timeoutMs} ms`)), timeoutMs);
    dispatch(handlers, op, args).then(
      (result) => {
        clearTimeout(timer);
        resolve(result);
      },
      (e: unknown) => {
        clearTimeout(timer);
        if (isSrError(e)) return reject(e);
        log.error({ err: e, op }, 'request failed');
        reject(new Error(e instanceof Error ? e.message : String(e)));
      },
    );
  });
}

/** exit code of a process that ends on a bug (EX_SOFTWARE): a worker's primary, or the supervisor of a single process, restarts it */
export const EXIT_BUG = 70;

export interface GuardOptions {
  /** who is guarded, for the log lines: 'worker' or 'proxy' (workers: 0) */
  role: string;
  /**
   * After every flow was reset and before the exit: hand the counters to the primary (a worker), or
   * remove the host configuration (the single process). Best effort: the exit follows when it
   * settles or after `lastWordsMs`, whichever is first.
   */
  lastWords(): Promise<void>;
  lastWordsMs: number;
  exit(code: number): void;
}

/**
 * The last line of defence of a process that serves flows, and its policy (docs/security.md,
 * "packets that must not end a worker"). Nothing a peer sends should reach these handlers: every
 * connection handler is wrapped, every promise of the accept path has a catch, and a flow's own
 * errors reset that flow (worker.ts, flow.ts). What reaches them is a bug:
 *  - unhandledRejection: a promise failed with no one waiting for it. The stack was not unwound
 *    through half-done work, so the state is intact: log it with its stack, count it
 *    (`srv6pipes_worker_bugs_total{kind="unhandledRejection"}`) and go on.
 *  - uncaughtException: a throw unwound an event handler midway; the state may be inconsistent, so
 *    the process must not go on. Log it with its stack, count it, reset every flow at once (RST, never
 *    a FIN that would pass a truncated stream for a complete one), say its last words (see
 *    GuardOptions), and exit with EXIT_BUG.
 * Returns the two handlers (installed on `proc`), for tests.
 */
export function guardProcess(
  worker: Pick<ProxyWorker, 'countBug' | 'resetAll'>,
  log: Logger,
  o: GuardOptions,
  proc: Pick<NodeJS.Process, 'on'> = process,
): { unhandledRejection(reason: unknown): void; uncaughtException(err: Error, origin: string): void } {
  let dying = false;
  const handlers = {
    unhandledRejection(reason: unknown): void {
      worker.countBug('unhandledRejection');
      log.error({ err: reason }, `unhandled promise rejection (a bug): counted; the ${o.role} goes on`);
    },
    uncaughtException(err: Error, origin: string): void {
      if (dying) return;
      dying = true;
      worker.countBug('uncaughtException');
      log.fatal({ err, origin }, `uncaught exception (a bug): every flow is reset and the ${o.role} exits with ${EXIT_BUG}`);
      try {
        worker.resetAll({ kind: 'worker_exit' });
      } catch (e) {
        log.error({ err: e }, 'resetting the flows failed');
      }
      let exited = false;
      const exit = (): void => {
        if (exited) return;
        exited = true;
        clearTimeout(timer);
        o.exit(EXIT_BUG);
      };
      const timer = setTimeout(exit, o.lastWordsMs);
      let words: Promise<void>;
      try {
        words = o.lastWords();
      } catch (e) {
        words = Promise.reject(e);
      }
      words.catch((e: unknown) => log.error({ err: e }, 'the last words before the exit failed')).finally(exit);
    },
  };
  proc.on('unhandledRejection', handlers.unhandledRejection);
  proc.on('uncaughtException', handlers.uncaughtException);
  return handlers;
}
