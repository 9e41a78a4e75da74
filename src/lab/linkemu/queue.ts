/**
 * The link emulator's delay line: a bounded FIFO of frames in one preallocated byte ring (no
 * allocation per frame). The delay is constant, so frames leave in arrival order and a FIFO is enough:
 * each frame carries its release time. Pure (no I/O), so it is unit-tested.
 *
 * Receiving goes in two steps: `reserve()` gives an offset with `maxFrame` contiguous free bytes (the
 * caller receives straight into `slab` there), then `commit(length, due)` makes the frame part of the
 * queue. When `reserve()` returns -1 the queue is full (bytes or frames): the caller must still read
 * the frame off the socket and count it as a drop (tail drop, like a FIFO qdisc) — never lose it silently.
 */

export interface QueueLimits {
  /** size of the byte ring */
  bytes: number;
  /** at most this many frames queued */
  frames: number;
  /** the largest frame accepted (MTU + link header); reserve() guarantees this much contiguous room */
  maxFrame: number;
}

export class FrameQueue {
  readonly slab: Buffer;
  readonly limits: QueueLimits;
  private readonly offs: Int32Array;
  private readonly lens: Int32Array;
  private readonly dues: Float64Array;
  /** index of the oldest frame in the metadata ring */
  private head = 0;
  private n = 0;
  /** byte offset just after the newest frame */
  private tailEnd = 0;
  private queuedBytes = 0;
  private pending = -1;

  constructor(limits: QueueLimits) {
    if (!Number.isInteger(limits.maxFrame) || limits.maxFrame < 64) throw new RangeError('maxFrame must be an integer ≥ 64');
    if (!Number.isInteger(limits.bytes) || limits.bytes < 2 * limits.maxFrame) throw new RangeError('bytes must be at least 2 × maxFrame');
    if (!Number.isInteger(limits.frames) || limits.frames < 1) throw new RangeError('frames must be a positive integer');
    this.limits = { ...limits };
    this.slab = Buffer.allocUnsafe(limits.bytes);
    this.offs = new Int32Array(limits.frames);
    this.lens = new Int32Array(limits.frames);
    this.dues = new Float64Array(limits.frames);
  }

  get length(): number {
    return this.n;
  }

  /** sum of the queued frames' lengths */
  get bytes(): number {
    return this.queuedBytes;
  }

  /** Offset in `slab` where the next frame (up to maxFrame bytes) may be written, or -1 when full. */
  reserve(): number {
    const { maxFrame, frames } = this.limits;
    const size = this.slab.length;
    let at: number;
    if (this.n === 0) at = 0;
    else if (this.n >= frames) at = -1;
    else {
      const headOff = this.offs[this.head]!;
      if (this.tailEnd > headOff) {
        // not wrapped: frames occupy [headOff, tailEnd)
        if (size - this.tailEnd >= maxFrame) at = this.tailEnd;
        else if (headOff >= maxFrame) at = 0;
        else at = -1;
      } else {
        // wrapped: frames occupy [headOff, …) and [0, tailEnd)
        at = headOff - this.tailEnd >= maxFrame ? this.tailEnd : -1;
      }
    }
    this.pending = at;
    return at;
  }

  /** Appends the frame written at the last reserve()d offset; it may leave at `due`. */
  commit(length: number, due: number): void {
    if (this.pending < 0) throw new Error('commit() without a successful reserve()');
    if (!Number.isInteger(length) || length < 1 || length > this.limits.maxFrame) throw new RangeError(`frame length ${length} outside 1..${this.limits.maxFrame}`);
    if (this.n > 0 && due < this.dues[(this.head + this.n - 1) % this.limits.frames]!) throw new RangeError('release times must not decrease (constant delay)');
    const i = (this.head + this.n) % this.limits.frames;
    this.offs[i] = this.pending;
    this.lens[i] = length;
    this.dues[i] = due;
    this.tailEnd = this.pending + length;
    this.n++;
    this.queuedBytes += length;
    this.pending = -1;
  }

  /** The oldest frame's release time, or Infinity when empty. */
  headDue(): number {
    return this.n === 0 ? Infinity : this.dues[this.head]!;
  }

  headOffset(): number {
    return this.n === 0 ? -1 : this.offs[this.head]!;
  }

  headLength(): number {
    return this.n === 0 ? 0 : this.lens[this.head]!;
  }

  /** Removes the oldest frame (sent, or dropped by the caller). */
  shift(): void {
    if (this.n === 0) throw new Error('shift() on an empty queue');
    this.queuedBytes -= this.lens[this.head]!;
    this.head = (this.head + 1) % this.limits.frames;
    this.n--;
    if (this.n === 0) {
      this.head = 0;
      this.tailEnd = 0;
    }
  }
}

/** Queue limits for a delay: room for `delay × rate` bytes twice over (bursts), 4–64 MiB, frames of
 *  at least 64 bytes. At the 64 MiB cap and 50 ms that is 10 Gb/s of full-size frames. */
export function queueLimitsFor(delayUs: number, maxFrame: number, rateBitsPerS = 2e9): QueueLimits {
  const want = Math.ceil(((rateBitsPerS / 8) * delayUs) / 1e6) * 2;
  const bytes = Math.min(64 << 20, Math.max(4 << 20, want, 4 * maxFrame));
  return { bytes, frames: Math.floor(bytes / 64), maxFrame };
}
