/** JSON-lines logs of a child process (daemons log with pino), for tools and tests that drive daemons. */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Collects JSON lines from a child's stdout; `next(pred)` waits for the first matching one. */
export class JsonLines {
  readonly lines: Record<string, unknown>[] = [];
  readonly text: string[] = [];
  private waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.text.push(line);
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      this.lines.push(obj);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(obj)) return true;
        w.resolve(obj);
        return false;
      });
    });
  }

  next(pred: (l: Record<string, unknown>) => boolean, timeoutMs = 15000, what = 'a log line'): Promise<Record<string, unknown>> {
    const found = this.lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; output so far:\n${this.text.slice(-20).join('\n')}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  count(pred: (l: Record<string, unknown>) => boolean): number {
    return this.lines.filter(pred).length;
  }
}
