/**
 * Client side of the controller: `resolve()` asks for a name (and functions) over UDP, retrying over
 * TCP when the answer is truncated, and decodes the path records (dns/query.ts); `resolveAndConnect()`
 * then opens the TCP connection over the returned path (connect.ts).
 */
import net from 'node:net';
import { exchange } from '../dns/exchange.js';
import { errnoCode, SrError } from '../core/errors.js';
import { buildQuery, parseController, parseResponse, rcodeError, type ResolveOptions, type ResolveResult } from '../dns/query.js';
import { connect, type ConnectOptions } from './connect.js';

export type { ResolveOptions, ResolveResult, ResolvedPath } from '../dns/query.js';

/** Asks the controller; resolves whatever the rcode (check `rcode`); rejects on no answer (CONTROLLER_UNREACHABLE). */
export async function resolve(o: ResolveOptions): Promise<ResolveResult> {
  const server = parseController(o.controller);
  const { answer, transport } = await exchange({ server, query: (id) => buildQuery(o, id), mode: o.tcp ? 'tcp' : 'udp-then-tcp', timeoutMs: o.timeoutMs ?? 2000 }).catch((e: unknown) => {
    if (e instanceof SrError) throw e;
    const code = errnoCode(e);
    const message = (e as Error).message;
    throw new SrError('CONTROLLER_UNREACHABLE', `resolve ${o.name}: [${server.address}]:${server.port}: ${message}${code && !message.includes(code) ? ` (${code})` : ''}`, { cause: e });
  });
  return { ...parseResponse(answer, o.name).result, transport };
}

export interface ResolveAndConnectOptions extends ResolveOptions, Omit<ConnectOptions, 'host' | 'segments' | 'port'> {
  /** the destination port (also sent to the controller) */
  port: number;
}

/** Resolves the name with the controller, then connects over the path of its first address. A
 *  non-NOERROR answer rejects with an SrError DNS_<RCODE> (DNS_REFUSED, DNS_NXDOMAIN, DNS_SERVFAIL,
 *  DNS_FORMERR, DNS_NOTIMP; DNS_RCODE for any other), no address with DNS_NODATA. */
export async function resolveAndConnect(o: ResolveAndConnectOptions): Promise<{ socket: net.Socket; resolution: ResolveResult; host: string; segments: string[] }> {
  const resolution = await resolve(o);
  if (resolution.rcode !== 'NOERROR') throw rcodeError(resolution.rcode, `${o.name}: the controller answered ${resolution.rcode}`);
  const host = resolution.addresses[0];
  if (host === undefined) throw new SrError('DNS_NODATA', `${o.name}: no IPv6 address`);
  const path = resolution.paths.find((p) => p.destination === host);
  const segments = path ? path.segments.slice(0, -1) : [];
  const { name: _n, functions: _f, controller: _c, app: _a, tcp: _t, ...rest } = o;
  // a return path from the controller travels as the return-path TLV (unless the caller gave one)
  const returnPath = rest.returnPath ?? path?.returnPath;
  const socket = await connect({ ...rest, host, port: o.port, segments, ...(returnPath ? { returnPath } : {}) });
  return { socket, resolution, host, segments };
}

