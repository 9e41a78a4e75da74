/**
 * The socket compositions the datapath needs, built from the thin native syscalls:
 *  - a transparent listener (SO_REUSEPORT, IPV6_TRANSPARENT, IPV6_RECVRTHDR) handed to net.Server;
 *  - the SYN's SRH of an accepted socket (IPV6_2292PKTOPTIONS → cmsg IPV6_RTHDR);
 *  - an outbound socket with an SRH, optionally transparent (bound to the client's address);
 *  - an SRH set on an established socket (return path).
 */
import net from 'node:net';
import { errnoCode, SrError } from '../core/errors.js';
import { parseAddress } from '../net/ip6.js';
import { native } from './addon.js';
import { parseCmsgs } from './cmsg.js';

export interface ListenerOptions {
  address?: string; // default '::'
  port: number;
  backlog?: number;
  reusePort?: boolean;
  transparent?: boolean;
  recvRthdr?: boolean;
  /** TCP_SAVE_SYN: keep each SYN's headers for TCP_SAVED_SYN (saved-syn.ts) */
  saveSyn?: boolean;
  /** socket protocol (default TCP; IPPROTO_MPTCP for the converter listener) */
  protocol?: number;
}

/** Creates, binds and listens on a TCP/IPv6 socket; returns the fd for `server.listen({ fd })`. */
export function listenFd(o: ListenerOptions): number {
  const n = native();
  const c = n.constants;
  const fd = n.socket(c.AF_INET6, c.SOCK_STREAM, o.protocol ?? c.IPPROTO_TCP);
  try {
    n.setsockoptInt(fd, c.SOL_SOCKET, c.SO_REUSEADDR, 1);
    if (o.reusePort) n.setsockoptInt(fd, c.SOL_SOCKET, c.SO_REUSEPORT, 1);
    if (o.transparent) n.setsockoptInt(fd, c.IPPROTO_IPV6, c.IPV6_TRANSPARENT, 1);
    if (o.recvRthdr) n.setsockoptInt(fd, c.IPPROTO_IPV6, c.IPV6_RECVRTHDR, 1);
    if (o.saveSyn) n.setsockoptInt(fd, c.IPPROTO_TCP, 27 /* TCP_SAVE_SYN */, 1);
    n.setsockoptInt(fd, c.IPPROTO_IPV6, c.IPV6_V6ONLY, 1);
    n.bind6(fd, parseAddress(o.address ?? '::'), o.port, 0);
    n.listen(fd, o.backlog ?? 1024);
  } catch (e) {
    n.close(fd);
    if (errnoCode(e) === 'EADDRINUSE') {
      throw new SrError('PORT_BUSY', `port ${o.port} is in use (and not shared with SO_REUSEPORT)`, { cause: e });
    }
    if (errnoCode(e) === 'EPERM' || errnoCode(e) === 'EACCES') {
      throw new SrError('NOT_ROOT', `not permitted to open a transparent listener on port ${o.port}`, { cause: e });
    }
    throw e;
  }
  return fd;
}

/** Makes `server` accept on a listening fd from `listenFd`; resolves once it does, rejects on a listen error. */
export function serveFd(server: net.Server, fd: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The fd behind a connected net.Socket (Linux; libuv exposes it on the TCP handle). */
export function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new SrError('INTERNAL', 'socket has no file descriptor');
  return fd;
}

/**
 * The routing header the SYN carried, as raw SRH bytes, or null when it had none.
 * Needs IPV6_RECVRTHDR on the listener.
 */
export function synRoutingHeader(socket: net.Socket): Buffer | null {
  const n = native();
  const c = n.constants;
  const raw = n.getsockoptBuffer(socketFd(socket), c.IPPROTO_IPV6, c.IPV6_2292PKTOPTIONS, 4096);
  for (const m of parseCmsgs(raw, c.SIZEOF_SIZE_T)) {
    if (m.level === c.IPPROTO_IPV6 && m.type === c.IPV6_RTHDR) return m.data;
  }
  return null;
}

