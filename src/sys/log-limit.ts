/**
 * Rate-limited logging of repeated events (a scan of a locator rejects one SYN after another): per key,
 * the first `burst` events of each `intervalMs` window are let through; the rest are counted, and when
 * the window ends one summary says how many were suppressed. Keys are expected to be few (error codes);
 * a key with nothing suppressed is forgotten when its window ends.
 */
export interface LogLimitOptions {
  /** events let through per key and window (at least 1) */
  burst: number;
  /** the window, ms */
  intervalMs: number;
  /** the clock (tests) */
  now?: () => number;
  /** arm a timer so that a summary comes even when no further event does (default true) */
  timer?: boolean;
}

interface Window {
  start: number;
  count: number;
  suppressed: number;
}

export class LogLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: LogLimitOptions,
    /** called once per key and window in which events were suppressed */
    private readonly onSuppressed: (key: string, suppressed: number, intervalMs: number) => void,
  ) {
    if (!(o.burst >= 1) || !(o.intervalMs > 0)) throw new RangeError(`log limit: burst ${o.burst} must be >= 1 and interval ${o.intervalMs} > 0`);
    this.now = o.now ?? Date.now;
  }

  /** True when this event of `key` may be logged; false when it is counted as suppressed. */
  allow(key: string): boolean {
    const now = this.now();
    let w = this.windows.get(key);
    if (w && now - w.start >= this.o.intervalMs) {
      this.close(key, w);
      w = undefined;
    }
    if (!w) {
      w = { start: now, count: 0, suppressed: 0 };
      this.windows.set(key, w);
    }
    if (++w.count <= this.o.burst) return true;
    w.suppressed++;
    if (this.o.timer !== false && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.o.intervalMs - (now - w.start));
      this.timer.unref();
    }
    return false;
  }

  /** Ends every window that is over: their summaries are emitted (or, with `all`, every window now). */
  flush(all = false): void {
    const now = this.now();
    let pending = Infinity;
    for (const [key, w] of this.windows) {
      if (all || now - w.start >= this.o.intervalMs) this.close(key, w);
      else if (w.suppressed > 0) pending = Math.min(pending, this.o.intervalMs - (now - w.start));
    }
    if (pending !== Infinity && this.o.timer !== false && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, pending);
      this.timer.unref();
    }
  }

  /** Emits what is pending and stops the timer. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush(true);
  }

  private close(key: string, w: Window): void {
    this.windows.delete(key);
    if (w.suppressed > 0) this.onSuppressed(key, w.suppressed, this.o.intervalMs);
  }
}
