/**
 * The server side of return paths, for Node.js programs: a TCP listener whose accepted sockets send
 * their replies back the way the flow came — through the return-path TLV's entry for the last proxy,
 * or along the reverse of the segments the SYN visited (a proxy with a return hop leaves its return
 * SID there). The SYN's SRH is read from the accepted socket (IPV6_RECVRTHDR on the listener) and the
 * reply SRH set on it with IPV6_RTHDR before the program sees the socket.
 *
 * What this cannot do: the SYN-ACK leaves before accept() returns, with the listener's options, so it
 * follows plain routing. Off the routing path, the handshake needs the host's return steering
 * (`srv6pipes return-agent`, keyed on the SRH tag); this helper then steers everything after it per
 * socket, along paths the host steering does not know (e.g. a return path chosen by the client).
 */
import net from 'node:net';
import { findReturnPath, replySrh, returnStep } from '../codec/return-path.js';
import { decodeSrh, pathOf, type Srh } from '../codec/srh.js';
import { isSrError, SrError } from '../core/errors.js';
import { formatAddress } from '../net/ip6.js';
import { listenFd, serveFd, setRoutingHeader, synRoutingHeader } from '../native/sockets.js';

export interface SrConnectionInfo {
  /** the SYN's SRH (Segments Left 0), or null when the flow came without one */
  srh: Srh | null;
  /** the SID the replies go back through; undefined when they go straight back (plain routing) */
  replyVia?: string;
}

export interface SrServerOptions {
  /** default '::' */
  host?: string;
  port: number;
  backlog?: number;
  allowHalfOpen?: boolean;
  /** set the reply SRH on accepted sockets (default true); false only reports the SRH */
  steerReplies?: boolean;
  /**
   * A connection whose SRH or return-path TLV is malformed, or whose reply SRH the kernel refused,
   * is reset; this is told why (default: nothing).
   */
  onReject?(error: SrError, peer: { address: string; port: number }): void;
}

/** What a server should do for a SYN's SRH: the decoded SRH and the reply SRH (pure; throws SrError). */
export function replyPlan(srhBytes: Buffer | null): { srh: Srh | null; reply: { srh: Buffer; via: Buffer } | null } {
  if (!srhBytes) return { srh: null, reply: null };
  const srh = decodeSrh(srhBytes);
  const rp = findReturnPath(srh.tlvs);
  // at the server, every segment but the last (itself) was visited on the way
  const path = pathOf(srh);
  return { srh, reply: replySrh(rp && returnStep(rp), path, path.length - 1) };
}

/**
 * Listens on HOST:PORT; `onConnection` gets each accepted socket once its reply SRH is set, with what
 * the SYN carried. Resolves to the listening net.Server (close it as usual).
 */
export async function listen(o: SrServerOptions, onConnection: (socket: net.Socket, info: SrConnectionInfo) => void): Promise<net.Server> {
  const fd = listenFd({ address: o.host ?? '::', port: o.port, backlog: o.backlog, recvRthdr: true });
  const server = net.createServer({ allowHalfOpen: o.allowHalfOpen ?? false });
  server.on('connection', (socket) => {
    const peer = { address: socket.remoteAddress ?? '::', port: socket.remotePort ?? 0 };
    let info: SrConnectionInfo;
    try {
      const plan = replyPlan(synRoutingHeader(socket));
      info = { srh: plan.srh };
      if (plan.reply && o.steerReplies !== false) {
        try {
          setRoutingHeader(socket, plan.reply.srh);
        } catch (e) {
          throw new SrError('RETURN_PATH_REFUSED', `the kernel refused the reply SRH via ${formatAddress(plan.reply.via)}: ${(e as Error).message}`, { cause: e });
        }
      }
      if (plan.reply) info.replyVia = formatAddress(plan.reply.via);
    } catch (e) {
      if (!isSrError(e)) throw e;
      socket.on('error', () => undefined);
      socket.resetAndDestroy();
      o.onReject?.(e, peer);
      return;
    }
    onConnection(socket, info);
  });
  await serveFd(server, fd);
  return server;
}
