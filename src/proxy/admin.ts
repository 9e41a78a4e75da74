/**
 * The admin endpoint: a small HTTP API over a running daemon (the proxy; the access-router agent reuses
 * it). Routes are a table; each route is `open` (health, metrics: served to whoever reaches the
 * listener) or `private` (everything else: needs the listener's credential). A listener is TCP or a
 * Unix socket; its `anonymous` level says what a request without a token reaches (`none`, `open`
 * routes, or `all` — a Unix socket whose file permissions are the credential). A bearer token, compared
 * in constant time, reaches every route. Every request must name this endpoint in Host (DNS
 * rebinding), carry no foreign Origin (a browser page), and a POST must be `application/json` (a
 * cross-site form or `text/plain` fetch cannot be). docs/security.md has the threat model.
 * `srv6pipes flows|stats|metrics|ctl` are its clients, Prometheus scrapes /metrics.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname } from 'node:path';
import { ERROR_CODES, errnoCode, isSrError, SrError, type ErrorCode } from '../core/errors.js';
import { canonicalHost, hostOfHeader, isLoopbackHost, readJsonBody, tokenChecker } from '../sys/http-guard.js';

export { canonicalHost, hostOfHeader, isLoopbackHost, tokenChecker };

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

const WILDCARDS = new Set(['::', '0.0.0.0']);

/** Whether a Host value names this endpoint: a loopback name, the configured address, the accepting address, or a configured name. */
export function hostAllowed(value: string | undefined, own: readonly (string | undefined)[], extra: readonly string[] = []): boolean {
  if (value === undefined || value === '') return false;
  const h = canonicalHost(hostOfHeader(value));
  if (isLoopbackHost(h)) return true;
  for (const o of own) if (o !== undefined && !WILDCARDS.has(canonicalHost(o)) && canonicalHost(o) === h) return true;
  return extra.some((e) => canonicalHost(e) === h);
}

/** An Origin is foreign unless it is `http://` + an allowed host (no browser page of ours exists, so in practice: refused). */
export function originAllowed(origin: string, own: readonly (string | undefined)[], extra: readonly string[] = []): boolean {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  return u.protocol === 'http:' && hostAllowed(u.host, own, extra);
}

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

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
    const send = (status: number, body: unknown, contentType = 'application/json', headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', ...headers });
      res.end(typeof body === 'string' ? body : `${JSON.stringify(body, null, 1)}\n`);
    };
    const fail = (e: unknown): void => {
      if (e instanceof HttpRefusal) {
        access.onRefused?.({ status: e.status, code: e.code, message: e.message, method: req.method ?? '', path: (req.url ?? '').slice(0, 200) });
        send(e.status, { error: e.message, code: e.code, hint: ERROR_CODES[e.code].hint }, 'application/json', e.headers);
      }
      else if (isSrError(e) && e.kind !== 'bug') send(400, { error: e.message, code: e.code, hint: e.hint });
      else send(500, { error: e instanceof Error ? e.message : String(e), code: 'INTERNAL' });
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
      const url = new URL(req.url ?? '/', 'http://admin');
      const route = routes.find((r) => r.path === url.pathname && r.method === req.method);
      if (!route) {
        const known = routes.map((r) => ({ method: r.method, path: r.path, summary: r.summary }));
        send(routes.some((r) => r.path === url.pathname) ? 405 : 404, { error: 'no such route', routes: known });
        return;
      }
      authorize(req, route, access, check);
      if (route.method === 'POST' && !isJson(req.headers['content-type'])) {
        throw new HttpRefusal(415, 'ADMIN_REFUSED', `a POST must be application/json, not ${req.headers['content-type'] ?? 'untyped'}`);
      }
      (route.method === 'POST' ? readJsonBody(req, MAX_BODY, () => new HttpRefusal(413, 'ADMIN_REFUSED', `the request body is larger than ${MAX_BODY} bytes`), (m) => new SrError('BAD_ARGUMENT', m)) : Promise.resolve({}))
        .then((body) => route.handle(body))
        .then((r) => send(r.status ?? 200, r.body, r.contentType), fail);
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

/**
 * One TCP listener; with a token every route needs it, without one every route is open (the
 * access-router agent's historical contract: its own policy decides where a tokenless agent may listen).
 */
export function startAdmin(address: string, port: number, routes: AdminRoute[], options: { token?: string } = {}): Promise<http.Server> {
  return serveAdmin({ address, port }, routes, options.token !== undefined ? { anonymous: 'none', token: options.token } : { anonymous: 'all' });
}

/** Where a client finds an admin endpoint: `ADDR:PORT` / `[ADDR]:PORT`, or a Unix socket. */
export type AdminTarget = string | { socket: string };

function splitEndpoint(admin: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(admin) ?? /^([^:]+)(?::(\d+))?$/.exec(admin) ?? /^(.*):(\d+)$/.exec(admin);
  if (!m) throw new SrError('BAD_ARGUMENT', `bad admin endpoint "${admin}"`, { hint: 'ADDR:PORT, e.g. 127.0.0.1:7778 or [::1]:7778' });
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SrError('BAD_ARGUMENT', `bad port in admin endpoint "${admin}"`);
  return { host: m[1]!, port };
}

const describeTarget = (t: AdminTarget): string => (typeof t === 'string' ? t : t.socket);

/** Client side: a request to a running admin endpoint; its errors come back as SrErrors. */
export async function adminRequest(admin: AdminTarget, path: string, body?: unknown, options: { token?: string; timeoutMs?: number } = {}): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json, text/plain' };
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  const where: http.RequestOptions = typeof admin === 'string' ? splitEndpoint(admin) : { socketPath: admin.socket, headers: { host: 'localhost' } };
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    // agent: false — a fresh connection per request: no reuse of a socket the server is closing
    const req = http.request({ ...where, agent: false, path, method: payload ? 'POST' : 'GET', headers: { ...headers, ...(where.headers as Record<string, string> | undefined) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer in ${options.timeoutMs ?? 60_000} ms`)), options.timeoutMs ?? 60_000);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (e) => {
      if (typeof admin !== 'string' && errnoCode(e) === 'EACCES') reject(new SrError('ADMIN_UNAUTHORIZED', `no permission to connect to ${admin.socket}`, { cause: e }));
      else reject(new SrError('ADMIN_UNREACHABLE', `nothing answers at ${describeTarget(admin)}: ${(e as Error).message}`, { cause: e }));
    });
    req.end(payload);
  });
  const json = (() => {
    try {
      return JSON.parse(text) as { error?: string; code?: string; hint?: string };
    } catch {
      return undefined;
    }
  })();
  if (status < 200 || status > 299) {
    if (typeof json?.code === 'string' && Object.hasOwn(ERROR_CODES, json.code) && json.code !== 'INTERNAL') throw new SrError(json.code as ErrorCode, json.error ?? `HTTP ${status}`, json.hint ? { hint: json.hint } : undefined);
    throw new SrError('ADMIN_UNREACHABLE', `${describeTarget(admin)}${path}: HTTP ${status}: ${json?.error ?? text.slice(0, 200)}`);
  }
  return json ?? text;
}

/** GET shorthand. */
export function adminGet(admin: AdminTarget, path: string, options: { token?: string; timeoutMs?: number } = {}): Promise<unknown> {
  return adminRequest(admin, path, undefined, options);
}
