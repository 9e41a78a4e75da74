/**
 * Shared pieces of `srv6pipes scale` (src/bench/scale/): the result rows every part writes, a lab
 * with a unique name that is always taken down, and the timing helpers.
 */
import { loadTopology, Lab, namespaceName } from '../../lab/index.js';

/** One measured row: a part (installs, dns, memory, repoint), the configuration and what was measured. */
export interface ScaleRow {
  part: string;
  /** the contender/configuration: 'memory store', 'etcd ×2', 'batched', … */
  config: string;
  /** the size or phase the value belongs to: '10k installed', 'cold', … */
  at: string;
  metric: string;
  unit: string;
  /** one value per repetition */
  values: number[];
}

export interface ScaleContext {
  quick: boolean;
  reps: number;
  /** progress line */
  say(line: string): void;
  /** free-form notes for the report */
  note(line: string): void;
  /** adds one repetition's value to its row */
  record(r: Omit<ScaleRow, 'values'>, value: number): void;
}

let labCounter = 0;

/** The built-in `name` lab under a unique name; always taken down. `ns(host)` names a host's namespace. */
export async function withScaleLab<T>(topology: string, fn: (lab: Lab, ns: (host: string) => string) => Promise<T>): Promise<T> {
  const name = `sc${process.pid.toString(36)}x${(labCounter++).toString(36)}`.slice(0, 16);
  const lab = await Lab.up(loadTopology(topology), { name });
  try {
    return await fn(lab, (host) => namespaceName(name, host));
  } finally {
    await lab.down();
  }
}

/** ms since an arbitrary origin, sub-millisecond */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Runs `n` tasks with at most `concurrency` at once; resolves with each task's latency (ms). */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<number[]> {
  const lat: number[] = new Array<number>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const t = nowMs();
      await task(i);
      lat[i] = nowMs() - t;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return lat;
}

/** The i-th address of a /64 as text: base '…::' + i in the low 32 bits. */
export function nthAddress(base64: string, i: number): string {
  return `${base64}${((i >>> 16) & 0xffff).toString(16)}:${(i & 0xffff).toString(16)}`;
}

/** Reads one /proc/meminfo field (kB). */
export async function meminfoKb(field: string): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(await readFile('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) : NaN;
}
