/**
 * The primary's view of its workers, apart from I/O: how long to wait before restarting a worker that
 * died (exponential back-off, bounded, reset after a stable period, counted), and what `/health`
 * answers (ready: every worker listening, the host configuration applied, not draining; else 503
 * with the reason).
 */

/** `workerRestart` (proxy config): the back-off between restarts of a worker that keeps dying. */
export interface RestartPolicy {
  /** the first restart waits this long */
  delayMs: number;
  /** each further one twice as long, at most this */
  maxDelayMs: number;
  /** a worker that ran this long before it died starts again from `delayMs` */
  stableMs: number;
}

export const RESTART_DEFAULTS: RestartPolicy = { delayMs: 100, maxDelayMs: 30_000, stableMs: 60_000 };

/** Per worker index: when it last started, how many quick deaths in a row; the total of restarts. */
export class RestartBackoff {
  private readonly started = new Map<number, number>();
  private readonly streak = new Map<number, number>();
  /** restarts scheduled since the daemon started */
  restarts = 0;

  constructor(
    private readonly policy: RestartPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** The worker is up (listening). */
  up(index: number): void {
    this.started.set(index, this.now());
  }

  /** The worker died (or its restart failed before it was up): the delay before its restart (one more restart counted). */
  died(index: number): number {
    const since = this.started.get(index);
    // a restart that fails before the worker is up is a quick death too
    this.started.delete(index);
    const ranMs = since === undefined ? 0 : this.now() - since;
    const n = ranMs >= this.policy.stableMs ? 0 : (this.streak.get(index) ?? 0);
    this.streak.set(index, n + 1);
    this.restarts++;
    return Math.min(this.policy.delayMs * 2 ** Math.min(n, 52), this.policy.maxDelayMs);
  }
}

export interface HealthState {
  draining: boolean;
  /** worker processes configured (1 with `workers: 0`: the primary's own) */
  workersWanted: number;
  workersListening: number;
  /** workers waiting for their restart: index → when it is due (ms since the epoch) */
  restarting: ReadonlyMap<number, number>;
  /** false while the host configuration (netconf) is not in place; true with `netconf: off` */
  hostConfigured: boolean;
  restarts: number;
}

export interface HealthReply {
  status: 200 | 503;
  body: { ok: boolean; ready: boolean; reason?: string; workers: number; workersWanted: number; restarts: number; draining: boolean };
}

/** What GET /health answers: 200 when ready; 503 and the first reason it is not. */
export function proxyHealth(s: HealthState, now = Date.now()): HealthReply {
  const waiting = [...s.restarting].map(([i, due]) => `worker ${i} in ${Math.max(0, due - now)} ms`);
  const reasons = [
    s.draining && 'draining: the proxy is stopping and takes no new flows',
    !s.hostConfigured && 'the host configuration (netconf) is not applied',
    s.workersListening < s.workersWanted && `${s.workersListening} of ${s.workersWanted} workers listening${waiting.length ? ` (restarting: ${waiting.join(', ')})` : ''}`,
  ].filter((r): r is string => typeof r === 'string');
  const ready = reasons.length === 0;
  return {
    status: ready ? 200 : 503,
    body: { ok: ready, ready, ...(ready ? {} : { reason: reasons.join('; ') }), workers: s.workersListening, workersWanted: s.workersWanted, restarts: s.restarts, draining: s.draining },
  };
}
