/**
 * Health checks of the proxies: every `intervalMs` a GET of each proxy's admin `/health` (the proxy's
 * `admin` endpoint, on an address the controller reaches), with a timeout. A proxy is down after
 * `fall` consecutive failures and up again after `rise` consecutive successes; proxies start up
 * (optimistic: a fresh controller answers at once). `onChange` fires on every transition — the
 * controller then re-points the binding SIDs. Proxies without a `health` entry are always up.
 * With a shared store only the elected instance runs the probes (store/health.ts publishes what
 * they find); a newly elected one starts from the published states (seed()), not optimistic.
 */
import type { Logger } from 'pino';

export interface HealthTarget {
  node: string;
  address: string;
  port: number;
}

export interface HealthOptions {
  intervalMs: number;
  timeoutMs: number;
  fall: number;
  rise: number;
  log: Logger;
  onChange?: (node: string, up: boolean) => void;
  /** the check itself (default: HTTP GET /health) */
  probe?: (t: HealthTarget, timeoutMs: number) => Promise<void>;
}

interface State {
  target: HealthTarget;
  up: boolean;
  streak: number;
  lastError?: string;
  checkedAt?: number;
  /** since when (ms since the epoch) it is in this state */
  since: number;
}

export interface HealthStatus {
  node: string;
  up: boolean;
  since: number;
  lastError?: string;
  checkedAt?: number;
}

export async function httpProbe(t: HealthTarget, timeoutMs: number): Promise<void> {
  const host = t.address.includes(':') ? `[${t.address}]` : t.address;
  const res = await fetch(`http://${host}:${t.port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}

export class HealthMonitor {
  private readonly states = new Map<string, State>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: HealthOptions) {}

  setTargets(targets: readonly HealthTarget[]): void {
    const keep = new Set(targets.map((t) => t.node));
    for (const n of [...this.states.keys()]) if (!keep.has(n)) this.states.delete(n);
    for (const t of targets) {
      const s = this.states.get(t.node);
      if (s) s.target = t;
      else this.states.set(t.node, { target: t, up: true, streak: 0, since: Date.now() });
    }
  }

  isUp(node: string): boolean {
    return this.states.get(node)?.up ?? true;
  }

  status(): HealthStatus[] {
    return [...this.states.values()].map((s) => ({ node: s.target.node, up: s.up, since: s.since, ...(s.lastError ? { lastError: s.lastError } : {}), ...(s.checkedAt ? { checkedAt: s.checkedAt } : {}) }));
  }

  /** Takes over known states (what the previous leader published): the probes go on from them, no onChange. */
  seed(states: readonly { node: string; up: boolean; since: number; lastError?: string }[]): void {
    for (const k of states) {
      const s = this.states.get(k.node);
      if (!s) continue;
      s.up = k.up;
      s.since = k.since;
      s.streak = 0;
      if (k.lastError !== undefined) s.lastError = k.lastError;
      else delete s.lastError;
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.checkAll(), this.o.intervalMs);
    this.timer.unref();
    void this.checkAll();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round over every target (overlapping rounds are skipped). */
  checkAll(): Promise<void> {
    if (this.running) return this.running;
    const probe = this.o.probe ?? httpProbe;
    this.running = Promise.all(
      [...this.states.values()].map(async (s) => {
        let ok = true;
        try {
          await probe(s.target, this.o.timeoutMs);
          delete s.lastError;
        } catch (e) {
          ok = false;
          s.lastError = (e as Error).message;
        }
        s.checkedAt = Date.now();
        if (ok === s.up) {
          s.streak = 0;
          return;
        }
        s.streak++;
        if (s.streak >= (ok ? this.o.rise : this.o.fall)) {
          s.up = ok;
          s.streak = 0;
          s.since = Date.now();
          if (ok) this.o.log.info({ node: s.target.node }, 'proxy up');
          else this.o.log.warn({ node: s.target.node, err: s.lastError }, 'proxy down');
          this.o.onChange?.(s.target.node, ok);
        }
      }),
    ).then(() => {
      this.running = undefined;
    });
    return this.running;
  }
}
