/**
 * The native relay (native/relay.c): one addon-owned thread that moves the bytes of socket pairs
 * (splice() through a bounded pipe per direction, or recv()/send() through a bounded buffer), with
 * no JavaScript per byte. JavaScript hands it a pair and hears back, in batches: bytes moved per
 * direction, an EOF per direction (already forwarded as shutdown(SHUT_WR) on the other side: half-close),
 * a reset (the other side was reset: SO_LINGER 0 + close), and the end of the pair. Counters and
 * the idle time are readable at any time; a pair can be aborted (both sides reset). Each direction may
 * carry ops (`RelayOp`: xor, a rate limit) that the thread runs on its bytes (native/relay-ops.c).
 *
 * Handover (`adopt`): the addon dups both descriptors, then the net.Sockets are destroyed — closing
 * only Node's descriptors (the kernel socket lives on in the dup), which also stops libuv's watcher
 * for good. From then on the relay alone reads, writes and closes the sockets: nothing of them is
 * left in JavaScript, and a close is a reset unless both directions ended (as SOCKET_OPS do).
 */
import type net from 'node:net';
import { constants as osConstants } from 'node:os';
import { z } from 'zod';
import { SrError } from '../core/errors.js';
import { native } from './addon.js';

export type RelayMode = 'splice' | 'copy' | 'auto';
const MODES: Record<RelayMode, number> = { splice: 0, copy: 1, auto: 2 };

/** The relay's limits: a config section (nativeRelay) of the proxy when it uses one. */
export const relayOptionsSchema = z
  .object({
    /**
     * splice: socket -> pipe -> socket in the kernel; copy: recv/send through a buffer in the thread;
     * auto: recv/send while reads are small (fewer syscalls per message), splice from a 32 KB read on
     */
    mode: z.enum(['splice', 'copy', 'auto']).default('auto'),
    /** bytes in flight per direction (the pipe's size, or the buffer's): the back-pressure bound */
    capacity: z.number().int().min(4096).max(1 << 20).default(256 * 1024),
    /** byte counters reach JavaScript at most this often (ms); EOFs, resets and ends come at once */
    reportMs: z.number().int().min(1).max(60_000).default(100),
    /**
     * the onward connect of a flow the relay carries is made for the relay thread too: a bare
     * descriptor, its connect completed by the thread (no onward net.Socket); false: Node connects it
     * and the flow is handed over once connected
     */
    connect: z.boolean().default(true),
    /**
     * the relay thread accepts the intercept listener's connections itself (accept4, the SYN's SRH and
     * both addresses read natively) and JavaScript answers each with one call (the onward socket made
     * and connected, the pair added) or a reset: no net.Socket for a flow the relay carries. A flow
     * whose functions need JavaScript gets a net.Socket made on its descriptor. Needs `connect`.
     */
    accept: z.boolean().default(true),
    /**
     * where the native accept runs: `loop`, the JavaScript thread's event loop (a libuv poll handle:
     * the records reach the decision in the same turn); `thread`, the relay thread (one thread hop
     * between the accept and the decision, none of the accept's syscalls on the JavaScript thread)
     */
    acceptOn: z.enum(['loop', 'thread']).default('loop'),
    /**
     * with `acceptOn: loop`: the onward connect starts in the accept, before JavaScript decides, for a
     * SYN whose routing header (the exact bytes) an earlier decision answered with a native flow — the
     * handshake to the next hop overlaps the decision. JavaScript still decides each connection: it
     * adopts that socket, or resets it (the next hop then sees a SYN and a reset; a refusal pauses
     * early connects for `earlyPauseMs`). At most 256 headers are remembered per listener.
     */
    connectEarly: z.boolean().default(true),
    /** after a connection with an early onward connect is refused: no early connects for this long (ms) */
    earlyPauseMs: z.number().int().min(0).max(3_600_000).default(1000),
  })
  .strict();
export type RelayOptions = z.infer<typeof relayOptionsSchema>;

