/**
 * One side of a flow in memory: a Duplex whose readable side gives the chunks it was made with (what
 * that peer sends) and whose writable side keeps what it is sent (what that peer receives). Half-open
 * like a TCP socket: it closes once both its directions ended. Used by srv6pipes/testing (runFlow)
 * and by the Flow unit tests, in place of sockets.
 */
import { Duplex } from 'node:stream';

export interface MemoryEndOptions {
  /** what this peer sends, in chunks; ends (FIN) after the last, unless `holdOpen` */
  chunks?: readonly Buffer[];
  /** pause between chunks (ms) */
  delayMs?: number;
  /** consume slowly: a 16 KiB buffer and 1 ms per write (back-pressure) */
  slow?: boolean;
  /** do not end after the chunks: the peer keeps its direction open until `finishSending()` */
  holdOpen?: boolean;
}

export class MemoryEnd extends Duplex {
  /** what this peer received, chunk by chunk */
  readonly received: Buffer[] = [];
  private readonly queue: Buffer[];
  private held: boolean;

  constructor(private readonly o: MemoryEndOptions = {}) {
    super({ allowHalfOpen: true, writableHighWaterMark: o.slow ? 16 * 1024 : 64 * 1024 });
    this.queue = [...(o.chunks ?? [])];
    this.held = !!o.holdOpen;
  }

  /** everything received so far */
  get output(): Buffer {
    return Buffer.concat(this.received);
  }

  /** A held-open peer sends more, or (with no data) ends its direction. */
  send(data?: Buffer): void {
    if (data) this.queue.push(data);
    else this.held = false;
    this.pump();
  }

  private waiting = false;

  private pump(): void {
    if (!this.waiting) return;
    if (this.queue.length > 0) {
      this.waiting = false;
      this.push(Buffer.from(this.queue.shift()!)); // a fresh copy: the relay owns what it reads
    } else if (!this.held) {
      this.waiting = false;
      this.push(null);
    }
  }

  override _read(): void {
    const next = (): void => {
      this.waiting = true;
      this.pump();
    };
    if ((this.o.delayMs ?? 0) > 0) setTimeout(next, this.o.delayMs);
    else next();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.received.push(Buffer.from(chunk));
    if (this.o.slow) setTimeout(cb, 1);
    else cb();
  }
}
