/**
 * The admin endpoint: a small HTTP API over a running daemon (the proxy; the access-router agent reuses
 * it). Routes are a table; each route is `open` (health, metrics: served to whoever reaches the
 * listener) or `private` (everything else: needs the listener's credential). A listener is TCP or a
 * Unix socket; its `anonymous` level says what a request without a token reaches (`none`, `open`
 * routes, or `all` — a Unix socket whose file permissions are the credential). A bearer token, compared
 * in constant time, reaches every route. Every request must name this endpoint in Host (DNS
 * rebinding), carry no foreign Origin (a browser page), and a POST must be `application/json` (a
 * cross-site form or `text/plain` fetch cannot be). docs/security.md has the threat model.
 * `srv6pipes flows|stats|metrics|ctl` are its clients (`adminRequest`), Prometheus scrapes /metrics.
 * The HTTP plumbing (the checks, replies, errors, the client) is sys/http-guard.ts and sys/http-json.ts.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname } from 'node:path';
import { errnoCode, isSrError, SrError, type ErrorCode } from '../core/errors.js';
import { hostAllowed, isJsonContentType, originAllowed, readJsonBody, tokenChecker } from '../sys/http-guard.js';
import { errorReply, findRoute, HttpRefusal, jsonRequest, MAX_RESPONSE, sendJson, type EndpointGrammar, type JsonTarget } from '../sys/http-json.js';

export interface AdminReply {
  body: unknown;
  /** default application/json */
  contentType?: string;
  status?: number;
}

/** `open`: anyone who reaches the listener; `private`: only with the listener's credential. */
export type RouteAccess = 'open' | 'private';

export interface AdminRoute {
  method: 'GET' | 'POST';
  path: string;
  summary: string;
  /** default `private` */
  access?: RouteAccess;
  handle(body: unknown): Promise<AdminReply>;
}

/** Where a listener listens: a TCP address and port, or a Unix socket created with `mode`. */
export type AdminListen = { address: string; port: number } | { socket: string; mode: number };

export interface AdminAccess {
  /** what a request without the token reaches: nothing, the open routes, or every route */
  anonymous: 'none' | 'open' | 'all';
  /** a bearer token that reaches every route */
  token?: string;
  /** Host names accepted besides loopback names and the listener's own address */
  hosts?: readonly string[];
  /** told of every refused request (credential, Host, Origin, content type, size) */
  onRefused?(refusal: { status: number; code: ErrorCode; message: string; method: string; path: string }): void;
}

/** the largest request body (bytes) */
export const MAX_BODY = 1 << 20;

/** What a request may reach, or why not; throws HttpRefusal. */
function authorize(req: http.IncomingMessage, route: AdminRoute, access: AdminAccess, check: ((t: string | undefined) => boolean) | undefined): void {
  const auth = req.headers.authorization;
  const bearer = auth !== undefined && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
  if (check && auth !== undefined) {
    if (check(bearer)) return;
    throw new HttpRefusal(401, 'ADMIN_UNAUTHORIZED', 'a bearer token is required, and the one given is wrong', { 'www-authenticate': 'Bearer' });
  }
  const need = route.access ?? 'private';
  if (access.anonymous === 'all' || (access.anonymous === 'open' && need === 'open')) return;
  if (check) throw new HttpRefusal(401, 'ADMIN_UNAUTHORIZED', `a bearer token is required for ${route.method} ${route.path} (admin.tokenFile)`, { 'www-authenticate': 'Bearer' });
  throw new HttpRefusal(403, 'ADMIN_UNAUTHORIZED', `${route.method} ${route.path} is not served on this listener: it serves only health and metrics without a credential`);
}