/** How a pair ended: both directions done, a side reset or failed, aborted, the relay closed. */
export type PairEnd = 'ok' | 'reset' | 'aborted' | 'closed';
const ENDS: readonly PairEnd[] = ['ok', 'reset', 'aborted', 'closed'];
const EV = { bytes: 0, eof: 1, reset: 2, done: 3, timeWait: 4, connected: 5 } as const;
/** What a TIME_WAIT release gave (as src/sys/sockdiag.ts names it), by the relay's code. */
const TIME_WAIT_RESULTS: readonly TimeWaitResult[] = ['destroyed', 'absent', 'unsupported', 'failed'];
export type TimeWaitResult = 'destroyed' | 'absent' | 'unsupported' | 'failed';
const FIELDS = 6;

export interface PairBytes {
  /** bytes written to b that were read from a */
  aToB: number;
  bToA: number;
}

export interface PairStats extends PairBytes {
  /** ms since a byte last moved (either way) */
  idleMs: number;
  /** bytes taken from one side and not yet accepted by the other */
  queuedAToB: number;
  queuedBToA: number;
}

export interface PairEvents {
  /** counters moved (at most every reportMs) */
  onBytes?(b: PairBytes): void;
  /** a's FIN went on to b ('aToB'), or b's to a; the other direction goes on */
  onEof?(direction: 'aToB' | 'bToA', b: PairBytes): void;
  /** `side` failed (its peer reset it, or an error such as ETIMEDOUT); the other side was reset */
  onReset?(side: 'a' | 'b', code: string, b: PairBytes): void;
  /** once: both descriptors are closed */
  onDone(end: PairEnd, b: PairBytes): void;
  /** a pair added while b was connecting (`adoptConnecting`): b is connected, relaying starts (a failed connect is onReset('b', code)) */
  onConnected?(): void;
}

/**
 * What the relay thread does to a direction's bytes besides moving them (native/relay-ops.c), in
 * order: `xor` each byte read with `key`, `passes` times (the direction then goes through a buffer,
 * never splice); `ratelimit` reads at most what a token bucket of `burst` bytes, refilled at `rate`
 * bytes/s, holds — an empty bucket stops reading that side until it refills (back-pressure).
 */
export type RelayOp = { op: 'xor'; key: number; passes: number } | { op: 'ratelimit'; rate: number; burst: number };

/** The ops as the addon takes them: one row each, its code and its two numbers, checked here first. */
const RELAY_OPS = {
  xor: { code: 1, schema: z.object({ op: z.literal('xor'), key: z.number().int().min(0).max(255), passes: z.number().int().min(0).max(1024) }).strict(), fields: (o: { key: number; passes: number }) => [o.key, o.passes] },
  ratelimit: {
    code: 2,
    schema: z.object({ op: z.literal('ratelimit'), rate: z.number().positive().finite(), burst: z.number().min(1).finite() }).strict(),
    fields: (o: { rate: number; burst: number }) => [o.rate, o.burst],
  },
} as const;
const OP_FIELDS = 3;
const MAX_OPS = 64;

/** A direction's ops → the addon's records ([code, a, b] each); throws RELAY_OPS for an op it cannot run. */
export function encodeRelayOps(ops: readonly RelayOp[]): Float64Array {
  if (ops.length > MAX_OPS) throw new SrError('RELAY_OPS', `${ops.length} ops on one direction (at most ${MAX_OPS})`);
  const out = new Float64Array(ops.length * OP_FIELDS);
  ops.forEach((op, i) => {
    const row = RELAY_OPS[op.op as keyof typeof RELAY_OPS] as (typeof RELAY_OPS)[keyof typeof RELAY_OPS] | undefined;
    if (!row) throw new SrError('RELAY_OPS', `op ${i} (${JSON.stringify(op)}): unknown, one of ${Object.keys(RELAY_OPS).join(', ')}`);
    const parsed = row.schema.safeParse(op);
    if (!parsed.success) throw new SrError('RELAY_OPS', `op ${i} (${JSON.stringify(op)}): ${parsed.error.issues.map((e) => `${e.path.join('.')}: ${e.message}`).join('; ')}`);
    out.set([row.code, ...row.fields(op as never)], i * OP_FIELDS);
  });
  return out;
}

