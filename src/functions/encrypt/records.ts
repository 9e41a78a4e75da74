/**
 * The record format of the encryption tunnel (README.md has the full description). Per direction:
 *
 *   header  'S' 'E' | version 1 | cipher id | key id (u64 BE) | salt (32 random bytes)   = 44 bytes
 *   records type (1: 0 data, 1 final) | length (u16 BE, plaintext bytes) | ciphertext | tag (16)
 *
 * Keys: HKDF-SHA256(master key, salt, info = "srv6pipes-encrypt-v1 " + direction + header[0..12])
 * → 32-byte record key + 12-byte IV. Record n (from 0) has nonce IV XOR n (in the last 8 bytes) and
 * the record's first 3 bytes as additional data. Data records carry 1..16384 bytes; the final record
 * is empty and must be the last bytes of the direction. So bit flips, truncation, reordering, replay,
 * reflection (a direction's records sent back the other way) and a missing end all fail.
 *
 * Both sides are SyncTransforms: sealing and opening are synchronous, and a record's plaintext is
 * emitted only after its tag verified.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, type CipherGCMTypes } from 'node:crypto';

export const CIPHERS = ['aes-256-gcm', 'chacha20-poly1305'] as const;
export type Cipher = (typeof CIPHERS)[number];
const CIPHER_IDS: Readonly<Record<Cipher, number>> = { 'aes-256-gcm': 1, 'chacha20-poly1305': 2 };

export type Direction = 'upstream' | 'downstream';

export const MAGIC = Buffer.from('SE', 'latin1');
export const VERSION = 1;
export const SALT_LEN = 32;
export const HEADER_LEN = 4 + 8 + SALT_LEN;
export const RECORD_HEADER_LEN = 3;
export const TAG_LEN = 16;
export const RECORD_MAX = 16 * 1024;
export const TYPE_DATA = 0;
export const TYPE_FINAL = 1;
/** a direction is reset after this many records (AES-GCM's usage bound; 64 TiB at full records) */
export const MAX_RECORDS = 2 ** 32;

interface Keys {
  key: Buffer;
  iv: Buffer;
}

function derive(master: Buffer, salt: Buffer, direction: Direction, fixed: Buffer): Keys {
  const info = Buffer.concat([Buffer.from(`srv6pipes-encrypt-v1 ${direction} `, 'latin1'), fixed]);
  const okm = Buffer.from(hkdfSync('sha256', master, salt, info, 32 + 12));
  return { key: okm.subarray(0, 32), iv: okm.subarray(32) };
}

function nonce(iv: Buffer, n: number): Buffer {
  const out = Buffer.from(iv);
  out.writeUInt32BE((out.readUInt32BE(4) ^ Math.floor(n / 2 ** 32)) >>> 0, 4);
  out.writeUInt32BE((out.readUInt32BE(8) ^ n % 2 ** 32) >>> 0, 8);
  return out;
}

/** the fixed part of the header: magic, version, cipher, key id */
function fixedHeader(cipher: Cipher, keyId: bigint): Buffer {
  const h = Buffer.alloc(12);
  MAGIC.copy(h, 0);
  h[2] = VERSION;
  h[3] = CIPHER_IDS[cipher];
  h.writeBigUInt64BE(keyId, 4);
  return h;
}

const algo = (c: Cipher): CipherGCMTypes => c as CipherGCMTypes; // chacha20-poly1305 takes the same calls

/** plaintext → header + records */
export class Sealer {
  private keys: Keys | undefined;
  private header: Buffer | undefined;
  private count = 0;

  constructor(
    private readonly cipher: Cipher,
    private readonly master: Buffer,
    private readonly keyId: bigint,
    private readonly direction: Direction,
  ) {}

  data(chunk: Buffer): Buffer | null {
    if (chunk.length === 0) return null;
    const n = Math.ceil(chunk.length / RECORD_MAX);
    const first = this.start();
    const out = Buffer.allocUnsafe(first.length + chunk.length + n * (RECORD_HEADER_LEN + TAG_LEN));
    let at = first.copy(out, 0);
    for (let i = 0; i < chunk.length; i += RECORD_MAX) at = this.seal(TYPE_DATA, chunk.subarray(i, i + RECORD_MAX), out, at);
    return out;
  }

  end(): Buffer | null {
    if (!this.header) return null; // nothing was sent: the direction stays empty
    const out = Buffer.allocUnsafe(RECORD_HEADER_LEN + TAG_LEN);
    this.seal(TYPE_FINAL, Buffer.alloc(0), out, 0);
    return out;
  }

  /** the header, the first time (empty after) */
  private start(): Buffer {
    if (this.header) return Buffer.alloc(0);
    const salt = randomBytes(SALT_LEN);
    const fixed = fixedHeader(this.cipher, this.keyId);
    this.keys = derive(this.master, salt, this.direction, fixed);
    this.header = Buffer.concat([fixed, salt]);
    return this.header;
  }

  private seal(type: number, plain: Buffer, out: Buffer, at: number): number {
    if (this.count >= MAX_RECORDS) throw new Error(`encrypt: ${MAX_RECORDS} records in one direction: the flow must end`);
    const { key, iv } = this.keys!;
    const head = out.subarray(at, at + RECORD_HEADER_LEN);
    head[0] = type;
    head.writeUInt16BE(plain.length, 1);
    const c = createCipheriv(algo(this.cipher), key, nonce(iv, this.count++), { authTagLength: TAG_LEN });
    c.setAAD(head);
    at += RECORD_HEADER_LEN;
    at += c.update(plain).copy(out, at);
    at += c.final().copy(out, at);
    return at + c.getAuthTag().copy(out, at);
  }

