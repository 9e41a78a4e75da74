/**
 * The two directions of a compression tunnel, as Duplex streams over an `Engine` (see codec.ts and
 * README.md for the wire format):
 *  - `FrameEncoder`: plaintext in → header, then frames of ≤ 64 KiB of plaintext each, each ending at
 *    a sync flush, then an end frame.
 *  - `FrameDecoder`: frames in → plaintext out, a frame's plaintext only once its CRC-32 matched.
 *
 * Flush policy: a frame is cut whenever the engine is free and input is waiting. An isolated write
 * (an interactive request) becomes one frame at once; while the engine is busy, writes accumulate and
 * the next frame takes all of them (up to 64 KiB): bulk transfers get big frames and a good ratio,
 * interactive ones no added latency. No timers.
 *
 * Memory is bounded: a write is held (back-pressure) while 64 KiB of input are waiting or the
 * readable side is over its high-water mark.
 */
import { Duplex } from 'node:stream';
import {
  ALGORITHMS,
  Engine,
  FRAME_DATA,
  FRAME_END,
  FRAME_HEADER_LEN,
  FRAME_PLAIN_MAX,
  FRAME_WIRE_MAX,
  HEADER_LEN,
  MAGIC,
  VERSION,
  algorithmById,
  crc32,
  frameHeader,
  hasZstd,
  streamHeader,
  type Algorithm,
} from './codec.js';

/** A FIFO of buffers. */
class ByteQueue {
  private parts: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.length += b.length;
  }

  /** the first n bytes (n ≤ length), without consuming them */
  peek(n: number): Buffer {
    const first = this.parts[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.parts, this.length).subarray(0, n);
  }

  take(n: number): Buffer {
    const first = this.parts[0];
    if (first && first.length >= n) {
      this.length -= n;
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const all = Buffer.concat(this.parts, this.length);
    this.parts = all.length > n ? [all.subarray(n)] : [];
    this.length -= n;
    return all.subarray(0, n);
  }
}

export class CorruptInput extends Error {}

interface Job {
  run: Promise<Buffer>;
  /** the last job: the readable side ends after it */
  last: boolean;
}

/** The pump both directions share: input queue, one engine job at a time, bounded buffering. */
abstract class Pump extends Duplex {
  protected readonly input = new ByteQueue();
  private heldWrite: (() => void) | undefined;
  private finalCb: ((e?: Error | null) => void) | undefined;
  private busy = false;
  private finished = false;
  /** _read was called and nothing pushed since: the readable side wants more, whatever its length says */
  private wanted = false;

  /** input held below this before a write is acknowledged: enough for any one job */
  protected abstract readonly inputLimit: number;
  /** the next job, or null when there is nothing to do yet; may throw (corrupt input) */
  protected abstract nextJob(ending: boolean): Job | null;
  /** a job failed or the input is bad */
  protected abstract failed(e: Error): void;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.finished) {
      if (chunk.length > 0) this.failed(new CorruptInput('bytes after the end of the stream'));
      return cb();
    }
    this.input.push(chunk);
    this.heldWrite = () => cb();
    this.pump();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.finalCb = cb;
    this.pump();
  }

  override _read(): void {
    this.wanted = true;
    this.pump();
  }

  private roomForOutput(): boolean {
    return this.wanted || this.readableLength < this.readableHighWaterMark;
  }

  private pump(): void {
    if (this.destroyed) return;
    if (this.heldWrite && (this.finished || (this.input.length < this.inputLimit && this.roomForOutput()))) {
      const cb = this.heldWrite;
      this.heldWrite = undefined;
      cb();
    }
    if (this.finished) {
      // the readable side has ended (a decoder saw its end frame): acknowledge the writable side
      const cb = this.finalCb;
      this.finalCb = undefined;
      cb?.();
      return;
    }
    if (this.busy || !this.roomForOutput()) return;
    let job: Job | null;
    try {
      job = this.nextJob(this.finalCb !== undefined);
    } catch (e) {
      this.failed(e as Error);
      return;
    }
    if (!job) return;
    const last = job.last;
    this.busy = true;
    job.run.then(
      (out) => {
        this.busy = false;
        if (this.destroyed) return;
        if (last && this.input.length > 0) return this.failed(new CorruptInput('bytes after the end of the stream'));
        if (out.length > 0) {
          this.wanted = false;
          this.push(out);
        }
        if (last) {
          this.finished = true;
          this.push(null);
        }
        this.pump();
      },
      (e: Error) => {
        this.busy = false;
        if (!this.destroyed) this.failed(e);
      },
    );
  }
}

/** plaintext → framed compressed stream */
export class FrameEncoder extends Pump {
  protected readonly inputLimit = FRAME_PLAIN_MAX;
  private started = false;
  private readonly engine: Engine;

