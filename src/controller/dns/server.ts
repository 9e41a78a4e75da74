/**
 * The DNS server: one UDP socket and one TCP listener on the same address and port, each message
 * handed to handleMessage. Every query is logged as one JSON line (pino) with its outcome.
 *
 * TCP, bounded (`limits` in the config): two-byte length framing, several queries per connection,
 * answered in order. At most `tcpConnections` connections (and `tcpConnectionsPerClient` per client
 * address): others are closed at once. Back-pressure: while a connection has `tcpQueriesInFlight`
 * queries unanswered, or more than `tcpWriteBuffer` bytes of answers the client has not taken, the
 * server stops reading it (the kernel's window then stops the client) — a client that pipelines
 * without reading costs a bounded amount of memory. A connection with no complete query (and no
 * answer taken) for `tcpIdle` ms is closed, as is one that sends a length under 12.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { isIPv4 } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../core/log.js';
import { SrError, errnoCode, isSrError } from '../../core/errors.js';
import type { Resolver } from '../resolver.js';
import type { DnsLimits } from '../config.js';
import { ClientRateLimiter } from '../ratelimit.js';
import type { BsidManager } from '../bsid/manager.js';
import { queryId, tcpExchange, udpExchange } from '../../dns/exchange.js';
import { handleMessage, type QueryLog, type Services } from './message.js';

export interface DnsServerOptions {
  address: string;
  /** 0: any free port (UDP and TCP then share the UDP socket's port) */
  port: number;
  resolver: Resolver;
  bsids?: BsidManager;
  log: Logger;
  /** TCP limits; default: the resolver's config's `limits` (read per connection, so a reload applies) */
  limits?: Partial<DnsLimits>;
  /** every query handled, with performance.now() when it was read (controller/metrics.ts) */
  onQuery?(l: QueryLog, since: number): void;
}

export interface DnsServer {
  address: string;
  port: number;
  /** swaps the resolver (a reloaded config) */
  setResolver(r: Resolver): void;
  /** open TCP connections, and the bytes held for them: queries read but not parsed, answers not yet written */
  stats(): { tcpConnections: number; tcpBufferedBytes: number };
  close(): Promise<void>;
}

const clientAddress = (a: string | undefined): string => (a ?? '?').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

/** A warning at most once per second per kind, with the number held back meanwhile. */
function throttledWarn(log: Logger): (kind: string, fields: object) => void {
  const last = new Map<string, { at: number; held: number }>();
  return (kind, fields) => {
    const now = Date.now();
    const l = last.get(kind);
    if (l && now - l.at < 1000) {
      l.held++;
      return;
    }
    log.warn({ ...fields, ...(l?.held ? { suppressed: l.held } : {}) }, kind);
    last.set(kind, { at: now, held: 0 });
  };
}

export async function startDnsServer(o: DnsServerOptions): Promise<DnsServer> {
  // port 0: the UDP socket picks a free port and TCP takes the same number, which another socket may
  // hold already: pick again (a fixed port that is busy is the operator's error, reported at once)
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(o);
    } catch (e) {
      if (o.port !== 0 || attempt >= 8 || !isSrError(e, 'PORT_BUSY')) throw e;
    }
  }
}