/** Per direction: a → b, b → a (absent: the bytes move unchanged, unlimited). */
export interface PairOps {
  aToB?: readonly RelayOp[];
  bToA?: readonly RelayOp[];
}

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

interface Handle {
  readonly __relay: unique symbol;
}
interface RelayNative {
  relayCreate(mode: number, capacity: number, reportMs: number, cb: (records: Float64Array, accepts?: Buffer) => void): Handle;
  relayAdd(h: Handle, fdA: number, fdB: number, abortive: boolean, releaseTimeWait: boolean, connecting: boolean, opsAToB?: Float64Array, opsBToA?: Float64Array): number;
  relayStats(h: Handle, id: number): Float64Array | null;
  relayAbort(h: Handle, id: number): boolean;
  relayClose(h: Handle): void;
  relayAcceptConnect(h: Handle, fdA: number, srh: Buffer | null, releaseTimeWait: boolean, opsAToB?: Float64Array, opsBToA?: Float64Array): number;
  relayListen(h: Handle, fd: number, savedSyn: boolean): void;
  relayUnlisten(h: Handle, fd: number): void;
  fdReset(fd: number): void;
  acceptLoopListen(fd: number, savedSyn: boolean, cb: (records: Buffer) => void): Handle;
  acceptLoopClose(h: Handle): void;
  acceptLoopEarly(h: Handle, on: boolean): void;
  acceptLoopEarlySet(h: Handle, srhIn: Buffer, srhOut: Buffer | null): [number, number];
  acceptLoopEarlyClear(h: Handle): void;
  relayAcceptAdopt(h: Handle, fdA: number, fdB: number, releaseTimeWait: boolean, opsAToB?: Float64Array, opsBToA?: Float64Array): number;
  acceptSrhInPacket(packet: Buffer): Buffer | number;
}

/** Why an accepted connection's SYN gave no routing header (native/accept.h SRH_*): none (-1), or a malformed saved SYN. */
const SRH_STATUS: Record<number, string> = {
  [-2]: 'saved SYN: not an IPv6 header',
  [-3]: 'saved SYN: an extension header is truncated',
  [-4]: 'saved SYN: an extension header runs past the packet',
  [-5]: 'saved SYN: too many extension headers',
  [-6]: "the SYN's packet options could not be read",
};
const ACC_CONN = 0;
const ACC_HEADER = 24;

/**
 * A connection the relay thread accepted (`listen`): its descriptor (the receiver's: answer it with
 * `acceptConnect`, `resetFd`, or a net.Socket made on it), the client's and the server's address and
 * port (the server: where the client connected, the original destination), and the SYN's routing
 * header — a Buffer, null (none), or a string saying why it is malformed (CMSG_MALFORMED).
 */
export type AcceptHandler = (fd: number, clientAddress: string, clientPort: number, serverAddress: string, serverPort: number, srh: Buffer | null | string, early: EarlyOnward | undefined) => void;

/**
 * An onward socket the accept started (config nativeRelay.connectEarly): its descriptor (the
 * receiver's: adopt it with `acceptAdopt` when the decision's onward SRH is `srh`, else reset it),
 * and the onward SRH it carries (null: none; undefined: not known any more — never adopt it).
 */
export interface EarlyOnward {
  readonly fd: number;
  readonly srh: Buffer | null | undefined;
  /** what the learner passed with the onward SRH (`earlyLearn`): the decision it came from */
  readonly memo?: unknown;
}

/** Whether an early onward socket carries the onward SRH a decision gave. */
export function sameOnward(early: EarlyOnward, srh: Buffer | null): boolean {
  if (early.srh === undefined) return false;
  if (early.srh === null || srh === null) return early.srh === srh;
  return early.srh.equals(srh);
}

export class RelayPair {
  constructor(
    readonly id: number,
    private readonly relay: NativeRelay,
    readonly events: PairEvents,
  ) {}

