/**
 * Client side: a TCP connection over an SR path. The segments (travel order, without the final host)
 * go into an SRH set on the socket before connect; the kernel sends the SYN to the first segment.
 */
import net from 'node:net';
import { srhForPath, type SrhTlv } from '../codec/srh.js';
import { parseAddress } from '../net/ip6.js';
import { clientReturnPathTlv } from '../codec/return-path.js';
import { outboundSocket } from '../native/sockets.js';

export interface ConnectOptions {
  host: string;
  port: number;
  /** waypoints in travel order (function SIDs), not including `host` */
  segments?: string[];
  /** TLVs to carry after the segment list (e.g. an HMAC TLV) */
  tlvs?: SrhTlv[];
  /**
   * The return path: the return SIDs the replies travel back through, in that order (the last proxy's
   * first). Carried as a return-path TLV (type 6); each proxy replies through the previous one's entry,
   * and a proxy's entry may name another of its functions for the downstream direction.
   */
  returnPath?: string[];
  /** SRH flags byte */
  flags?: number;
  localAddress?: string;
  allowHalfOpen?: boolean;
  /** fail if not connected within this many ms (default 10000) */
  timeoutMs?: number;
}

/** Resolves to a connected net.Socket whose packets carry the SRH. */
export function connect(o: ConnectOptions): Promise<net.Socket> {
  const segments = o.segments ?? [];
  const tlvs = [...(o.tlvs ?? [])];
  if (o.returnPath?.length) tlvs.push(clientReturnPathTlv(o.returnPath.map(parseAddress), o.localAddress ? parseAddress(o.localAddress) : undefined));
  const srh = segments.length > 0 || tlvs.length > 0 ? srhForPath([...segments.map(parseAddress), parseAddress(o.host)], { tlvs, flags: o.flags ?? 0 }) : null;
  parseAddress(o.host); // validates
  const socket = srh
    ? outboundSocket({ srh }, { allowHalfOpen: o.allowHalfOpen ?? true })
    : new net.Socket({ allowHalfOpen: o.allowHalfOpen ?? true });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connect to [${o.host}]:${o.port} timed out`), { code: 'ETIMEDOUT' }));
    }, o.timeoutMs ?? 10_000);
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.connect({ host: o.host, port: o.port, family: 6, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
  });
}
