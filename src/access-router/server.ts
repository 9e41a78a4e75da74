/**
 * The agent's own HTTP(S) server: a table of JSON routes behind its credentials.
 *
 *   - no credential (no token, no client-certificate CA): loopback addresses only, and the Host
 *     header must name loopback (DNS rebinding); otherwise AGENT_NO_CREDENTIAL at start;
 *   - a token: every request carries `Authorization: Bearer TOKEN` (compared in constant time);
 *   - TLS (certificate and key files), and with a client CA, mutual TLS: the handshake refuses a
 *     client without a certificate signed by it;
 *   - browsers are kept out: a request with an Origin header, or a POST that is not
 *     application/json, is refused (no CSRF through a simple form or text/plain post);
 *   - bounded: connections (maxConnections), body size, header/request/handshake time.
 * Every refusal is answered with its code and HTTP status, counted by code and logged (at most
 * once a second per code). The checks and replies are sys/http-guard.ts and sys/http-json.ts.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { errnoCode, SrError, type ErrorCode } from '../core/errors.js';
import { bearerMatches, hostAllowed, isJsonContentType, isLoopbackAddress, readJsonBody } from '../sys/http-guard.js';
import { errorReply, findRoute, sendJson } from '../sys/http-json.js';

export interface AgentRoute {
  method: 'GET' | 'POST';
  path: string;
  summary: string;
  /** `open`: no bearer token needed (a read of counters, as the proxy admin's /metrics); Host, Origin and mutual TLS still apply */
  access?: 'open';
  /** the handler answers this text as it is (default: JSON) */
  contentType?: string;
  handle(body: unknown): Promise<unknown>;
}

export interface AgentTlsFiles {
  cert: Buffer;
  key: Buffer;
  /** clients must present a certificate signed by this CA (mutual TLS) */
  clientCa?: Buffer;
}

export interface AgentServerOptions {
  address: string;
  port: number;
  routes: AgentRoute[];
  token?: string;
  tls?: AgentTlsFiles;
  log: Logger;
  maxConnections: number;
}