function handler(routes: AdminRoute[], access: AdminAccess, configured: string | undefined): http.RequestListener {
  const check = access.token !== undefined ? tokenChecker(access.token) : undefined;
  const extra = access.hosts ?? [];
  return (req, res) => {
    const fail = (e: unknown): void => {
      const r = errorReply(e);
      if (e instanceof HttpRefusal) access.onRefused?.({ status: e.status, code: e.code, message: e.message, method: req.method ?? '', path: (req.url ?? '').slice(0, 200) });
      sendJson(res, r.status, r.body, { headers: r.headers, indent: 1 });
    };
    try {
      const own = [configured, req.socket.localAddress];
      if (!hostAllowed(req.headers.host, own, extra)) {
        throw new HttpRefusal(403, 'ADMIN_REFUSED', `Host "${req.headers.host ?? ''}" is not this endpoint (add the name to admin.hosts if it is)`);
      }
      const origin = req.headers.origin;
      if (origin !== undefined && !originAllowed(origin, own, extra)) throw new HttpRefusal(403, 'ADMIN_REFUSED', `requests from a web page (Origin ${origin}) are refused`);
      const site = req.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpRefusal(403, 'ADMIN_REFUSED', `cross-site requests (Sec-Fetch-Site: ${site}) are refused`);
      const found = findRoute(routes, req.method, req.url);
      if (!('route' in found)) {
        const known = routes.map((r) => ({ method: r.method, path: r.path, summary: r.summary }));
        sendJson(res, found.status, { error: 'no such route', routes: known }, { indent: 1 });
        return;
      }
      const { route } = found;
      authorize(req, route, access, check);
      if (route.method === 'POST' && !isJsonContentType(req.headers['content-type'])) {
        throw new HttpRefusal(415, 'ADMIN_REFUSED', `a POST must be application/json, not ${req.headers['content-type'] ?? 'untyped'}`);
      }
      (route.method === 'POST' ? readJsonBody(req, MAX_BODY, () => new HttpRefusal(413, 'ADMIN_REFUSED', `the request body is larger than ${MAX_BODY} bytes`), (m) => new SrError('BAD_ARGUMENT', m)) : Promise.resolve({}))
        .then((body) => route.handle(body))
        .then((r) => sendJson(res, r.status ?? 200, r.body, { indent: 1, ...(r.contentType !== undefined ? { contentType: r.contentType } : {}) }), fail);
    } catch (e) {
      fail(e);
    }
  };
}

/** Resolves when something accepts connections on the Unix socket. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Binds a Unix socket with its mode from the first moment (umask), removing a stale socket a crash left. */
async function listenSocket(server: http.Server, path: string, mode: number): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let stale = false;
  try {
    stale = lstatSync(path).isSocket();
    if (!stale) throw new SrError('CONFIG_INVALID', `admin.socket: ${path} exists and is not a socket`);
  } catch (e) {
    if (isSrError(e) || errnoCode(e) !== 'ENOENT') throw e;
  }
  if (stale) {
    if (await socketAnswers(path)) throw new SrError('PORT_BUSY', `admin socket ${path} is in use`, { hint: 'another proxy serves it: stop it or change `admin.socket`' });
    unlinkSync(path);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // the bind is synchronous: no moment exists in which the socket has looser permissions than `mode`
    const old = process.umask(0o777 & ~mode);
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(old);
    }
  });
  chmodSync(path, mode);
}

/** Starts one listener serving `routes` with `access`. */
export async function serveAdmin(listen: AdminListen, routes: AdminRoute[], access: AdminAccess): Promise<http.Server> {
  const configured = 'address' in listen ? listen.address : undefined;
  const server = http.createServer(handler(routes, access, configured));
  if ('socket' in listen) {
    await listenSocket(server, listen.socket, listen.mode);
    return server;
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => {
      if (errnoCode(e) === 'EADDRINUSE') {
        reject(new SrError('PORT_BUSY', `admin port ${listen.address}:${listen.port} is in use`, { hint: 'change `admin.port` or set `admin: off`' }));
      } else reject(e);
    });
    server.listen({ host: listen.address, port: listen.port }, () => resolve());
  });
  return server;
}

/** Where a client finds an admin endpoint: `ADDR:PORT` / `[ADDR]:PORT` (port 80 if none), or a Unix socket. */
export type AdminTarget = JsonTarget;

/** How an admin endpoint is written (`--admin`, `admin.address`): port optional. */
export const ADMIN_ENDPOINT: EndpointGrammar = { what: 'admin', code: 'BAD_ARGUMENT', hint: 'ADDR:PORT, e.g. 127.0.0.1:7778 or [::1]:7778', defaultPort: 80 };

/** Client side: a request to a running admin endpoint; its errors come back as SrErrors (ADMIN_UNREACHABLE, ADMIN_UNAUTHORIZED for a socket we may not open, or the endpoint's own code). */
export function adminRequest(admin: AdminTarget, path: string, body?: unknown, options: { token?: string; timeoutMs?: number } = {}): Promise<unknown> {
  return jsonRequest(admin, path, body, {
    grammar: ADMIN_ENDPOINT,
    unreachable: 'ADMIN_UNREACHABLE',
    noPermission: 'ADMIN_UNAUTHORIZED',
    timeoutMs: options.timeoutMs ?? 60_000,
    maxResponseBytes: MAX_RESPONSE,
    allowText: true,
    ...(options.token !== undefined ? { token: options.token } : {}),
  });
}