  /** null once the pair is done */
  stats(): PairStats | null {
    return this.relay.statsOf(this.id);
  }

  /** Resets both sides (SO_LINGER 0 + close); onDone('aborted') follows. False when already done. */
  abort(): boolean {
    return this.relay.abortPair(this.id);
  }
}

/** How a pair is taken over: its ops per direction, and the TIME_WAIT release. */
export interface AdoptOptions extends PairOps {
  /**
   * side a faces the client: after an active close (its FIN sent before the client's), the relay
   * destroys its TIME_WAIT socket (SOCK_DESTROY, tuple + cookie; see src/proxy/timewait.ts), from its
   * own thread as soon as it reads the client's FIN; the result goes to `onTimeWait`
   */
  releaseTimeWait?: boolean;
}

export class NativeRelay {
  readonly options: RelayOptions;
  /** each TIME_WAIT release's result (adopt's releaseTimeWait); errno for unsupported/failed */
  onTimeWait?: (result: TimeWaitResult, errno: number) => void;
  private readonly n: RelayNative;
  private readonly handle: Handle;
  private readonly pairs = new Map<number, RelayPair>();
  private closed = false;
  /** listening descriptors given to the thread (listen) */
  private readonly listeners = new Map<number, Handle | null>();
  /** per loop listener: the early table's onward SRHs by generation (at most its 256 entries) */
  private readonly earlyGens = new Map<number, Map<number, { srh: Buffer | null; memo: unknown }>>();
  private earlyPause: NodeJS.Timeout | undefined;
  /** each accepted connection of `listen` */
  onAccept?: AcceptHandler;
  /** an accept that failed (EMFILE, ENFILE, ...: its errno's name); that listener pauses a moment */
  onAcceptError?: (code: string) => void;

  constructor(options: Partial<RelayOptions> = {}) {
    this.options = relayOptionsSchema.parse(options);
    this.n = native() as unknown as RelayNative;
    const o = this.options;
    this.handle = this.n.relayCreate(MODES[o.mode], o.capacity, o.reportMs, (r, a) => {
      if (a) this.accepted(a);
      this.dispatch(r);
    });
  }

  /** pairs not yet done */
  get size(): number {
    return this.pairs.size;
  }

  /**
   * Takes two connected sockets over: the relay owns them from here; the net.Sockets are destroyed
   * (their 'close' fires; their descriptors close, the connections do not). Throws RELAY_HANDOVER
   * when a socket is not connected or JavaScript holds bytes of it (read and not consumed, or written
   * and not yet sent): the caller keeps its sockets then.
   */
  adopt(a: net.Socket, b: net.Socket, events: PairEvents, options: AdoptOptions = {}): RelayPair {
    const fa = handoverFd(a, 'a');
    const fb = handoverFd(b, 'b');
    const encoded = encodePairOps(options);
    a.pause();
    b.pause();
    const pair = this.addEncoded(fa, fb, events, true, { releaseTimeWait: options.releaseTimeWait === true, connecting: false }, encoded);
    a.destroy();
    b.destroy();
    return pair;
  }

  /**
   * Takes a connected socket and a descriptor whose non-blocking connect is under way (`connect6`):
   * the relay completes the connect (onConnected, or onReset('b', the connect's errno)) and then relays
   * the pair; an abort before that aborts the connect. `a` is destroyed as in `adopt`; `fdB` is the
   * relay's from here (closed here even when this throws). Throws RELAY_HANDOVER as `adopt` does:
   * the caller keeps `a` then.
   */
  adoptConnecting(a: net.Socket, fdB: number, events: PairEvents, options: AdoptOptions = {}): RelayPair {
    try {
      const fa = handoverFd(a, 'a');
      const encoded = encodePairOps(options);
      a.pause();
      const pair = this.addEncoded(fa, fdB, events, true, { releaseTimeWait: options.releaseTimeWait === true, connecting: true }, encoded);
      a.destroy();
      return pair;
    } finally {
      native().close(fdB); // the relay holds its own dup
    }
  }

