/** A FunctionMetrics that records in memory: for tests and the harness. */
import type { CounterHandle, GaugeHandle, MetricLabels, FunctionMetrics } from './types.js';

const key = (labels?: MetricLabels): string =>
  labels ? Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',') : '';

export class MemoryMetrics implements FunctionMetrics {
  /** name → label key ('a=1,b=x') → value */
  readonly values = new Map<string, Map<string, number>>();

  private series(name: string): Map<string, number> {
    let m = this.values.get(name);
    if (!m) this.values.set(name, (m = new Map()));
    return m;
  }

  get(name: string, labels?: MetricLabels): number {
    return this.values.get(name)?.get(key(labels)) ?? 0;
  }

  counter(name: string): CounterHandle {
    return {
      inc: (labels, value = 1) => {
        const m = this.series(name);
        m.set(key(labels), (m.get(key(labels)) ?? 0) + value);
      },
    };
  }

  gauge(name: string): GaugeHandle {
    const add = (labels: MetricLabels | undefined, v: number): void => {
      const m = this.series(name);
      m.set(key(labels), (m.get(key(labels)) ?? 0) + v);
    };
    return {
      set: (labels, value) => void this.series(name).set(key(labels), value),
      inc: (labels, value = 1) => add(labels, value),
      dec: (labels, value = 1) => add(labels, -value),
    };
  }
}
