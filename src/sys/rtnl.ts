/**
 * The host's own IPv6 addresses over rtnetlink (NETLINK_ROUTE), kept current: a dump
 * (RTM_GETADDR) at start and again after every address notification (RTNLGRP_IPV6_IFADDR), read on
 * the event loop (native watchReadable), never blocking it. The encoder and parser are pure.
 * Netlink is in host byte order (little endian on every platform this project runs on).
 */
import type { Logger } from 'pino';
import { native } from '../native/addon.js';

export const NETLINK_ROUTE = 0;
export const SOL_NETLINK = 270;
export const NETLINK_ADD_MEMBERSHIP = 1;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
const NLM_F_REQUEST = 1;
const NLM_F_DUMP = 0x300;
const AF_INET6 = 10;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;

/** An RTM_GETADDR dump request for the IPv6 addresses (nlmsghdr + ifaddrmsg). */
export function addressDumpRequest(seq: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(24, 0);
  b.writeUInt16LE(RTM_GETADDR, 4);
  b.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  b[16] = AF_INET6;
  return b;
}

export type AddrMessage =
  | { type: 'address'; kind: 'new' | 'del'; seq: number; address: Buffer; ifindex: number }
  | { type: 'done'; seq: number }
  | { type: 'error'; seq: number; errno: number };

/** The messages of one datagram that matter here; malformed ones end the parse, others are skipped. */
export function parseAddrMessages(buf: Buffer): AddrMessage[] {
  const out: AddrMessage[] = [];
  for (let off = 0; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 4);
    const seq = buf.readUInt32LE(off + 8);
    if (type === NLMSG_DONE) out.push({ type: 'done', seq });
    else if (type === NLMSG_ERROR && len >= 20) out.push({ type: 'error', seq, errno: -buf.readInt32LE(off + 16) });
    else if ((type === RTM_NEWADDR || type === RTM_DELADDR) && len >= 24 && buf[off + 16] === AF_INET6) {
      const ifindex = buf.readUInt32LE(off + 20);
      let address: Buffer | undefined;
      let local: Buffer | undefined;
      for (let a = off + 24; a + 4 <= off + len; ) {
        const alen = buf.readUInt16LE(a);
        if (alen < 4 || a + alen > off + len) break;
        const atype = buf.readUInt16LE(a + 2) & 0x3fff;
        if (alen === 20 && atype === IFA_ADDRESS) address = buf.subarray(a + 4, a + 20);
        if (alen === 20 && atype === IFA_LOCAL) local = buf.subarray(a + 4, a + 20);
        a += (alen + 3) & ~3;
      }
      const addr = local ?? address;
      if (addr) out.push({ type: 'address', kind: type === RTM_NEWADDR ? 'new' : 'del', seq, address: Buffer.from(addr), ifindex });
    }
    off += (len + 3) & ~3;
  }
  return out;
}

/**
 * Follows this namespace's IPv6 addresses: `onChange` gets the whole set (16-byte addresses, no
 * duplicates) after the first dump and after every change. Subscribes before dumping, so no change
 * between the two is missed; notifications during a dump trigger one more dump after it.
 */
export class AddressWatch {
  private fd = -1;
  private watch = -1;
  private seq = 0;
  private dumping = false;
  private again = false;
  private collected = new Map<string, Buffer>();
  private readonly rx = Buffer.alloc(65536);
  /** dumps completed (tests, logs) */
  dumps = 0;

  constructor(
    private readonly onChange: (addresses: Buffer[]) => void,
    private readonly log: Logger,
  ) {}

  /** Subscribes and dumps; resolves once the first set was handed to `onChange`. */
  start(timeoutMs = 5000): Promise<void> {
    const first = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to the address dump in ${timeoutMs} ms`)), timeoutMs);
      this.firstDone = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.subscribe();
    return first;
  }

  private firstDone: (() => void) | undefined;

  private subscribe(): void {
    const n = native();
    this.fd = n.socket(n.constants.AF_NETLINK, n.constants.SOCK_RAW, NETLINK_ROUTE);
    try {
      n.setsockoptInt(this.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, RTNLGRP_IPV6_IFADDR);
      this.watch = n.watchReadable(this.fd, () => {
        // runs from the event loop: an exception here would end the process
        try {
          this.readable();
        } catch (e) {
          this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'handling an rtnetlink message failed');
        }
      });
      this.dump();
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  stop(): void {
    const n = native();
    if (this.watch >= 0) n.unwatch(this.watch);
    if (this.fd >= 0) n.close(this.fd);
    this.watch = this.fd = -1;
  }

  private dump(): void {
    if (this.dumping) {
      this.again = true;
      return;
    }
    this.seq = (this.seq + 1) >>> 0 || 1;
    this.dumping = true;
    this.collected = new Map();
    const req = addressDumpRequest(this.seq);
    const r = native().send(this.fd, req, 0, req.length, 0);
    if (r < 0) {
      this.dumping = false;
      this.log.error({ errno: -r }, 'cannot ask the kernel for the addresses (RTM_GETADDR)');
    }
  }

  private readable(): void {
    if (this.fd < 0) return;
    const n = native();
    for (;;) {
      const len = n.recv(this.fd, this.rx, 0, this.rx.length, n.constants.MSG_DONTWAIT);
      if (len === -n.constants.EAGAIN || len === 0) return;
      if (len === -n.constants.ENOBUFS) {
        // notifications were lost: the set must be read again
        this.dumping = false;
        this.dump();
        continue;
      }
      if (len < 0) {
        this.log.error({ errno: -len }, 'rtnetlink receive failed');
        return;
      }
      for (const m of parseAddrMessages(this.rx.subarray(0, len))) this.handle(m);
    }
  }

  private handle(m: AddrMessage): void {
    const ours = this.dumping && m.seq === this.seq;
    if (m.type === 'address') {
      if (ours) this.collected.set(m.address.toString('hex'), m.address);
      else this.dump(); // a notification
    } else if (ours && m.type === 'done') {
      this.dumping = false;
      this.dumps++;
      this.onChange([...this.collected.values()]);
      this.firstDone?.();
      this.firstDone = undefined;
      if (this.again) {
        this.again = false;
        this.dump();
      }
    } else if (ours && m.type === 'error') {
      this.dumping = false;
      this.log.error({ errno: m.errno }, 'the address dump failed (RTM_GETADDR)');
    }
  }
}