  constructor(
    private readonly algorithm: Algorithm,
    level: number,
    private readonly onFrame?: (plain: number, wire: number) => void,
  ) {
    super();
    this.engine = Engine.compressor(algorithm, level);
  }

  protected nextJob(ending: boolean): Job | null {
    if (this.input.length > 0) {
      const plain = this.input.take(Math.min(this.input.length, FRAME_PLAIN_MAX));
      const crc = crc32(plain);
      return { run: this.engine.step(plain).then((z) => this.frame(FRAME_DATA, z, crc, plain.length)), last: false };
    }
    if (!ending) return null;
    // an empty stream stays empty; otherwise the end frame carries the compressor's trailer
    if (!this.started) return { run: Promise.resolve(Buffer.alloc(0)), last: true };
    return { run: this.engine.finish(Buffer.alloc(0)).then((z) => this.frame(FRAME_END, z, 0, 0)), last: true };
  }

  private frame(type: number, payload: Buffer, crc: number, plainLength: number): Buffer {
    const parts = [frameHeader(type, payload.length, crc), payload];
    if (!this.started) {
      this.started = true;
      parts.unshift(streamHeader(this.algorithm));
    }
    const out = Buffer.concat(parts);
    this.onFrame?.(plainLength, out.length);
    return out;
  }

  protected failed(e: Error): void {
    this.destroy(e); // the compressor itself failed: a function error
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.engine.destroy();
    cb(err);
  }
}

/** framed compressed stream → plaintext; anything wrong calls `onCorrupt` (the flow is reset). */
export class FrameDecoder extends Pump {
  protected readonly inputLimit = HEADER_LEN + FRAME_HEADER_LEN + FRAME_WIRE_MAX;
  private engine: Engine | undefined;
  private state: 'header' | 'frames' | 'done' = 'header';
  private seen = false;
  private headerBytes = false;

  constructor(
    private readonly onCorrupt: (e: Error) => void,
    private readonly onFrame?: (plain: number, wire: number) => void,
  ) {
    super();
  }

  protected nextJob(ending: boolean): Job | null {
    if (this.input.length > 0) this.seen = true;
    if (this.state === 'header' && this.input.length >= HEADER_LEN) this.readHeader();
    if (this.state === 'frames' && this.input.length >= FRAME_HEADER_LEN) {
      const h = this.input.peek(FRAME_HEADER_LEN);
      const type = h[0]!;
      const len = h.readUIntBE(1, 3);
      const crc = h.readUInt32BE(4);
      if (type !== FRAME_DATA && type !== FRAME_END) throw new CorruptInput(`unknown frame type ${type}`);
      if (len > FRAME_WIRE_MAX) throw new CorruptInput(`a frame of ${len} bytes (at most ${FRAME_WIRE_MAX})`);
      if (this.input.length >= FRAME_HEADER_LEN + len) {
        this.input.take(FRAME_HEADER_LEN);
        const payload = this.input.take(len);
        const engine = this.engine!;
        const end = type === FRAME_END;
        if (end) this.state = 'done';
        const run = end ? engine.finish(payload) : len === 0 ? Promise.resolve(Buffer.alloc(0)) : engine.step(payload);
        const wire = FRAME_HEADER_LEN + len + (this.headerBytes ? 0 : HEADER_LEN);
        this.headerBytes = true;
        return { run: run.then((plain) => this.check(plain, crc, wire)), last: end };
      }
    }
    if (this.state === 'done' && this.input.length > 0) throw new CorruptInput('bytes after the end frame');
    if (!ending) return null;
    if (!this.seen) return { run: Promise.resolve(Buffer.alloc(0)), last: true }; // an empty stream
    throw new CorruptInput('the stream ended before its end frame (truncated)');
  }

  private readHeader(): void {
    const h = this.input.take(HEADER_LEN);
    if (h[0] !== MAGIC[0] || h[1] !== MAGIC[1]) throw new CorruptInput('not a compress tunnel stream (bad magic)');
    if (h[2] !== VERSION) throw new CorruptInput(`unsupported version ${h[2]}`);
    const a = algorithmById(h[3]!);
    if (!a || (a === 'zstd' && !hasZstd())) throw new CorruptInput(`unsupported algorithm id ${h[3]} (this end has ${ALGORITHMS.filter((x) => x !== 'zstd' || hasZstd()).join(', ')})`);
    this.engine = Engine.decompressor(a, FRAME_PLAIN_MAX);
    this.state = 'frames';
  }

  private check(plain: Buffer, crc: number, wire: number): Buffer {
    if (crc32(plain) !== crc) throw new CorruptInput('a frame’s CRC-32 does not match its plaintext');
    this.onFrame?.(plain.length, wire);
    return plain;
  }

  protected failed(e: Error): void {
    this.engine?.destroy();
    this.onCorrupt(e);
    this.destroy();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.engine?.destroy();
    cb(err);
  }
}
