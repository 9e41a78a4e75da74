/**
 * A userspace link emulator: two interfaces of one (middle) network namespace joined by AF_PACKET
 * sockets, every frame held for a constant delay in each direction (the kernel here has no netem).
 * It bridges raw Ethernet frames unchanged, so the two hosts see each other as on one wire.
 * The sockets use PACKET_VNET_HDR: each frame comes with a 10-byte virtio_net_hdr that carries the
 * kernel's checksum state (veth leaves TCP checksums to "offload": CHECKSUM_PARTIAL) and is handed
 * back on send, so a frame leaves exactly as a bridge would forward it. The header is queued with
 * its frame.
 *
 * One process, one thread: ppoll on both sockets with the time until the next release as timeout,
 * drain what arrived into the direction's FrameQueue (stamped now + delay), send what is due. Every
 * frame is accounted for: forwarded, or counted under a reason (queue full, larger than the MTU,
 * send error, kernel socket drop, still queued at stop). The syscalls are the native addon's; the
 * policy is here.
 */
import { native, type NativeAddon } from '../../native/addon.js';
import { FrameQueue, queueLimitsFor } from './queue.js';

export interface DirectionStats {
  /** frames and bytes read off the ingress interface */
  rxFrames: number;
  rxBytes: number;
  /** frames and bytes sent on the other interface */
  txFrames: number;
  txBytes: number;
  /** tail drops: the delay queue was full */
  queueDrops: number;
  /** frames longer than maxFrame (e.g. a GSO super-frame): dropped (bytes: Ethernet frames, no vnet header) */
  oversizeDrops: number;
  /** send() failed (e.g. ENOBUFS from the peer's backlog): the frame is lost */
  txErrors: number;
  /** the kernel dropped frames before we read them (socket receive buffer full, PACKET_STATISTICS) */
  kernelDrops: number;
  /** high-water marks of the queue */
  maxQueuedFrames: number;
  maxQueuedBytes: number;
  /** how late frames left relative to their release time (scheduling lag), µs */
  lagMaxUs: number;
  lagSumUs: number;
}

export interface EmulatorStats {
  delayUs: number;
  /** e.g. "SCHED_FIFO 10" or "SCHED_OTHER, nice -10" */
  scheduling: string;
  maxFrame: number;
  queueBytes: number;
  queueFrames: number;
  startedAt: string;
  updatedAt: string;
  running: boolean;
  /** 'a>b' and 'b>a' */
  directions: Record<string, DirectionStats>;
  /** frames still queued when the emulator stopped (not sent) */
  flushedAtStop: number;
}

export interface EmulatorOptions {
  /** interface names in this namespace */
  a: string;
  b: string;
  delayUs: number;
  /** link MTU (the frame limit is MTU + 18: Ethernet header and a VLAN tag; + the vnet header) */
  mtu: number;
  /** socket buffer sizes, bytes (default 8 MiB) */
  socketBuffer?: number;
  /** how the process is scheduled (reported in the stats) */
  scheduling?: string;
}

const IDLE_US = 100_000;
/** sizeof(struct virtio_net_hdr) */
export const VNET_HDR_LEN = 10;
const BATCH = 256;

function emptyStats(): DirectionStats {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, queueDrops: 0, oversizeDrops: 0, txErrors: 0, kernelDrops: 0, maxQueuedFrames: 0, maxQueuedBytes: 0, lagMaxUs: 0, lagSumUs: 0 };
}

interface Direction {
  name: string;
  rx: number;
  tx: number;
  queue: FrameQueue;
  stats: DirectionStats;
  /** the tx socket said EAGAIN: wait for POLLOUT */
  blocked: boolean;
}

/** Monotonic microseconds. */
export function nowUs(): number {
  return performance.now() * 1000;
}

export class LinkEmulator {
  private readonly n: NativeAddon;
  private readonly fds: number[] = [];
  private readonly dirs: Direction[] = [];
  private readonly scratch: Buffer;
  private readonly pollFds = new Int32Array(2);
  private readonly pollEvents = new Int32Array(2);
  private readonly pollRevents = new Int32Array(2);
  private readonly startedAt = new Date().toISOString();
  private readonly maxFrame: number;
  private stopped = false;
  private flushedAtStop = 0;

  constructor(private readonly o: EmulatorOptions) {
    this.n = native();
    const c = this.n.constants;
    this.maxFrame = VNET_HDR_LEN + o.mtu + 18;
    this.scratch = Buffer.allocUnsafe(this.maxFrame);
    try {
      for (const ifname of [o.a, o.b]) {
        const fd = this.n.socket(c.AF_PACKET, c.SOCK_RAW, 0);
        this.fds.push(fd);
        this.n.setsockoptInt(fd, c.SOL_PACKET, c.PACKET_IGNORE_OUTGOING, 1);
        this.n.setsockoptInt(fd, c.SOL_PACKET, c.PACKET_VNET_HDR, 1);
        const buf = o.socketBuffer ?? 8 << 20;
        this.n.setsockoptInt(fd, c.SOL_SOCKET, c.SO_RCVBUFFORCE, buf);
        this.n.setsockoptInt(fd, c.SOL_SOCKET, c.SO_SNDBUFFORCE, buf);
        this.n.bindPacket(fd, this.n.ifIndex(ifname), c.ETH_P_ALL);
      }
    } catch (e) {
      for (const fd of this.fds) this.n.close(fd);
      throw e;
    }
    const [fa, fb] = this.fds as [number, number];
    const limits = queueLimitsFor(o.delayUs, this.maxFrame);
    this.dirs.push({ name: 'a>b', rx: fa, tx: fb, queue: new FrameQueue(limits), stats: emptyStats(), blocked: false });
    this.dirs.push({ name: 'b>a', rx: fb, tx: fa, queue: new FrameQueue(limits), stats: emptyStats(), blocked: false });
    this.pollFds[0] = fa;
    this.pollFds[1] = fb;
    this.readKernelDrops(); // PACKET_STATISTICS counts from bind; reading resets it
    for (const d of this.dirs) d.stats.kernelDrops = 0;
  }

