/**
 * sock_diag (NETLINK_SOCK_DIAG): destroying one TCP/IPv6 socket — in practice a TIME_WAIT one —
 * named by its 4-tuple and its socket cookie (`SOCK_DESTROY`, as `ss -K` does; needs
 * CONFIG_INET_DIAG_DESTROY and CAP_NET_ADMIN; `tcp_abort` handles TIME_WAIT since Linux 6.0).
 *
 * The cookie makes it exact: the kernel looks the tuple up (established and TIME_WAIT sockets, then
 * listeners) and refuses with ENOENT unless the socket found carries that cookie. A TIME_WAIT socket
 * inherits the cookie of the full socket it replaces, if the cookie was generated before (SO_COOKIE
 * generates it): read it while the connection is open.
 *
 * The encoder and the reply parser are pure; `SockDiag` owns one netlink socket (per process).
 * Netlink is in host byte order (little endian on every platform this project runs on); addresses
 * and ports in `inet_diag_sockid` are in network order.
 */
import { native } from '../native/addon.js';

export const NETLINK_SOCK_DIAG = 4;
export const SOCK_DESTROY = 21;
export const NLMSG_ERROR = 2;
export const NLM_F_REQUEST = 1;
export const NLM_F_ACK = 4;
export const SO_COOKIE = 57;
export const TCP_TIME_WAIT = 6;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
/** nlmsghdr (16) + inet_diag_req_v2 (8 + inet_diag_sockid 48) */
export const DESTROY_REQUEST_BYTES = 16 + 56;

export interface Endpoint {
  /** 16 bytes */
  address: Buffer;
  port: number;
}

/**
 * A SOCK_DESTROY request for the TCP/IPv6 socket `local` ↔ `remote` in one of `states` (a bit mask
 * of TCP states; the kernel's exact lookup ignores it, the cookie is what pins the socket).
 * `cookie`: the 8 bytes SO_COOKIE returned.
 */
export function destroyRequest(seq: number, local: Endpoint, remote: Endpoint, cookie: Buffer, states = 1 << TCP_TIME_WAIT): Buffer {
  if (local.address.length !== 16 || remote.address.length !== 16) throw new RangeError('IPv6 addresses are 16 bytes');
  if (cookie.length !== 8) throw new RangeError('a socket cookie is 8 bytes');
  const b = Buffer.alloc(DESTROY_REQUEST_BYTES);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(SOCK_DESTROY, 4);
  b.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  // inet_diag_req_v2
  b[16] = AF_INET6;
  b[17] = IPPROTO_TCP;
  b.writeUInt32LE(states >>> 0, 20);
  // inet_diag_sockid: sport, dport (network order), src[16], dst[16], if, cookie[2]
  b.writeUInt16BE(local.port, 24);
  b.writeUInt16BE(remote.port, 26);
  local.address.copy(b, 28);
  remote.address.copy(b, 44);
  b.writeUInt32LE(0, 60);
  cookie.copy(b, 64);
  return b;
}

/** The errno (0: done) of the NLMSG_ERROR reply to `seq` among the messages in `buf`, or undefined. */
export function ackErrno(buf: Buffer, seq: number): number | undefined {
  for (let off = 0; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) return undefined;
    if (buf.readUInt16LE(off + 4) === NLMSG_ERROR && buf.readUInt32LE(off + 8) === seq >>> 0 && len >= 20) return Math.abs(buf.readInt32LE(off + 16));
    off += (len + 3) & ~3;
  }
  return undefined;
}

export type DestroyResult = 'destroyed' | 'absent' | 'unsupported' | 'failed';

/** One NETLINK_SOCK_DIAG socket, opened on first use. Every call is two non-blocking syscalls. */
export class SockDiag {
  private fd = -1;
  private seq = 1;
  private broken = false;
  private readonly rx = Buffer.alloc(1024);

  /**
   * Destroys the socket local ↔ remote with that cookie. The kernel handles SOCK_DESTROY inside the
   * send, so the acknowledgement is already queued when send returns: no waiting.
   *   destroyed   — it was there and is gone
   *   absent      — no socket with this tuple and cookie (ENOENT): nothing to do
   *   unsupported — this kernel or process cannot (EOPNOTSUPP, EPERM, no sock_diag): later calls return it at once
   *   failed      — anything else (errno in `errno`)
   */
  destroy(local: Endpoint, remote: Endpoint, cookie: Buffer): { result: DestroyResult; errno?: number } {
    if (this.broken) return { result: 'unsupported' };
    const n = native();
    const c = n.constants;
    if (this.fd < 0) {
      try {
        this.fd = n.socket(c.AF_NETLINK, c.SOCK_RAW, NETLINK_SOCK_DIAG);
      } catch {
        this.broken = true;
        return { result: 'unsupported' };
      }
    }
    const seq = this.seq++ >>> 0;
    const msg = destroyRequest(seq, local, remote, cookie);
    const sent = n.send(this.fd, msg, 0, msg.length, c.MSG_DONTWAIT);
    if (sent < 0) return { result: 'failed', errno: -sent };
    for (;;) {
      const len = n.recv(this.fd, this.rx, 0, this.rx.length, c.MSG_DONTWAIT);
      if (len === -c.EINTR) continue;
      if (len < 0) return { result: 'failed', errno: -len };
      const errno = ackErrno(this.rx.subarray(0, len), seq);
      if (errno === undefined) continue; // an older reply (a previous call's): read on
      if (errno === 0) return { result: 'destroyed' };
      if (errno === 2 /* ENOENT */) return { result: 'absent' };
      if (errno === 95 /* EOPNOTSUPP */ || errno === 1 /* EPERM */) {
        this.broken = true;
        return { result: 'unsupported', errno };
      }
      return { result: 'failed', errno };
    }
  }

  close(): void {
    if (this.fd >= 0) native().close(this.fd);
    this.fd = -1;
  }
}
