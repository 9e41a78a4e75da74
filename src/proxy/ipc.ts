/** Messages between the proxy's primary process and its workers (child_process IPC). */
import type { FunctionSpec } from '../sdk/loader.js';
import type { ProxyStats } from './stats.js';

/** Requests the primary makes of every worker; each answers with a Response. */
export type Request =
  | { op: 'flows' }
  | { op: 'stats' }
  | { op: 'metrics' }
  | { op: 'functions' }
  | { op: 'load'; spec: FunctionSpec }
  | { op: 'unload'; id: number; deadlineMs: number }
  | { op: 'reload'; id: number }
  | { op: 'apply'; specs: FunctionSpec[] }
  | { op: 'drain'; deadlineMs: number };

export type ToWorker = { type: 'req'; req: number } & Request;

export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; code: string; message: string; hint?: string }
  /** a worker about to exit on a bug: its counters as they are now (the primary keeps them) */
  | { type: 'final'; stats: ProxyStats }
  | { type: 'res'; req: number; ok: true; result: unknown }
  | { type: 'res'; req: number; ok: false; code: string; message: string };

/** Environment variables the primary hands a worker. */
export const ENV_CONFIG = 'SRV6PIPES_WORKER_CONFIG';
export const ENV_BASEDIR = 'SRV6PIPES_WORKER_BASEDIR';
export const ENV_INDEX = 'SRV6PIPES_WORKER_INDEX';
/** the function table now (it may differ from the config file after `ctl` changes) */
export const ENV_FUNCTIONS = 'SRV6PIPES_WORKER_FUNCTIONS';
