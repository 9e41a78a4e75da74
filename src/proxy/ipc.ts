/** Messages between the proxy's primary process and its workers (child_process IPC). */
import type { FlowRecord } from './flow.js';
import type { ProxyStats } from './stats.js';

export type ToWorker =
  | { type: 'flows'; req: number }
  | { type: 'stats'; req: number }
  | { type: 'drain'; deadlineMs: number };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; code: string; message: string; hint?: string }
  | { type: 'flows'; req: number; flows: FlowRecord[] }
  | { type: 'stats'; req: number; stats: ProxyStats }
  | { type: 'drained'; remaining: number };

/** Environment variables the primary hands a worker. */
export const ENV_CONFIG = 'SRV6PIPES_WORKER_CONFIG';
export const ENV_INDEX = 'SRV6PIPES_WORKER_INDEX';