  /** Relays two connected TCP descriptors (dup'ed: the caller closes its own). `abortive`: a close is a reset until both directions ended; `options.connecting`: fdB's connect is under way. */
  addFds(fdA: number, fdB: number, events: PairEvents, abortive = true, options: AdoptOptions & { connecting?: boolean } = {}): RelayPair {
    return this.addEncoded(fdA, fdB, events, abortive, { releaseTimeWait: options.releaseTimeWait === true, connecting: options.connecting === true }, encodePairOps(options));
  }

  private addEncoded(fdA: number, fdB: number, events: PairEvents, abortive: boolean, how: { releaseTimeWait: boolean; connecting: boolean }, ops: [Float64Array?, Float64Array?]): RelayPair {
    if (this.closed) throw new SrError('RELAY_HANDOVER', 'the native relay is closed');
    const id = ops[0] || ops[1] ? this.n.relayAdd(this.handle, fdA, fdB, abortive, how.releaseTimeWait, how.connecting, ops[0], ops[1]) : this.n.relayAdd(this.handle, fdA, fdB, abortive, how.releaseTimeWait, how.connecting);
    const pair = new RelayPair(id, this, events);
    this.pairs.set(id, pair);
    return pair;
  }

  /**
   * The thread accepts on the listening descriptor `fd` from now on (it is the relay's: `unlisten` or
   * `close` closes it): each connection goes to `onAccept`, each failed accept to `onAcceptError`.
   * `savedSyn`: the listener has TCP_SAVE_SYN; the SRH is read from the saved SYN first (saved-syn.ts).
   */
  listen(fd: number, savedSyn: boolean): void {
    if (this.closed) throw new SrError('RELAY_HANDOVER', 'the native relay is closed');
    if (this.options.acceptOn === 'loop') {
      const h = this.n.acceptLoopListen(fd, savedSyn, (a) => this.accepted(a, fd));
      this.listeners.set(fd, h);
      if (this.options.connectEarly && this.options.connect) {
        this.earlyGens.set(fd, new Map());
        this.n.acceptLoopEarly(h, this.earlyPause === undefined);
      }
      return;
    }
    this.n.relayListen(this.handle, fd, savedSyn);
    this.listeners.set(fd, null);
  }

  /** Stops accepting on `fd` and closes it (connections still in its queue are reset). */
  unlisten(fd: number): void {
    const loop = this.listeners.get(fd);
    if (loop === undefined || !this.listeners.delete(fd)) return;
    this.earlyGens.delete(fd);
    if (loop) this.n.acceptLoopClose(loop);
    else if (!this.closed) this.n.relayUnlisten(this.handle, fd);
  }

  /**
   * Answers an accepted connection (`onAccept`'s fd): the onward socket — transparent, `srh`, bound to
   * the client's address (any port), TCP_NODELAY — connects to the server the client asked for, and
   * the pair is relayed once it is up (onConnected; a failed connect: onReset('b', errno)). One native
   * call. On success `fd` is the relay's; throws (the errno's code: EADDRNOTAVAIL, ENETUNREACH...; or
   * RELAY_OPS) with `fd` still the caller's.
   */
  acceptConnect(fd: number, srh: Buffer | null, events: PairEvents, options: AdoptOptions = {}): RelayPair {
    return this.answer(events, options, (tw, a, b) => (a || b ? this.n.relayAcceptConnect(this.handle, fd, srh, tw, a, b) : this.n.relayAcceptConnect(this.handle, fd, srh, tw)));
  }

  /** An accepted connection answered by `call` (the ops encoded, TIME_WAIT release as asked): its pair. */
  private answer(events: PairEvents, options: AdoptOptions, call: (releaseTimeWait: boolean, a?: Float64Array, b?: Float64Array) => number): RelayPair {
    if (this.closed) throw new SrError('RELAY_HANDOVER', 'the native relay is closed');
    const [a, b] = encodePairOps(options);
    const id = call(options.releaseTimeWait === true, a, b);
    const pair = new RelayPair(id, this, events);
    this.pairs.set(id, pair);
    return pair;
  }

