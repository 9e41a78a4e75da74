/**
 * The client-facing socket's TIME_WAIT (issue 12, item 21; docs/security.md, "Return traffic on a
 * stock host and interception details").
 *
 * When the server closes first, the proxy's accepted socket does the active close and the kernel keeps
 * a TIME_WAIT socket for `[server]:port ↔ [client]:port` for 60 s. A new SYN from the same client
 * port would normally meet it in `tcp_v6_rcv` (TCP_TW_SYN: the TIME_WAIT socket gives way to the
 * listener). Under interception it never does: the TPROXY rule assigns the SYN to the transparent
 * listener at prerouting, while its destination is still the SID, so TCP takes the assigned listener
 * without any lookup; the listener's request socket then collides with the TIME_WAIT one in the
 * established hash (`inet_ehash_insert` finds the duplicate) and the SYN is dropped, silently, each
 * time it is retransmitted, until the TIME_WAIT ends.
 *
 * So the proxy removes that TIME_WAIT socket itself once the flow is over: the socket's cookie is
 * read while it is open (the TIME_WAIT socket inherits it), and when the socket closes after an
 * active close, a `SOCK_DESTROY` for exactly that tuple and cookie removes it (src/sys/sockdiag.ts).
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import { native } from '../native/addon.js';
import { socketFd } from '../native/sockets.js';
import { parseAddress } from '../net/ip6.js';
import { SO_COOKIE, SockDiag, type DestroyResult } from '../sys/sockdiag.js';

/** Per process: what the releases gave (tests, logs). */
export const timeWaitReleases: Record<DestroyResult, number> = { destroyed: 0, absent: 0, unsupported: 0, failed: 0 };

let diag: SockDiag | undefined;
let warned = false;

/** The socket's cookie (SO_COOKIE, 8 bytes; generates it if needed), or undefined. */
export function socketCookie(socket: net.Socket): Buffer | undefined {
  try {
    const n = native();
    const b = n.getsockoptBuffer(socketFd(socket), n.constants.SOL_SOCKET, SO_COOKIE, 8);
    return b.length === 8 ? b : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Counts a release's result (both relays: this file's and the native relay's, which releases from its
 * own thread) and says once per process when the kernel or the process cannot destroy sockets.
 */
export function countTimeWaitRelease(result: DestroyResult, errno: number | undefined, log: Logger, client?: string): void {
  timeWaitReleases[result]++;
  if (result === 'unsupported' && !warned) {
    warned = true;
    log.warn({ errno }, 'cannot destroy TIME_WAIT sockets (SOCK_DESTROY): a client reusing its port within 60 s of a close the server began will not connect');
  } else if (result === 'failed') {
    log.debug({ errno, ...(client ? { client } : {}) }, 'TIME_WAIT release failed');
  }
}

/**
 * Watches an accepted socket (local = the server's address as the client sees it, remote = the
 * client): if it closes after sending its FIN before the client's (an active close, hence
 * TIME_WAIT here), its TIME_WAIT socket is destroyed. Call it while the socket is open.
 */
export function releaseTimeWaitOnClose(socket: net.Socket, local: { address: string; port: number }, remote: { address: string; port: number }, log: Logger): void {
  const cookie = socketCookie(socket);
  if (!cookie) return;
  let l: Buffer;
  let r: Buffer;
  try {
    l = parseAddress(local.address);
    r = parseAddress(remote.address);
  } catch {
    return;
  }
  // the result and errno of one attempt; counted by the caller (an 'absent' at 'end' is tried again at 'close')
  const release = (): { result: DestroyResult; errno?: number } => {
    diag ??= new SockDiag();
    return diag.destroy({ address: l, port: local.port }, { address: r, port: remote.port }, cookie);
  };
  const count = (a: { result: DestroyResult; errno?: number }): void => countTimeWaitRelease(a.result, a.errno, log, `[${remote.address}]:${remote.port}`);
  // 'end' is the client's FIN. If ours was already on its way (writableEnded), this was an active
  // close: the kernel has made the TIME_WAIT socket when it took that FIN (unless both FINs crossed:
  // then it does on the last ACK, so try again at 'close'). The earlier, the shorter the window in
  // which the client's next SYN from this port is still dropped.
  let pending = false;
  socket.once('end', () => {
    if (!socket.writableEnded) return;
    const a = release();
    pending = a.result === 'absent';
    if (!pending) count(a);
  });
  socket.once('close', () => {
    if (pending) count(release());
  });
}
