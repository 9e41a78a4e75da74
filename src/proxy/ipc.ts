/**
 * Messages between the proxy's primary process and its workers (child_process IPC), as one typed map:
 * each request the primary may make of a worker, with its arguments and what the worker answers.
 * The primary's `ask(worker, op, args)` (daemon.ts) and the worker's handler table (worker-main.ts)
 * are both typed from `WorkerApi`, so a request and its answer cannot drift apart.
 */
import { ERROR_CODES, type ErrorCode } from '../core/errors.js';
import type { FunctionSpec } from '../sdk/loader.js';
import type { FunctionInfo } from '../sdk/table.js';
import type { FlowRecord } from './flow.js';
import type { MetricsJson } from './metrics.js';
import type { ProxyStats } from './stats.js';

/** Request name → its arguments and the worker's answer. */
export interface WorkerApi {
  flows: { args: Record<string, never>; result: FlowRecord[] };
  stats: { args: Record<string, never>; result: ProxyStats };
  metrics: { args: Record<string, never>; result: MetricsJson };
  functions: { args: Record<string, never>; result: FunctionInfo[] };
  /** the result: the loaded version */
  load: { args: { spec: FunctionSpec }; result: number };
  unload: { args: { id: number; deadlineMs: number }; result: { reset: number } };
  /** the result: the new version */
  reload: { args: { id: number }; result: number };
  apply: { args: { specs: FunctionSpec[] }; result: { loaded: number[]; unloaded: number[]; kept: number[] } };
  /** logrotate: the access log is reopened by its path (the primary's SIGHUP) */
  reopenLogs: { args: Record<string, never>; result: null };
  /** the worker stops accepting, waits for its flows up to the deadline, resets the rest, then exits */
  drain: { args: { deadlineMs: number }; result: { remaining: number } };
}

export type Op = keyof WorkerApi;
export type Args<K extends Op> = WorkerApi[K]['args'];
export type Result<K extends Op> = WorkerApi[K]['result'];

/** How a worker answers each request (worker-main.ts). */
export type WorkerHandlers = { [K in Op]: (args: Args<K>) => Result<K> | Promise<Result<K>> };

/** Runs the handler of `op`: the types of `args` and of the answer follow `op`. */
export function dispatch<K extends Op>(handlers: WorkerHandlers, op: K, args: Args<K>): Promise<Result<K>> {
  return Promise.resolve().then(() => handlers[op](args));
}

export type ToWorker = { [K in Op]: { type: 'req'; req: number; op: K; args: Args<K> } }[Op];

export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; code: ErrorCode; message: string; hint?: string }
  /** a worker about to exit on a bug: its counters as they are now (the primary keeps them) */
  | { type: 'final'; stats: ProxyStats }
  | { type: 'res'; req: number; ok: true; result: unknown }
  | { type: 'res'; req: number; ok: false; code: ErrorCode; message: string };

/** An error code that crossed the process boundary: a known one, or INTERNAL. */
export function wireCode(code: unknown): ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) ? (code as ErrorCode) : 'INTERNAL';
}

/** Environment variables the primary hands a worker. */
export const ENV_CONFIG = 'SRV6PIPES_WORKER_CONFIG';
export const ENV_BASEDIR = 'SRV6PIPES_WORKER_BASEDIR';
export const ENV_INDEX = 'SRV6PIPES_WORKER_INDEX';
/** the function table now (it may differ from the config file after `ctl` changes) */
export const ENV_FUNCTIONS = 'SRV6PIPES_WORKER_FUNCTIONS';