  /** One turn: send what is due, wait (ppoll) until a frame arrives or the next one is due, drain, send. */
  step(maxWaitUs = IDLE_US): void {
    if (this.stopped) return;
    const c = this.n.constants;
    let now = nowUs();
    for (const d of this.dirs) this.release(d, now);
    let wait = maxWaitUs;
    for (const d of this.dirs) if (!d.blocked) wait = Math.min(wait, Math.max(0, d.queue.headDue() - now));
    for (let i = 0; i < 2; i++) {
      const fd = this.pollFds[i]!;
      // the direction whose tx is this fd
      const blockedTx = this.dirs.some((d) => d.tx === fd && d.blocked);
      this.pollEvents[i] = c.POLLIN | (blockedTx ? c.POLLOUT : 0);
    }
    const ready = this.n.poll(this.pollFds, this.pollEvents, this.pollRevents, wait);
    now = nowUs();
    if (ready > 0) {
      for (let i = 0; i < 2; i++) {
        const rev = this.pollRevents[i]!;
        const fd = this.pollFds[i]!;
        if (rev & c.POLLOUT) for (const d of this.dirs) if (d.tx === fd) d.blocked = false;
        if (rev & (c.POLLIN | c.POLLERR)) for (const d of this.dirs) if (d.rx === fd) this.drain(d, now);
      }
    }
    now = nowUs();
    for (const d of this.dirs) this.release(d, now);
  }

  private drain(d: Direction, now: number): void {
    const c = this.n.constants;
    const due = now + this.o.delayUs;
    const s = d.stats;
    for (let k = 0; k < BATCH; k++) {
      const at = d.queue.reserve();
      const [buf, off] = at < 0 ? [this.scratch, 0] : [d.queue.slab, at];
      const len = this.n.recv(d.rx, buf, off, this.maxFrame, c.MSG_DONTWAIT | c.MSG_TRUNC);
      if (len === -c.EAGAIN || len === -c.EINTR) return;
      if (len < 0) {
        // e.g. ENETDOWN while an interface goes away: nothing was read; try later
        return;
      }
      if (len === 0) continue;
      s.rxFrames++;
      s.rxBytes += len - VNET_HDR_LEN;
      if (len > this.maxFrame) {
        s.oversizeDrops++;
        continue;
      }
      if (at < 0) {
        s.queueDrops++;
        continue;
      }
      d.queue.commit(len, due);
      if (d.queue.length > s.maxQueuedFrames) s.maxQueuedFrames = d.queue.length;
      if (d.queue.bytes > s.maxQueuedBytes) s.maxQueuedBytes = d.queue.bytes;
    }
  }

  private release(d: Direction, now: number): void {
    if (d.blocked) return;
    const c = this.n.constants;
    const q = d.queue;
    const s = d.stats;
    while (q.length > 0 && q.headDue() <= now) {
      const len = q.headLength();
      const r = this.n.send(d.tx, q.slab, q.headOffset(), len, c.MSG_DONTWAIT);
      if (r === -c.EAGAIN) {
        d.blocked = true;
        return;
      }
      if (r === -c.EINTR) continue;
      const lag = now - q.headDue();
      if (r < 0) s.txErrors++;
      else {
        s.txFrames++;
        s.txBytes += len - VNET_HDR_LEN;
        s.lagSumUs += lag;
        if (lag > s.lagMaxUs) s.lagMaxUs = lag;
      }
      q.shift();
    }
  }

  /** Adds the kernel's socket drops (PACKET_STATISTICS, reset on read) to each direction. */
  private readKernelDrops(): void {
    const c = this.n.constants;
    for (const d of this.dirs) {
      try {
        const st = this.n.getsockoptBuffer(d.rx, c.SOL_PACKET, c.PACKET_STATISTICS, 8);
        if (st.length >= 8) d.stats.kernelDrops += st.readUInt32LE(4);
      } catch {
        // the socket is closed: nothing more to count
      }
    }
  }

  stats(): EmulatorStats {
    if (!this.stopped) this.readKernelDrops();
    const limits = this.dirs[0]!.queue.limits;
    return {
      delayUs: this.o.delayUs,
      scheduling: this.o.scheduling ?? 'unknown',
      maxFrame: this.maxFrame,
      queueBytes: limits.bytes,
      queueFrames: limits.frames,
      startedAt: this.startedAt,
      updatedAt: new Date().toISOString(),
      running: !this.stopped,
      directions: Object.fromEntries(this.dirs.map((d) => [d.name, { ...d.stats }])),
      flushedAtStop: this.flushedAtStop,
    };
  }

  /** Closes both sockets; frames still queued are counted in flushedAtStop. Idempotent. */
  stop(): EmulatorStats {
    if (!this.stopped) {
      this.readKernelDrops();
      for (const d of this.dirs) this.flushedAtStop += d.queue.length;
      this.stopped = true;
      for (const fd of this.fds) {
        try {
          this.n.close(fd);
        } catch {
          // already closed
        }
      }
    }
    return this.stats();
  }
}
