/**
 * The compression tunnel's building blocks, shared by `compress` and `decompress`: the options
 * schema, the level mapping, the framed wire format's constants, and `Engine`, a promise-based
 * wrapper around one Node zlib stream (work runs on libuv's thread pool, not on the event loop).
 */
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { z } from 'zod';

export const ALGORITHMS = ['gzip', 'deflate', 'brotli', 'zstd'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** algorithm ↔ the id byte of the stream header */
export const ALGORITHM_IDS: Readonly<Record<Algorithm, number>> = { gzip: 1, deflate: 2, brotli: 3, zstd: 4 };

export function algorithmById(id: number): Algorithm | undefined {
  return ALGORITHMS.find((a) => ALGORITHM_IDS[a] === id);
}

// zstd is in zlib since Node 22.15 / 23.8 (experimental); @types/node 20 does not declare it
type ZstdZlib = {
  createZstdCompress?: (o?: { params?: Record<number, number> }) => Transform;
  createZstdDecompress?: () => Transform;
};
const zstdZlib = zlib as unknown as ZstdZlib;
const zc = zlib.constants as unknown as Record<string, number | undefined>;

/** whether this runtime's zlib has zstd */
export function hasZstd(): boolean {
  return typeof zstdZlib.createZstdCompress === 'function' && typeof zstdZlib.createZstdDecompress === 'function';
}

export const compressOptions = z
  .object({
    algorithm: z
      .enum(ALGORITHMS)
      .refine((a) => a !== 'zstd' || hasZstd(), {
        message: `zstd is not available: this runtime (Node ${process.versions.node}) has no zlib.createZstdCompress (Node ≥ 22.15 has); use gzip, deflate or brotli`,
      })
      .default('gzip')
      .describe('what this end compresses with: gzip, deflate (zlib format), brotli, zstd (Node ≥ 22.15)'),
  })
  .strict();

export type CompressOptions = z.infer<typeof compressOptions>;

/** Levels per algorithm: the range the argument is clamped to, and what argument 0 means. */
export const LEVELS: Readonly<Record<Algorithm, { min: number; max: number; default: number }>> = {
  gzip: { min: 1, max: 9, default: 6 }, // zlib's own default (Z_DEFAULT_COMPRESSION)
  deflate: { min: 1, max: 9, default: 6 },
  brotli: { min: 1, max: 11, default: 5 }, // not brotli's library default, 11: far too slow for a relay
  zstd: { min: 1, max: 19, default: 3 }, // zstd's own default
};

/** The level for an argument: 0 → the default, above the maximum → the maximum (never an error). */
export function levelFor(algorithm: Algorithm, argument: bigint): { level: number; clamped: boolean } {
  const l = LEVELS[algorithm];
  if (argument <= 0n) return { level: l.default, clamped: false };
  if (argument > BigInt(l.max)) return { level: l.max, clamped: true };
  return { level: Math.max(l.min, Number(argument)), clamped: false };
}

/** Frames: at most this much plaintext each (the encoder cuts bigger batches). */
export const FRAME_PLAIN_MAX = 64 * 1024;
/** The decoder refuses frames with a longer payload (compressed data of 64 KiB grows by < 1 %). */
export const FRAME_WIRE_MAX = 2 * FRAME_PLAIN_MAX;
/** stream header: 'S' 'Z' version algorithm */
export const MAGIC = Buffer.from('SZ', 'latin1');
export const VERSION = 1;
export const HEADER_LEN = 4;
/** frame header: type (1) | payload length (3, BE) | CRC-32 of the frame's plaintext (4, BE) */
export const FRAME_HEADER_LEN = 8;
export const FRAME_DATA = 0x01;
export const FRAME_END = 0x02;

export function streamHeader(a: Algorithm): Buffer {
  return Buffer.from([MAGIC[0]!, MAGIC[1]!, VERSION, ALGORITHM_IDS[a]]);
}

export function frameHeader(type: number, payloadLength: number, crc: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_LEN);
  h[0] = type;
  h.writeUIntBE(payloadLength, 1, 3);
  h.writeUInt32BE(crc >>> 0, 4);
  return h;
}