export interface AgentServer {
  readonly port: number;
  readonly tls: boolean;
  /** refusals so far, by code */
  readonly rejected: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/** A request body is one install (at most 126 segments): far below this. */
export const MAX_BODY = 64 * 1024;

const STATUS: Partial<Record<ErrorCode, number>> = {
  AGENT_UNAUTHORISED: 401,
  AGENT_BUSY: 429,
  AGENT_FULL: 503,
};

/** Refuses to serve without a credential anywhere but on loopback. */
export function checkListen(address: string, o: { token?: string; tls?: AgentTlsFiles }): void {
  if (o.token !== undefined || o.tls?.clientCa !== undefined) return;
  if (isLoopbackAddress(address)) return;
  throw new SrError('AGENT_NO_CREDENTIAL', `refusing to serve the access-router agent on ${address} without a credential: anyone who reaches it could steer clients' traffic`);
}

export async function startAgentServer(o: AgentServerOptions): Promise<AgentServer> {
  checkListen(o.address, o);
  const loopbackOnly = o.token === undefined && o.tls?.clientCa === undefined;
  const rejected = new Map<string, number>();
  const lastLog = new Map<string, { at: number; suppressed: number }>();
  const refuse = (code: string, message: string, req: http.IncomingMessage): void => {
    rejected.set(code, (rejected.get(code) ?? 0) + 1);
    const now = Date.now();
    const last = lastLog.get(code);
    if (last && now - last.at < 1000) {
      last.suppressed++;
      return;
    }
    o.log.warn({ code, from: req.socket.remoteAddress, method: req.method, path: req.url, suppressed: last?.suppressed ?? 0 }, `agent request refused: ${message}`);
    lastLog.set(code, { at: now, suppressed: 0 });
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const send = (status: number, body: unknown): void => sendJson(res, status, body);
    const fail = (e: unknown): void => {
      const r = errorReply(e, STATUS);
      if (r.refused) refuse(r.body.code, r.body.error, req);
      else o.log.error({ err: e instanceof Error ? e.stack : String(e), path: req.url }, 'agent request failed');
      send(r.status, r.body);
    };
    if (req.headers.origin !== undefined) return fail(new SrError('AGENT_UNAUTHORISED', 'requests from a browser (with an Origin header) are refused'));
    if (loopbackOnly && !hostAllowed(req.headers.host)) return fail(new SrError('AGENT_UNAUTHORISED', `foreign Host header "${req.headers.host ?? ''}" on a loopback agent`));
    const found = findRoute(o.routes, req.method, req.url);
    const open = 'route' in found && found.route.access === 'open';
    if (o.token !== undefined && !open && !bearerMatches(req.headers.authorization, o.token)) return fail(new SrError('AGENT_UNAUTHORISED', 'a bearer token is required (missing or wrong)'));
    if (!('route' in found)) {
      rejected.set('NO_ROUTE', (rejected.get('NO_ROUTE') ?? 0) + 1);
      send(found.status, { error: found.status === 405 ? 'method not allowed' : 'no such route', routes: o.routes.map((r) => `${r.method} ${r.path}`) });
      return;
    }
    const { route } = found;
    if (route.method === 'POST' && !isJsonContentType(req.headers['content-type'])) {
      return fail(new SrError('BAD_ARGUMENT', 'a POST must be application/json'));
    }
    (route.method === 'POST' ? readJsonBody(req, MAX_BODY, () => new SrError('BAD_ARGUMENT', `the request body is larger than ${MAX_BODY} bytes`), (m) => new SrError('BAD_ARGUMENT', m)) : Promise.resolve({}))
      .then((body) => route.handle(body))
      .then((body) => (route.contentType !== undefined ? sendJson(res, 200, body, { contentType: route.contentType }) : send(200, body)), fail);
  };

  const server = o.tls
    ? https.createServer({
        cert: o.tls.cert,
        key: o.tls.key,
        handshakeTimeout: 10_000,
        ...(o.tls.clientCa ? { ca: o.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
      }, handler)
    : http.createServer(handler);
  server.maxConnections = o.maxConnections;
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.on('tlsClientError', (e: Error, socket) => {
    rejected.set('TLS_HANDSHAKE', (rejected.get('TLS_HANDSHAKE') ?? 0) + 1);
    o.log.debug({ err: e.message, from: socket.remoteAddress }, 'TLS handshake refused');
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  server.on('drop', (d?: { remoteAddress?: string }) => {
    rejected.set('CONNECTION_LIMIT', (rejected.get('CONNECTION_LIMIT') ?? 0) + 1);
    const now = Date.now();
    const last = lastLog.get('CONNECTION_LIMIT');
    if (last && now - last.at < 1000) last.suppressed++;
    else {
      o.log.warn({ code: 'CONNECTION_LIMIT', from: d?.remoteAddress, max: o.maxConnections, suppressed: last?.suppressed ?? 0 }, 'agent connection dropped: --max-connections reached');
      lastLog.set('CONNECTION_LIMIT', { at: now, suppressed: 0 });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => {
      if (errnoCode(e) === 'EADDRINUSE') reject(new SrError('PORT_BUSY', `agent port [${o.address}]:${o.port} is in use`, { hint: 'change --listen' }));
      else if (errnoCode(e) === 'EADDRNOTAVAIL') reject(new SrError('BAD_ARGUMENT', `--listen [${o.address}]:${o.port}: no such local address`));
      else reject(e);
    });
    server.listen({ host: o.address, port: o.port }, () => resolve());
  });
  if (!loopbackOnly && o.tls === undefined && !isLoopbackAddress(o.address)) {
    o.log.warn({ listen: o.address }, 'the agent token crosses the network in clear text: give --tls-cert and --tls-key');
  }
  const port = (server.address() as { port: number }).port;
  return {
    port,
    tls: o.tls !== undefined,
    rejected,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
