/** Per-function counters of a worker; the primary adds the workers' snapshots up. */

export interface FunctionStats {
  functionId: number;
  vf: string;
  flowsTotal: number;
  flowsActive: number;
  bytesUp: number;
  bytesDown: number;
  /** flow endings by reason (ok, client_reset, server_reset, connect_failed, …) */
  endings: Record<string, number>;
}

export interface ProxyStats {
  functions: FunctionStats[];
  /** flows refused at accept, by error code (FLOW_UNKNOWN_FUNCTION, SRH_BAD_TLV, …) */
  rejected: Record<string, number>;
  accepted: number;
}

export class StatsBook {
  private readonly byFn = new Map<number, FunctionStats>();
  readonly rejected: Record<string, number> = {};
  accepted = 0;

  fn(functionId: number, vf: string): FunctionStats {
    let s = this.byFn.get(functionId);
    if (!s) {
      s = { functionId, vf, flowsTotal: 0, flowsActive: 0, bytesUp: 0, bytesDown: 0, endings: {} };
      this.byFn.set(functionId, s);
    }
    s.vf = vf; // a function id may be reloaded as another function: name the latest
    return s;
  }

  reject(code: string): void {
    this.rejected[code] = (this.rejected[code] ?? 0) + 1;
  }

  snapshot(): ProxyStats {
    return {
      functions: [...this.byFn.values()].map((s) => ({ ...s, endings: { ...s.endings } })),
      rejected: { ...this.rejected },
      accepted: this.accepted,
    };
  }
}

export function mergeStats(parts: ProxyStats[]): ProxyStats {
  const out: ProxyStats = { functions: [], rejected: {}, accepted: 0 };
  const byFn = new Map<number, FunctionStats>();
  for (const p of parts) {
    out.accepted += p.accepted;
    for (const [k, v] of Object.entries(p.rejected)) out.rejected[k] = (out.rejected[k] ?? 0) + v;
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