let table: Uint32Array | undefined;
function crc32js(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC-32 (zlib's, native since Node 20.15; a table fallback before). */
export const crc32: (data: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (d) => zlib.crc32(d) >>> 0 : crc32js;

type ZStream = Transform & { flush(kind: number, cb: () => void): void };

function compressor(a: Algorithm, level: number): { z: ZStream; flushKind: number } {
  const c = zlib.constants;
  switch (a) {
    case 'gzip':
      return { z: zlib.createGzip({ level }) as ZStream, flushKind: c.Z_SYNC_FLUSH };
    case 'deflate':
      return { z: zlib.createDeflate({ level }) as ZStream, flushKind: c.Z_SYNC_FLUSH };
    case 'brotli':
      return { z: zlib.createBrotliCompress({ params: { [c.BROTLI_PARAM_QUALITY]: level } }) as ZStream, flushKind: c.BROTLI_OPERATION_FLUSH };
    case 'zstd': {
      const create = zstdZlib.createZstdCompress;
      if (!create || zc['ZSTD_c_compressionLevel'] === undefined) throw new Error('zstd is not available in this runtime');
      return { z: create({ params: { [zc['ZSTD_c_compressionLevel']]: level } }) as ZStream, flushKind: zc['ZSTD_e_flush'] ?? 1 };
    }
  }
}

function decompressor(a: Algorithm): ZStream {
  switch (a) {
    case 'gzip':
      return zlib.createGunzip() as ZStream;
    case 'deflate':
      return zlib.createInflate() as ZStream;
    case 'brotli':
      return zlib.createBrotliDecompress() as ZStream;
    case 'zstd': {
      const create = zstdZlib.createZstdDecompress;
      if (!create) throw new Error('zstd is not available in this runtime');
      return create() as ZStream;
    }
  }
}

/**
 * One zlib stream used a piece at a time: `step(input)` resolves with all the output of that input
 * (the encoder flushes first, so the output is complete and decodable on its own); `finish(input)`
 * ends the stream and resolves with the rest. At most one operation runs at a time. Output beyond
 * `maxOut` per operation fails it (a decompression bomb stops at a bounded size).
 */
export class Engine {
  private out: Buffer[] = [];
  private outLen = 0;
  private error: Error | undefined;
  /** the zlib stream's readable side ended: its compressed stream is complete */
  private ended = false;
  private waiter: { resolve(b: Buffer): void; reject(e: Error): void } | undefined;

  private constructor(
    private readonly z: ZStream,
    private readonly flushKind: number | undefined,
    private readonly maxOut: number,
  ) {
    z.on('readable', () => this.drain());
    z.on('error', (e: Error) => this.fail(e));
    z.on('end', () => {
      this.ended = true;
      this.settle();
    });
  }

  static compressor(a: Algorithm, level: number): Engine {
    const { z, flushKind } = compressor(a, level);
    return new Engine(z, flushKind, Number.MAX_SAFE_INTEGER);
  }

  static decompressor(a: Algorithm, maxOut: number): Engine {
    return new Engine(decompressor(a), undefined, maxOut);
  }

  step(input: Buffer): Promise<Buffer> {
    if (this.ended) return Promise.reject(new Error('data after the end of the compressed stream'));
    return this.start(() => {
      const done = (): void => this.settle();
      if (this.flushKind === undefined) this.z.write(input, done);
      else {
        if (input.length > 0) this.z.write(input);
        this.z.flush(this.flushKind, done);
      }
    });
  }

  finish(input: Buffer): Promise<Buffer> {
    // the stream must end here, in the end frame, not before
    if (this.ended) return Promise.reject(new Error('the compressed stream ended before its end frame'));
    // resolved by 'end', once everything has been read
    return this.start(() => this.z.end(input));
  }

  destroy(): void {
    this.waiter = undefined;
    this.z.destroy();
  }

  private start(go: () => void): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      if (this.error) return reject(this.error);
      if (this.waiter) return reject(new Error('Engine: one operation at a time'));
      this.waiter = { resolve, reject };
      go();
    });
  }

  private drain(): void {
    let b: Buffer | null;
    while (!this.error && (b = this.z.read() as Buffer | null) !== null) {
      this.out.push(b);
      this.outLen += b.length;
      if (this.outLen > this.maxOut) this.fail(new Error(`a frame decompresses to more than ${this.maxOut} bytes`));
    }
  }

  private settle(): void {
    this.drain();
    const w = this.waiter;
    if (this.error || !w) return;
    this.waiter = undefined;
    const out = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outLen);
    this.out = [];
    this.outLen = 0;
    w.resolve(out);
  }

  private fail(e: Error): void {
    if (this.error) return;
    this.error = e;
    this.z.destroy();
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(e);
  }
}