  /**
   * connectEarly: SYNs whose routing header is `synSrh` get their onward socket, with `onwardSrh`,
   * started by the accept from now on (every loop listener; a header already known is replaced).
   */
  earlyLearn(synSrh: Buffer, onwardSrh: Buffer | null, memo?: unknown): void {
    for (const [fd, gens] of this.earlyGens) {
      const h = this.listeners.get(fd);
      if (!h) continue;
      const [gen, replaced] = this.n.acceptLoopEarlySet(h, synSrh, onwardSrh);
      gens.delete(replaced);
      gens.set(gen, { srh: onwardSrh, memo });
    }
  }

  /** connectEarly: everything learnt is forgotten (the functions changed). */
  earlyForget(): void {
    for (const [fd, gens] of this.earlyGens) {
      const h = this.listeners.get(fd);
      if (h) this.n.acceptLoopEarlyClear(h);
      gens.clear();
    }
  }

  /** connectEarly: early connects are off for now (a refusal, `earlyRefused`) */
  get earlyPaused(): boolean {
    return this.earlyPause !== undefined;
  }

  /** connectEarly: a connection with an early onward socket was refused: none for `earlyPauseMs`. */
  earlyRefused(): void {
    if (this.earlyGens.size === 0 || this.options.earlyPauseMs === 0) return;
    if (this.earlyPause) this.earlyPause.refresh();
    else {
      this.setEarly(false);
      this.earlyPause = setTimeout(() => {
        this.earlyPause = undefined;
        this.setEarly(true);
      }, this.options.earlyPauseMs);
      this.earlyPause.unref();
    }
  }

  private setEarly(on: boolean): void {
    for (const fd of this.earlyGens.keys()) {
      const h = this.listeners.get(fd);
      if (h) this.n.acceptLoopEarly(h, on);
    }
  }

  /**
   * `acceptConnect` for an onward socket the accept started (`onAccept`'s early): the pair added. On
   * success both descriptors are the relay's; a throw leaves both the caller's.
   */
  acceptAdopt(fd: number, earlyFd: number, events: PairEvents, options: AdoptOptions = {}): RelayPair {
    return this.answer(events, options, (tw, a, b) => (a || b ? this.n.relayAcceptAdopt(this.handle, fd, earlyFd, tw, a, b) : this.n.relayAcceptAdopt(this.handle, fd, earlyFd, tw)));
  }

  private accepted(a: Buffer, listener?: number): void {
    for (let off = 0; off + ACC_HEADER <= a.length; ) {
      const cl = a[off + 1]!;
      const sl = a[off + 2]!;
      const fdOrErrno = a.readInt32LE(off + 4);
      const srhLen = a.readInt16LE(off + 12);
      const at = off + ACC_HEADER;
      if (a[off] !== ACC_CONN) {
        off = at + cl + sl;
        this.onAcceptError?.(errnoNames.get(fdOrErrno) ?? `errno ${fdOrErrno}`);
        continue;
      }
      const clientPort = a.readUInt16LE(off + 8);
      const serverPort = a.readUInt16LE(off + 10);
      const client = a.toString('latin1', at, at + cl);
      const server = a.toString('latin1', at + cl, at + cl + sl);
      const srhAt = at + cl + sl;
      const srh = srhLen > 0 ? a.subarray(srhAt, srhAt + srhLen) : srhLen === -1 ? null : (SRH_STATUS[srhLen] ?? `SRH status ${srhLen}`);
      const earlyFd = a.readInt32LE(off + 16);
      const known = earlyFd >= 0 && listener !== undefined ? this.earlyGens.get(listener)?.get(a.readUInt32LE(off + 20)) : undefined;
      const early = earlyFd >= 0 ? (known ? { fd: earlyFd, srh: known.srh, memo: known.memo } : { fd: earlyFd, srh: undefined }) : undefined;
      off = srhAt + (srhLen > 0 ? srhLen : 0);
      if (this.onAccept) this.onAccept(fdOrErrno, client, clientPort, server, serverPort, srh, early);
      else {
        resetFd(fdOrErrno);
        if (early) resetFd(early.fd);
      }
    }
  }

