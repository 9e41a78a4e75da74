/** Per-function counters of a worker; the primary adds the workers' snapshots up. */
import type { ErrorCode } from '../core/errors.js';
import type { FlowCounters } from '../sdk/flow.js';
import { flowEndLabel } from '../sdk/flow-end.js';

/** A function's counters: flows, bytes, and `endings` by label (sdk/flow-end.ts: ok, client_reset, …). */
export interface FunctionStats extends FlowCounters {
  functionId: number;
  /** the function's name (a built-in's, or a module's descriptor name) */
  function: string;
}

/** The label of the flows a worker held when it ended (sdk/flow-end.ts) */
const WORKER_EXIT = flowEndLabel({ kind: 'worker_exit' });

export interface ProxyStats {
  functions: FunctionStats[];
  /** flows refused at accept, by error code (FLOW_UNKNOWN_FUNCTION, SRH_BAD_TLV, …): a `rejected` ending's label */
  rejected: Record<string, number>;
  accepted: number;
  /** bugs a worker survived or died of: unhandledRejection, uncaughtException */
  bugs?: Record<string, number>;
  /** the primary's count of worker processes that ended while running, by how (SIGKILL, exit 70, …) */
  workerExits?: Record<string, number>;
  /** config nativeRelay.connectEarly: onward sockets the accept started, by what became of them (adopted, reset) */
  earlyConnects?: Record<string, number>;
}

export class StatsBook {
  private readonly byFn = new Map<number, FunctionStats>();
  readonly rejected: Record<string, number> = {};
  readonly bugs: Record<string, number> = {};
  readonly earlyConnects: Record<string, number> = {};
  accepted = 0;

  fn(functionId: number, name: string): FunctionStats {
    let s = this.byFn.get(functionId);
    if (!s) {
      s = { functionId, function: name, flowsTotal: 0, flowsActive: 0, bytesUp: 0, bytesDown: 0, endings: {} };
      this.byFn.set(functionId, s);
    }
    s.function = name; // a function id may be reloaded as another function: name the latest
    return s;
  }

  reject(code: ErrorCode): void {
    this.rejected[code] = (this.rejected[code] ?? 0) + 1;
  }

  bug(kind: string): void {
    this.bugs[kind] = (this.bugs[kind] ?? 0) + 1;
  }

  /** an early onward socket adopted by its flow, or reset (refused, or another onward header) */
  early(result: 'adopted' | 'reset'): void {
    this.earlyConnects[result] = (this.earlyConnects[result] ?? 0) + 1;
  }

  snapshot(): ProxyStats {
    return {
      functions: [...this.byFn.values()].map((s) => ({ ...s, endings: { ...s.endings } })),
      rejected: { ...this.rejected },
      accepted: this.accepted,
      bugs: { ...this.bugs },
      earlyConnects: { ...this.earlyConnects },
    };
  }
}

export function mergeStats(parts: ProxyStats[]): ProxyStats {
  const out: ProxyStats = { functions: [], rejected: {}, accepted: 0, bugs: {} };
  const byFn = new Map<number, FunctionStats>();
  const add = (into: Record<string, number>, from: Record<string, number> | undefined): void => {
    for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v;
  };
  for (const p of parts) {
    out.accepted += p.accepted;
    add(out.rejected, p.rejected);
    add(out.bugs!, p.bugs);
    if (p.workerExits) add((out.workerExits ??= {}), p.workerExits);
    if (p.earlyConnects) add((out.earlyConnects ??= {}), p.earlyConnects);
    for (const f of p.functions) {
      const t = byFn.get(f.functionId);
      if (!t) {
        byFn.set(f.functionId, { ...f, endings: { ...f.endings } });
        continue;
      }
      t.flowsTotal += f.flowsTotal;
      t.flowsActive += f.flowsActive;
      t.bytesUp += f.bytesUp;
      t.bytesDown += f.bytesDown;
      for (const [k, v] of Object.entries(f.endings)) t.endings[k] = (t.endings[k] ?? 0) + v;
    }
  }
  out.functions = [...byFn.values()].sort((a, b) => a.functionId - b.functionId);
  return out;
}

/**
 * What the workers counted, kept by the primary across their lives (issue 12 item 17). A scrape sums
 * the live workers' snapshots; a worker that ends would take its share with it, and Prometheus reads
 * a total that goes down as a counter reset. So the primary remembers each live worker's latest
 * snapshot (every value a scrape ever showed went through here), and when the worker ends adds it to
 * the retired totals: sums stay monotonic across a worker's death and restart. The retired flows still
 * active are counted as ended with reason `worker_exit`.
 */
export class RetainedStats {
  private readonly latest = new Map<object, ProxyStats>();
  private retired: ProxyStats = { functions: [], rejected: {}, accepted: 0, bugs: {}, workerExits: {} };

  /** A live worker's snapshot (any newer one replaces it). */
  seen(worker: object, s: ProxyStats): void {
    this.latest.set(worker, s);
  }

  /**
   * The worker has ended (`how`: SIGKILL, exit 70, …): its latest snapshot — or the final one it sent,
   * which is newer — joins the retired totals.
   */
  retire(worker: object, how: string, final?: ProxyStats): void {
    const last = final ?? this.latest.get(worker);
    this.latest.delete(worker);
    const exits = { ...(this.retired.workerExits ?? {}) };
    exits[how] = (exits[how] ?? 0) + 1;
    const parts: ProxyStats[] = [this.retired];
    if (last) {
      parts.push({
        ...last,
        functions: last.functions.map((f) => ({
          ...f,
          flowsActive: 0,
          endings: f.flowsActive > 0 ? { ...f.endings, [WORKER_EXIT]: (f.endings[WORKER_EXIT] ?? 0) + f.flowsActive } : { ...f.endings },
        })),
      });
    }
    this.retired = { ...mergeStats(parts), workerExits: exits };
  }

  /** The totals: the retired workers' plus these live snapshots (recorded as seen). */
  merge(live: [worker: object, stats: ProxyStats][]): ProxyStats {
    for (const [w, st] of live) this.seen(w, st);
    return mergeStats([this.retired, ...live.map(([, st]) => st)]);
  }
}
