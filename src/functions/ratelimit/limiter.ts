/**
 * A token-bucket rate limiter as a Transform. It never buffers to smooth: a chunk's callback is held
 * until the bucket has paid for every byte of it, so the writable side stays full and the relay
 * pauses its source (back-pressure all the way to the sender's TCP window). Memory per direction is
 * bounded by the two small highWaterMarks plus the chunk in hand, whatever the input speed.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { TIMER_MAX_MS } from '../../config/duration.js';
import type { NativeCapable, NativeOp } from '../../sdk/types.js';

export const HIGH_WATER_MARK = 16 * 1024;

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    /** bytes per second, > 0 */
    readonly rate: number,
    /** bucket size in bytes, ≥ 1 */
    readonly capacity: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity; // starts full: the first `capacity` bytes go at once
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
  }

  /** Takes n bytes' worth if available (n ≤ capacity); returns 0, or the ms to wait before asking again. */
  take(n: number): number {
    this.refill();
    if (this.tokens >= n) {
      this.tokens -= n;
      return 0;
    }
    return Math.max(1, Math.ceil(((n - this.tokens) * 1000) / this.rate));
  }
}

export class RateLimiter extends Transform implements NativeCapable {
  /** the same bucket in the native relay thread (config nativeRelay): reads stop while it is empty */
  readonly native: readonly NativeOp[];
  private chunk: Buffer | undefined;
  private offset = 0;
  private cb: TransformCallback | undefined;
  private timer: NodeJS.Timeout | undefined;

  private readonly piece: number;

  constructor(private readonly bucket: TokenBucket) {
    super({ writableHighWaterMark: HIGH_WATER_MARK, readableHighWaterMark: HIGH_WATER_MARK });
    this.piece = Math.max(1, Math.ceil(bucket.capacity / 2));
    this.native = [{ op: 'ratelimit', rate: bucket.rate, burst: bucket.capacity }];
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.chunk = chunk;
    this.offset = 0;
    this.cb = cb;
    this.pump();
  }

  /**
   * Sends what the bucket pays for, in pieces of at most half the bucket (so a timer that fires late
   * finds the bucket not yet full, and the lateness is not lost); then releases the callback.
   */
  private readonly pump = (): void => {
    this.timer = undefined;
    const chunk = this.chunk;
    if (!chunk || this.destroyed) return;
    while (this.offset < chunk.length) {
      const n = Math.min(chunk.length - this.offset, this.piece);
      const wait = this.bucket.take(n);
      if (wait > 0) {
        // a slow rate with a big bucket can ask for longer than a timer holds (2^31−1 ms): wake up then and ask again
        this.timer = setTimeout(this.pump, Math.min(wait, TIMER_MAX_MS));
        return;
      }
      this.push(chunk.subarray(this.offset, this.offset + n));
      this.offset += n;
    }
    const cb = this.cb!;
    this.chunk = undefined;
    this.cb = undefined;
    cb();
  };

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    clearTimeout(this.timer);
    this.chunk = undefined;
    this.cb = undefined;
    cb(err);
  }
}