export interface OutboundOptions {
  /** SRH bytes to send with (IPV6_RTHDR); omit for none */
  srh?: Buffer | null;
  /** bind to a non-local address (the client's): sets IPV6_TRANSPARENT */
  transparent?: boolean;
  /** SO_MARK for the outbound packets */
  mark?: number;
  noDelay?: boolean;
  /** socket protocol (default TCP; IPPROTO_MPTCP for multipath) */
  protocol?: number;
  /**
   * bind here before wrapping (SO_REUSEADDR, as Node's bind does); connect then without `localAddress`.
   * Saves Node's bind path (its IPV6_V6ONLY setsockopt and its JavaScript) on every outbound socket.
   */
  bind?: { address: string; port: number };
}

/**
 * An unconnected socket carrying the options, wrapped as a net.Socket. Connect it with
 * `socket.connect({ host, port, localAddress })` — binding (unless `bind` was given) and connecting stay Node's.
 */
export function outboundSocket(o: OutboundOptions, socketOptions?: { allowHalfOpen?: boolean }): net.Socket {
  const fd = outboundFd(o);
  return new net.Socket({ fd, allowHalfOpen: socketOptions?.allowHalfOpen ?? false, readable: true, writable: true });
}

/**
 * The outbound socket as a bare descriptor, its non-blocking connect to `to` started (no net.Socket:
 * for the native relay, which completes the connect — relay.ts adoptConnecting). The caller closes it.
 * A connect that fails at once (EADDRNOTAVAIL, ENETUNREACH, ...) throws with the errno's code.
 */
export function connectingFd(o: OutboundOptions, to: { address: string; port: number }): number {
  const fd = outboundFd(o);
  try {
    native().connect6(fd, parseAddress(to.address), to.port);
  } catch (e) {
    native().close(fd);
    throw e;
  }
  return fd;
}

/** A non-blocking TCP/IPv6 socket carrying the options (bound when `bind` says so). */
function outboundFd(o: OutboundOptions): number {
  const n = native();
  const c = n.constants;
  const fd = n.socket(c.AF_INET6, c.SOCK_STREAM, o.protocol ?? c.IPPROTO_TCP);
  try {
    if (o.transparent) n.setsockoptInt(fd, c.IPPROTO_IPV6, c.IPV6_TRANSPARENT, 1);
    if (o.mark !== undefined) n.setsockoptInt(fd, c.SOL_SOCKET, c.SO_MARK, o.mark);
    if (o.srh) n.setsockoptBuffer(fd, c.IPPROTO_IPV6, c.IPV6_RTHDR, o.srh);
    if (o.noDelay) n.setsockoptInt(fd, c.IPPROTO_TCP, c.TCP_NODELAY, 1);
    if (o.bind) {
      n.setsockoptInt(fd, c.SOL_SOCKET, c.SO_REUSEADDR, 1);
      n.bind6(fd, parseAddress(o.bind.address), o.bind.port, 0);
    }
  } catch (e) {
    n.close(fd);
    throw e;
  }
  return fd;
}

/** Sets (or, with null, clears) the SRH on an established socket — e.g. a return path. */
export function setRoutingHeader(socket: net.Socket, srh: Buffer | null): void {
  const n = native();
  n.setsockoptBuffer(socketFd(socket), n.constants.IPPROTO_IPV6, n.constants.IPV6_RTHDR, srh);
}

/**
 * Makes the next close of this socket abortive: SO_LINGER {on, 0}, so close() sends a RST on an
 * established connection (even one the kernel completed while Node still thinks it is connecting)
 * and aborts a pending connect. Also what the kernel does when the process dies: a flow's sockets
 * carry it from the start, so the peers of a worker that crashes see a reset, never a clean FIN.
 */
export function lingerZero(socket: net.Socket): void {
  setLinger(socket, true);
}

/** Back to an orderly close (SO_LINGER off): for a socket whose both directions ended cleanly. */
export function lingerOff(socket: net.Socket): void {
  setLinger(socket, false);
}

/** struct linger { l_onoff, l_linger = 0 }, made once (the kernel copies it) */
function lingerValue(onoff: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32LE(onoff, 0); // l_onoff
  b.writeInt32LE(0, 4); // l_linger
  return b;
}
const LINGER_ABORTIVE = lingerValue(1);
const LINGER_OFF = lingerValue(0);

function setLinger(socket: net.Socket, abortive: boolean): void {
  const n = native();
  n.setsockoptBuffer(socketFd(socket), n.constants.SOL_SOCKET, n.constants.SO_LINGER, abortive ? LINGER_ABORTIVE : LINGER_OFF);
}