  statsOf(id: number): PairStats | null {
    const v = this.n.relayStats(this.handle, id);
    if (!v) return null;
    return { aToB: v[0]!, bToA: v[1]!, idleMs: v[2]!, queuedAToB: v[3]!, queuedBToA: v[4]! };
  }

  abortPair(id: number): boolean {
    return !this.closed && this.n.relayAbort(this.handle, id);
  }

  /** Stops the thread; every pair still relayed is reset and reported done ('closed'). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.listeners.values()) if (h) this.n.acceptLoopClose(h);
    this.listeners.clear();
    this.earlyGens.clear();
    clearTimeout(this.earlyPause);
    this.earlyPause = undefined;
    this.n.relayClose(this.handle);
  }

  private dispatch(r: Float64Array): void {
    for (let i = 0; i + FIELDS <= r.length; i += FIELDS) {
      const id = r[i]!;
      const kind = r[i + 1]!;
      // a release may come after its pair is done (a retry)
      if (kind === EV.timeWait) {
        this.onTimeWait?.(TIME_WAIT_RESULTS[r[i + 2]!] ?? 'failed', r[i + 3]!);
        continue;
      }
      const pair = this.pairs.get(id);
      if (!pair) continue;
      const arg = r[i + 2]!;
      const bytes: PairBytes = { aToB: r[i + 4]!, bToA: r[i + 5]! };
      const e = pair.events;
      if (kind === EV.bytes) e.onBytes?.(bytes);
      else if (kind === EV.connected) e.onConnected?.();
      else if (kind === EV.eof) e.onEof?.(arg === 0 ? 'aToB' : 'bToA', bytes);
      else if (kind === EV.reset) e.onReset?.(arg === 0 ? 'a' : 'b', errnoNames.get(r[i + 3]!) ?? `errno ${r[i + 3]}`, bytes);
      else if (kind === EV.done) {
        this.pairs.delete(id);
        e.onDone(ENDS[arg] ?? 'closed', bytes);
      }
    }
  }
}

/**
 * The native accept's saved-SYN walk (native/accept.c) on a packet: the routing header, null when
 * there is none, or why the packet is malformed (the message CMSG_MALFORMED carries). What
 * saved-syn.ts `routingHeaderIn` does in TypeScript; the relay thread runs this one.
 */
export function acceptSrhInPacket(packet: Buffer): Buffer | null | string {
  const r = (native() as unknown as RelayNative).acceptSrhInPacket(packet);
  if (typeof r !== 'number') return r;
  return r === -1 ? null : (SRH_STATUS[r] ?? `SRH status ${r}`);
}

/** SO_LINGER 0, then close: a RST for an accepted descriptor refused (one native call). */
export function resetFd(fd: number): void {
  (native() as unknown as RelayNative).fdReset(fd);
}

function encodePairOps(ops: PairOps): [Float64Array?, Float64Array?] {
  return [ops.aToB?.length ? encodeRelayOps(ops.aToB) : undefined, ops.bToA?.length ? encodeRelayOps(ops.bToA) : undefined];
}

/** Whether `adopt` would take this socket (connected, nothing buffered in JavaScript, not half-closed). */
export function canAdopt(s: net.Socket): boolean {
  try {
    handoverFd(s, 'socket');
    return true;
  } catch {
    return false;
  }
}

/** The socket's descriptor, when it can be handed over without losing a byte. */
function handoverFd(s: net.Socket, name: string): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (s.destroyed || s.connecting || fd === undefined || fd < 0) throw new SrError('RELAY_HANDOVER', `socket ${name} is not connected`);
  if (s.readableLength > 0 || s.writableLength > 0)
    throw new SrError('RELAY_HANDOVER', `socket ${name} has bytes buffered in JavaScript (${s.readableLength} read, ${s.writableLength} to write)`);
  if (s.readableEnded || s.writableEnded) throw new SrError('RELAY_HANDOVER', `socket ${name} is half-closed already`);
  return fd;
}
