/**
 * The DNS server: one UDP socket and one TCP listener on the same address and port, each message
 * handed to handleMessage. TCP: two-byte length framing, several queries per connection, idle
 * timeout; a connection that sends a length under 12 or garbage framing is closed. Every query is
 * logged as one JSON line (pino) with its outcome.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { isIPv4 } from 'node:net';
import type { Logger } from '../../log.js';
import { SrError, errnoCode } from '../../errors.js';
import { randomInt } from 'node:crypto';
import type { Resolver } from '../resolver.js';
import type { BsidManager } from '../bsid/manager.js';
import { tcpExchange, udpExchange } from '../client.js';
import { handleMessage, type QueryLog, type Services } from './message.js';

export interface DnsServerOptions {
  address: string;
  /** 0: any free port (UDP and TCP then share the UDP socket's port) */
  port: number;
  resolver: Resolver;
  bsids?: BsidManager;
  log: Logger;
  /** TCP idle timeout (default 10 s) */
  tcpIdleMs?: number;
}

export interface DnsServer {
  address: string;
  port: number;
  /** swaps the resolver (a reloaded config) */
  setResolver(r: Resolver): void;
  close(): Promise<void>;
}

const clientAddress = (a: string | undefined): string => (a ?? '?').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

export async function startDnsServer(o: DnsServerOptions): Promise<DnsServer> {
  let resolver = o.resolver;
  const forward = async (query: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer> => {
    const up = resolver.config.upstream;
    if (!up) throw new Error('no upstream');
    // a fresh id towards the upstream (queries from different clients may share one), the client's id back
    const out = Buffer.from(query);
    out.writeUInt16BE(randomInt(0, 65536), 0);
    // over UDP a truncated upstream answer goes back as it is: the client retries over TCP, and so do we
    const answer = transport === 'udp' ? await udpExchange(up, out, 2000) : await tcpExchange(up, out, 3000);
    const back = Buffer.from(answer);
    back.writeUInt16BE(query.readUInt16BE(0), 0);
    return back;
  };
  const services = (): Services => ({ resolver, forward, ...(o.bsids ? { bsids: o.bsids } : {}) });
  const logQuery = (l: QueryLog): void => {
    if (l.rcode === undefined) o.log.debug(l, 'dropped');
    else if (l.rcode === 'SERVFAIL' || l.rcode === 'REFUSED' || l.rcode === 'FORMERR') o.log.warn(l, 'query');
    else o.log.info(l, 'query');
  };
  const v4 = isIPv4(o.address);
  const udp = dgram.createSocket({ type: v4 ? 'udp4' : 'udp6', ipv6Only: false });
  udp.on('message', (msg, rinfo) => {
    void handleMessage(services(), msg, clientAddress(rinfo.address), 'udp').then((h) => {
      logQuery(h.log);
      if (h.response) udp.send(h.response, rinfo.port, rinfo.address, (e) => e && o.log.warn({ err: e.message }, 'udp send failed'));
    });
  });
  udp.on('error', (e) => o.log.error({ err: e.message }, 'udp socket error'));
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ address: o.address, port: o.port, exclusive: true }, () => {
      udp.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => {
    throw listenError(e, o.address, o.port, 'UDP');
  });
  const port = udp.address().port;

  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.setTimeout(o.tcpIdleMs ?? 10_000, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    const client = clientAddress(sock.remoteAddress);
    let pending: Buffer = Buffer.alloc(0);
    let tail: Promise<void> = Promise.resolve();
    sock.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (len < 12) {
          logQuery({ client, transport: 'tcp', reason: `runt message (${len} bytes): connection closed` });
          sock.destroy();
          return;
        }
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        // answers go out in the order of the queries, each once it is ready
        const answer = handleMessage(services(), Buffer.from(msg), client, 'tcp');
        tail = tail.then(async () => {
          const h = await answer;
          logQuery(h.log);
          if (h.response && !sock.destroyed) {
            const frame = Buffer.alloc(2 + h.response.length);
            frame.writeUInt16BE(h.response.length, 0);
            h.response.copy(frame, 2);
            sock.write(frame);
          }
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ host: o.address, port, exclusive: true }, () => {
      tcp.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => {
    udp.close();
    throw listenError(e, o.address, port, 'TCP');
  });
  tcp.on('error', (e) => o.log.error({ err: e.message }, 'tcp server error'));

  return {
    address: o.address,
    port,
    setResolver: (r) => void (resolver = r),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        udp.close();
        tcp.close(() => resolve());
      }),
  };
}

function listenError(e: unknown, address: string, port: number, proto: string): Error {
  const code = errnoCode(e);
  if (code === 'EADDRINUSE') return new SrError('PORT_BUSY', `${proto} [${address}]:${port} is in use`, { hint: 'another DNS server listens there: stop it or change `listen.port`' });
  if (code === 'EACCES') return new SrError('NOT_ROOT', `${proto} port ${port} needs root (CAP_NET_BIND_SERVICE)`, { hint: 'run as root, or choose `listen.port` ≥ 1024' });
  if (code === 'EADDRNOTAVAIL') return new SrError('BAD_ARGUMENT', `${proto} [${address}]:${port}: no such local address`, { hint: 'set `listen.address` to an address of this host (or ::)' });
  return e instanceof Error ? e : new Error(String(e));
}