  /** overwrites the derived keys */
  wipe(): void {
    this.keys?.key.fill(0);
    this.keys?.iv.fill(0);
  }
}

export class OpenError extends Error {}

function checkMagic(h: Buffer): void {
  if (h[0] !== MAGIC[0] || h[1] !== MAGIC[1] || h[2] !== VERSION) throw new OpenError('not an encrypt tunnel stream (bad magic or version)');
}

/** header + records → plaintext, a record at a time, each only after its tag verified */
export class Opener {
  private keys: Keys | undefined;
  private cipher: Cipher | undefined;
  /** bytes not yet used (less than `need`), and how many there are */
  private rest: Buffer[] = [];
  private have = 0;
  /** how many bytes the next step needs: the header, a record header, a whole record */
  private need = HEADER_LEN;
  private count = 0;
  private seen = false;
  private done = false;

  constructor(
    private readonly master: Buffer,
    private readonly keyId: bigint,
    private readonly direction: Direction,
  ) {}

  /** plaintext of the complete records in `chunk` (and what was left over); throws OpenError */
  data(chunk: Buffer): Buffer | null {
    if (chunk.length === 0) return null;
    this.seen = true;
    if (this.done) throw new OpenError('bytes after the final record');
    this.rest.push(chunk);
    this.have += chunk.length;
    if (!this.keys && this.have >= 3) checkMagic(Buffer.concat(this.rest, this.have)); // plain bytes fail at once
    if (this.have < this.need) return null; // concatenated only once enough is there: linear in 1-byte segments too
    const buf = this.rest.length === 1 ? chunk : Buffer.concat(this.rest, this.have);
    let at = 0;
    if (!this.keys) {
      if (buf.length < HEADER_LEN) return this.keep(buf, 0);
      this.readHeader(buf.subarray(0, HEADER_LEN));
      at = HEADER_LEN;
    }
    const out: Buffer[] = [];
    while (buf.length - at >= RECORD_HEADER_LEN) {
      const type = buf[at]!;
      const len = buf.readUInt16BE(at + 1);
      if (type !== TYPE_DATA && type !== TYPE_FINAL) throw new OpenError(`record ${this.count}: unknown type ${type}`);
      if (len > RECORD_MAX || (type === TYPE_FINAL) !== (len === 0)) throw new OpenError(`record ${this.count}: bad length ${len}`);
      const size = RECORD_HEADER_LEN + len + TAG_LEN;
      if (buf.length - at < size) break;
      out.push(this.open(buf.subarray(at, at + size)));
      at += size;
      if (type === TYPE_FINAL) {
        this.done = true;
        if (at < buf.length) throw new OpenError('bytes after the final record');
      }
    }
    this.keep(buf, at);
    return out.length === 0 ? null : out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  end(): Buffer | null {
    if (!this.seen) return null; // an empty direction
    if (!this.done) throw new OpenError(`the stream ended without its final record (truncated after ${this.count} records)`);
    return null;
  }

  private keep(buf: Buffer, at: number): null {
    // a copy: never hold on to a whole input chunk for a few leftover bytes
    this.rest = at >= buf.length ? [] : [Buffer.from(buf.subarray(at))];
    this.have = buf.length - at;
    if (!this.keys) this.need = HEADER_LEN;
    else if (this.have < RECORD_HEADER_LEN) this.need = RECORD_HEADER_LEN;
    else this.need = RECORD_HEADER_LEN + buf.readUInt16BE(at + 1) + TAG_LEN;
    return null;
  }

  private readHeader(h: Buffer): void {
    checkMagic(h);
    const cipher = CIPHERS.find((c) => CIPHER_IDS[c] === h[3]);
    if (!cipher) throw new OpenError(`unknown cipher id ${h[3]}`);
    const keyId = h.readBigUInt64BE(4);
    if (keyId !== this.keyId) throw new OpenError(`the stream is sealed with key id ${keyId}, this end uses key id ${this.keyId}`);
    this.cipher = cipher;
    this.keys = derive(this.master, h.subarray(12, HEADER_LEN), this.direction, h.subarray(0, 12));
  }

  private open(record: Buffer): Buffer {
    const { key, iv } = this.keys!;
    const len = record.length - RECORD_HEADER_LEN - TAG_LEN;
    const d = createDecipheriv(algo(this.cipher!), key, nonce(iv, this.count), { authTagLength: TAG_LEN });
    d.setAAD(record.subarray(0, RECORD_HEADER_LEN));
    d.setAuthTag(record.subarray(RECORD_HEADER_LEN + len));
    const plain = d.update(record.subarray(RECORD_HEADER_LEN, RECORD_HEADER_LEN + len));
    try {
      d.final(); // throws unless the tag verifies
    } catch {
      plain.fill(0);
      throw new OpenError(`record ${this.count}: authentication failed (wrong key, or the data was altered, reordered or replayed)`);
    }
    this.count++;
    return plain;
  }

  wipe(): void {
    this.keys?.key.fill(0);
    this.keys?.iv.fill(0);
  }
}