async function startOnce(o: DnsServerOptions): Promise<DnsServer> {
  let resolver = o.resolver;
  const limits = (): DnsLimits => ({ ...resolver.config.limits, ...o.limits });
  const forwardLimiter = (r: Resolver): ClientRateLimiter | undefined =>
    r.config.upstream ? new ClientRateLimiter({ ...r.config.upstream.rate, prefixLength: r.config.limits.clientPrefix, maxClients: r.config.limits.trackedClients }) : undefined;
  let forwardRate = forwardLimiter(resolver);
  const warn = throttledWarn(o.log);
  const forward = async (query: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer> => {
    const up = resolver.config.upstream;
    if (!up) throw new Error('no upstream');
    // a fresh id towards the upstream (queries from different clients may share one), the client's id back
    const out = Buffer.from(query);
    out.writeUInt16BE(queryId(), 0);
    // over UDP a truncated upstream answer goes back as it is: the client retries over TCP, and so do we
    const answer = transport === 'udp' ? await udpExchange(up, out, 2000) : await tcpExchange(up, out, 3000);
    const back = Buffer.from(answer);
    back.writeUInt16BE(query.readUInt16BE(0), 0);
    return back;
  };
  const services = (): Services => {
    const limiter = forwardRate;
    return { resolver, forward, ...(limiter ? { forwardRate: (c: string) => limiter.take(c) } : {}), ...(o.bsids ? { bsids: o.bsids } : {}) };
  };
  // every query through here: timed from its reading to its answer, counted (metrics)
  const handle = (msg: Buffer, client: string, transport: 'udp' | 'tcp'): ReturnType<typeof handleMessage> => {
    if (!o.onQuery) return handleMessage(services(), msg, client, transport);
    const since = performance.now();
    return handleMessage(services(), msg, client, transport).then((h) => {
      o.onQuery?.(h.log, since);
      return h;
    });
  };
  const logQuery = (l: QueryLog): void => {
    if (l.rcode === undefined) o.log.debug(l, 'dropped');
    else if (l.rcode === 'SERVFAIL' || l.rcode === 'REFUSED' || l.rcode === 'FORMERR') o.log.warn(l, 'query');
    else o.log.info(l, 'query');
  };
  const v4 = isIPv4(o.address);
  const udp = dgram.createSocket({ type: v4 ? 'udp4' : 'udp6', ipv6Only: false });
  udp.on('message', (msg, rinfo) => {
    void handle(msg, clientAddress(rinfo.address), 'udp').then((h) => {
      logQuery(h.log);
      // a socket closed meanwhile throws synchronously: never out of the server
      try {
        if (h.response) udp.send(h.response, rinfo.port, rinfo.address, (e) => e && warn('udp send failed', { err: e.message }));
      } catch (e) {
        warn('udp send failed', { err: (e as Error).message });
      }
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
  const unparsed = new Map<net.Socket, () => number>();
  const perClient = new Map<string, number>();
  const tcp = net.createServer((sock) => {
    const client = clientAddress(sock.remoteAddress);
    const lim = limits();
    const mine = perClient.get(client) ?? 0;
    if (sockets.size >= lim.tcpConnections || mine >= lim.tcpConnectionsPerClient) {
      warn('tcp connection refused', { client, reason: sockets.size >= lim.tcpConnections ? `${sockets.size} connections (limits.tcpConnections)` : `${mine} connections from ${client} (limits.tcpConnectionsPerClient)` });
      sock.on('error', () => undefined);
      sock.destroy();
      return;
    }
    sockets.add(sock);
    perClient.set(client, mine + 1);
    sock.on('close', () => {
      sockets.delete(sock);
      const n = (perClient.get(client) ?? 1) - 1;
      if (n > 0) perClient.set(client, n);
      else perClient.delete(client);
    });
    sock.on('error', () => sock.destroy());
    // no traffic at all for tcpIdle: closed; traffic but no complete query nor answer taken: closed too
    sock.setTimeout(lim.tcpIdleMs, () => sock.destroy());
    let progress = Date.now();
    let pending: Buffer = Buffer.alloc(0);
    let inFlight = 0;
    let tail: Promise<void> = Promise.resolve();
    unparsed.set(sock, () => pending.length);
    sock.once('close', () => unparsed.delete(sock));
    const pump = (): void => {
      while (!sock.destroyed && inFlight < lim.tcpQueriesInFlight && sock.writableLength <= lim.tcpWriteBuffer && pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (len < 12) {
          logQuery({ client, transport: 'tcp', reason: `runt message (${len} bytes): connection closed` });
          sock.destroy();
          return;
        }
        if (pending.length < 2 + len) break;
        const msg = Buffer.from(pending.subarray(2, 2 + len));
        pending = pending.subarray(2 + len);
        progress = Date.now();
        inFlight++;
        // answers go out in the order of the queries, each once it is ready
        const answer = handle(msg, client, 'tcp');
        tail = tail
          .then(async () => {
            const h = await answer;
            inFlight--;
            logQuery(h.log);
            if (h.response && !sock.destroyed) {
              const frame = Buffer.alloc(2 + h.response.length);
              frame.writeUInt16BE(h.response.length, 0);
              h.response.copy(frame, 2);
              // once written out, the buffer may be under tcpWriteBuffer again: read on
              sock.write(frame, () => {
                progress = Date.now();
                pump();
              });
            }
            pump();
          })
          .catch((e: unknown) => {
            o.log.error({ client, err: (e as Error).message }, 'tcp answer failed: connection closed');
            sock.destroy();
          });
      }
      if (sock.destroyed) return;
      if (inFlight >= lim.tcpQueriesInFlight || sock.writableLength > lim.tcpWriteBuffer) sock.pause();
      else sock.resume();
    };
    sock.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (Date.now() - progress > lim.tcpIdleMs) {
        logQuery({ client, transport: 'tcp', reason: `no complete query for ${lim.tcpIdleMs} ms: connection closed` });
        sock.destroy();
        return;
      }
      pump();
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
    stats: () => ({ tcpConnections: sockets.size, tcpBufferedBytes: [...sockets].reduce((n, s) => n + s.writableLength + (unparsed.get(s)?.() ?? 0), 0) }),
    setResolver: (r) => {
      const before = JSON.stringify([resolver.config.upstream?.rate, resolver.config.limits]);
      resolver = r;
      if (JSON.stringify([r.config.upstream?.rate, r.config.limits]) !== before) forwardRate = forwardLimiter(r);
    },
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
