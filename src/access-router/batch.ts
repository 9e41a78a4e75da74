/**
 * The local agent's queue of changes, apart from I/O: queued installs and removes, split into runs
 * that can go to the kernel together, and the `ip -batch` script and its failures by line.
 */
import type { BsidPolicy } from './api.js';

/** A change waiting for its turn; `done` settles once it is made (or refused). */
export interface QueuedOp {
  kind: 'install' | 'remove';
  bsid: string;
  done: Promise<void>;
  settled: boolean;
  resolve(): void;
  reject(e: Error): void;
}

export interface InstallOp extends QueuedOp {
  kind: 'install';
  policy: BsidPolicy;
}

/** A change to queue, with its settlement (its rejection is handled here too: the caller may see it later). */
export function queued<T extends { kind: QueuedOp['kind']; bsid: string }>(fields: T): T & QueuedOp {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => undefined);
  const op: T & QueuedOp = {
    ...fields,
    done,
    settled: false,
    resolve: () => {
      op.settled = true;
      resolve();
    },
    reject: (e: Error) => {
      op.settled = true;
      reject(e);
    },
  };
  return op;
}

export const succeed = (op: QueuedOp): void => op.resolve();
export const fail = (op: QueuedOp, e: Error): void => op.reject(e);

/**
 * Splits queued changes, in order, into runs of one kind in which no BSID repeats: each run is
 * made at once (one ip batch, one nft transaction), and runs one after the other keep the order of
 * changes to one BSID.
 */
export function runsOf(ops: readonly QueuedOp[]): QueuedOp[][] {
  const runs: QueuedOp[][] = [];
  let cur: QueuedOp[] = [];
  let seen = new Set<string>();
  for (const op of ops) {
    if (cur.length > 0 && (cur[0]!.kind !== op.kind || seen.has(op.bsid))) {
      runs.push(cur);
      cur = [];
      seen = new Set();
    }
    cur.push(op);
    seen.add(op.bsid);
  }
  if (cur.length > 0) runs.push(cur);
  return runs;
}

/**
 * `ip -6 …` argvs as a script for `ip -6 -force -batch -`: one line each, without `ip` and its
 * options (a batch line takes none: they are given once, on the batch's own command line).
 */
export function ipBatchScript(lines: readonly string[][]): string {
  return lines
    .map((argv) => {
      let i = 1;
      while (argv[i]?.startsWith('-')) i++;
      return `${argv.slice(i).join(' ')}\n`;
    })
    .join('');
}

/**
 * `ip -force -batch -`'s stderr → the failed lines (1-based) and their messages: each failure is
 * the error text followed by `Command failed -:LINE`.
 */
export function ipBatchFailures(stderr: string): Map<number, string> {
  const out = new Map<number, string>();
  let message: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)\s*$/.exec(line);
    if (m) {
      out.set(Number(m[1]), message.join(' ').trim() || 'failed');
      message = [];
    } else if (line.trim()) message.push(line.trim());
  }
  return out;
}
