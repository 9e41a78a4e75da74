/**
 * Streaming multi-signature search over one direction of a bytestream.
 *
 * Positions are absolute stream offsets. A position is *decided* once every signature has been
 * checked for a match starting there; that needs `maxLength` bytes after it, so the last
 * `hold = max(maxLength) - 1` bytes stay undecided until more data (or the end of the stream) comes.
 * In hold-back mode (block) bytes are released only once decided, so a match is always found before
 * its first byte is handed on; otherwise (alert) bytes are released at once and decided later.
 *
 * Work per chunk is O(chunk + hold + context): each push scans only the undecided region (plus, for
 * regexes, `context` bytes before it for look-behind, `\b` and `^`), never the whole history. The
 * bytes kept between chunks are a private copy, so callers may modify what they are handed.
 * Matches of one signature do not overlap (leftmost first, like `grep -o`); which matches are found
 * does not depend on how the stream is cut into chunks.
 */
import { foldAscii, type Signature } from './signatures.js';

export interface Match {
  readonly signature: Signature;
  /** absolute stream offset of the first byte */
  readonly offset: number;
  readonly length: number;
  /** some of its bytes had already been released when it was found (block with flushAfterMs) */
  readonly late: boolean;
}

export interface PushResult {
  /** bytes that may be sent on now */
  out: Buffer | null;
  /** matches decided by this push, by offset; in hold-back mode at most one, after which the scanner stops */
  matches: Match[];
}

const EMPTY = Buffer.alloc(0);

export class StreamScanner {
  /** stream bytes [tailStart, tailStart + tail.length): undecided ones plus look-behind context */
  private tail: Buffer = EMPTY;
  private tailStart = 0;
  /** match starts below this offset have been checked */
  private decided = 0;
  /** bytes below this offset have been handed on */
  private released = 0;
  /** per signature: matches may not start before this offset (no overlaps) */
  private readonly resumeAt: number[];
  private stoppedFlag = false;
  readonly hold: number;
  private readonly context: number;

  constructor(
    private readonly signatures: readonly Signature[],
    private readonly holdBack: boolean,
  ) {
    this.resumeAt = signatures.map(() => 0);
    this.hold = Math.max(1, ...signatures.map((s) => s.maxLength)) - 1;
    const regexes = signatures.filter((s) => s.re);
    this.context = regexes.length ? Math.max(...regexes.map((s) => s.maxLength)) : 0;
  }

  /** after a match in hold-back mode: nothing more is scanned or released */
  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** bytes received but not yet handed on */
  get heldBytes(): number {
    return this.tailStart + this.tail.length - this.released;
  }

  /** Feeds a chunk, or null at the end of the stream (everything is decided, the rest released). */
  push(chunk: Buffer | null): PushResult {
    if (this.stoppedFlag) return { out: null, matches: [] };
    const final = chunk === null;
    const buf = this.tail.length === 0 ? (chunk ?? EMPTY) : chunk && chunk.length ? Buffer.concat([this.tail, chunk]) : this.tail;
    const base = this.tailStart;
    const end = base + buf.length;
    const decideEnd = final ? end : Math.max(this.decided, end - this.hold);
    let matches: Match[] = [];
    if (decideEnd > this.decided && this.signatures.length > 0) {
      matches = this.scan(buf, base, this.decided, decideEnd);
      if (this.holdBack && matches.length > 0) {
        this.stoppedFlag = true;
        this.tail = EMPTY;
        return { out: null, matches: [matches[0]!] };
      }
    }
    this.decided = decideEnd;
    const releaseEnd = this.holdBack ? this.decided : end;
    let out: Buffer | null = null;
    if (releaseEnd > this.released) {
      out = buf.subarray(this.released - base, releaseEnd - base);
      this.released = releaseEnd;
    }
    // keep the undecided bytes and the look-behind context, as a private copy
    const keepFrom = Math.max(base, this.decided - this.context);
    if (final || keepFrom >= end) {
      this.tail = EMPTY;
      this.tailStart = end;
    } else {
      this.tail = Buffer.from(buf.subarray(keepFrom - base));
      this.tailStart = keepFrom;
    }
    return { out, matches };
  }

  /**
   * Hands on the held-back bytes without waiting for their decision (flushAfterMs). They are still
   * scanned: a match starting in them that completes later is reported, marked `late`.
   */
  releaseHeld(): Buffer | null {
    const end = this.tailStart + this.tail.length;
    if (this.stoppedFlag || end <= this.released) return null;
    const out = Buffer.from(this.tail.subarray(this.released - this.tailStart));
    this.released = end;
    return out;
  }

  /** Matches starting in [from, to) (absolute) in buf, which starts at offset `base`. */
  private scan(buf: Buffer, base: number, from: number, to: number): Match[] {
    const found: Match[] = [];
    let folded: Buffer | undefined; // ASCII-lower-cased copy of buf from `from` on
    let text: string | undefined; // buf as latin1 from textBase on
    let textBase = 0;
    const firstOnly = this.holdBack;
    for (let i = 0; i < this.signatures.length; i++) {
      const sig = this.signatures[i]!;
      const start = Math.max(from, this.resumeAt[i]!);
      if (start >= to) continue;
      let resume = this.resumeAt[i]!;
      if (sig.bytes) {
        let hay = buf;
        let hayBase = base;
        if (sig.fold) {
          folded ??= foldAscii(buf.subarray(from - base));
          hay = folded;
          hayBase = from;
        }
        const len = sig.bytes.length;
        let pos = hay.indexOf(sig.bytes, start - hayBase);
        while (pos >= 0 && pos + hayBase < to) {
          const offset = pos + hayBase;
          found.push({ signature: sig, offset, length: len, late: this.holdBack && offset < this.released });
          resume = offset + len;
          if (firstOnly) break;
          pos = hay.indexOf(sig.bytes, pos + len);
        }
      } else if (sig.re) {
        if (text === undefined) {
          textBase = Math.max(base, from - this.context);
          text = buf.toString('latin1', textBase - base);
        }
        const re = sig.re;
        re.lastIndex = start - textBase;
        let m = re.exec(text);
        while (m && m.index + textBase < to) {
          const offset = m.index + textBase;
          const length = m[0].length;
          found.push({ signature: sig, offset, length, late: this.holdBack && offset < this.released });
          resume = offset + Math.max(1, length);
          if (firstOnly) break;
          re.lastIndex = m.index + Math.max(1, length);
          m = re.exec(text);
        }
      }
      this.resumeAt[i] = resume;
    }
    if (found.length > 1) found.sort((a, b) => a.offset - b.offset || a.signature.index - b.signature.index);
    return found;
  }
}
