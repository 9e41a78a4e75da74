/**
 * JSON over HTTP, both sides, for the small control surfaces (the proxy's admin endpoint, the
 * access-router agent). Client: an endpoint parser and one bounded request — HTTP, HTTPS (CA, client
 * certificate, server name) or a Unix socket; a bearer token; one deadline for the whole request; a
 * bound on the answer; failures as SrErrors with the caller's codes, and a refusal the server
 * answered with a known code comes back as that code. Server: sending a JSON (or text) reply, a
 * refusal with its own status, an error turned into status + body, and the route lookup. What a
 * server checks before it trusts a request (token, Host, Origin, content type) is http-guard.ts.
 */
import http from 'node:http';
import https from 'node:https';
import { ERROR_CODES, errnoCode, isSrError, SrError, type ErrorCode } from '../core/errors.js';

// ---------------------------------------------------------------- endpoints

export interface EndpointGrammar {
  /** what the endpoint is, for messages ("admin", "agent") */
  what: string;
  /** the code of a malformed endpoint */
  code: ErrorCode;
  hint: string;
  /** the port when none is written; given, also `HOST`, `[ADDR]`, and an unbracketed `ADDR:PORT` (last `:digits`) */
  defaultPort?: number;
}

/** `[ADDR]:PORT`, `IPv4:PORT`, `name:PORT` (with a default port also `HOST`, `[ADDR]`, `ADDR:PORT`) → host and port. */
export function parseEndpoint(endpoint: string, g: EndpointGrammar): { host: string; port: number } {
  const s = endpoint.trim();
  const m = g.defaultPort === undefined
    ? (/^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s))
    : (/^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(s) ?? /^([^[\]]*):(\d+)$/.exec(s));
  if (!m || m[1] === '') throw new SrError(g.code, `bad ${g.what} endpoint "${endpoint}"`, { hint: g.hint });
  const port = m[2] === undefined ? g.defaultPort! : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SrError(g.code, `bad port in ${g.what} endpoint "${endpoint}"`, { hint: g.hint });
  return { host: m[1]!, port };
}

// ---------------------------------------------------------------- client

/** TLS for an HTTPS endpoint: the CA that signed the server, optionally a client certificate. */
export interface JsonTls {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** the name to check the server's certificate against (default: the endpoint's host) */
  serverName?: string;
}

/** Where a request goes: `ADDR:PORT` (parsed with `grammar`), or a Unix socket. */
export type JsonTarget = string | { socket: string };

export interface JsonRequestOptions {
  grammar: EndpointGrammar;
  /** the code of a failure to get an answer (refused, timed out, too large, TLS, a non-JSON error) */
  unreachable: ErrorCode;
  /** the code when a Unix socket's permissions refuse us (default: `unreachable`) */
  noPermission?: ErrorCode;
  token?: string;
  /** HTTPS with this trust (TCP endpoints only) */
  tls?: JsonTls;
  /** the whole request, connect to last byte (ms) */
  timeoutMs: number;
  /** the largest answer read (bytes) */
  maxResponseBytes: number;
  /** a 2xx answer that is not JSON is returned as text (default: it fails with `unreachable`) */
  allowText?: boolean;
  /** put before the message of a refusal the server explained with a known code */
  refusalPrefix?: string;
}

/** the default bound on an answer */
export const MAX_RESPONSE = 64 << 20;

const describe = (t: JsonTarget, tls: boolean, path: string): string => (typeof t === 'string' ? `${tls ? 'https' : 'http'}://${t}${path}` : `${t.socket} ${path}`);

/** One JSON request: GET without a body, POST with one. Resolves with the answer (JSON, or text if allowed). */
export async function jsonRequest(target: JsonTarget, path: string, body: unknown, o: JsonRequestOptions): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json, text/plain' };
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  if (o.token !== undefined) headers['authorization'] = `Bearer ${o.token}`;
  const tls = typeof target === 'string' ? o.tls : undefined;
  const where = describe(target, tls !== undefined, path);
  const at: https.RequestOptions = typeof target === 'string' ? parseEndpoint(target, o.grammar) : { socketPath: target.socket };
  if (typeof target !== 'string') headers['host'] = 'localhost';
  const options: https.RequestOptions = {
    ...at,
    path,
    method: payload ? 'POST' : 'GET',
    headers,
    // a fresh connection per request: no reuse of a socket the server is closing
    agent: false,
    ...(tls ? { ca: tls.ca, ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}), ...(tls.serverName ? { servername: tls.serverName } : {}) } : {}),
  };
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const failed = (e: Error): SrError =>
      typeof target !== 'string' && errnoCode(e) === 'EACCES' && o.noPermission
        ? new SrError(o.noPermission, `no permission to connect to ${target.socket}`, { cause: e })
        : new SrError(o.unreachable, `${where}: ${e.message}`, { cause: e });
    // the first outcome wins: an answer, a failure, the deadline, the size bound
    let done = false;
    const settle = (r: { status: number; text: string } | Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (r instanceof Error) {
        reject(failed(r));
        req.destroy();
      } else resolve(r);
    };
    const req = (tls ? https : http).request(options, (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > o.maxResponseBytes) settle(new Error(`answer larger than ${o.maxResponseBytes} bytes`));
        else parts.push(d);
      });
      res.on('end', () => settle({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', settle);
    });
    const timer = setTimeout(() => settle(new Error(`no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
    req.on('error', settle);
    req.end(payload);
  });
  let json: { error?: unknown; code?: unknown; hint?: unknown } | undefined;
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    json = undefined;
  }
  const error = typeof json?.error === 'string' ? json.error : undefined;
  if (status >= 200 && status <= 299) {
    if (json !== undefined) return json;
    if (o.allowText) return text;
    throw new SrError(o.unreachable, `${where}: HTTP ${status}: the answer is not JSON: ${text.slice(0, 200)}`);
  }
  const code = json?.code;
  if (typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) && code !== 'INTERNAL') {
    throw new SrError(code as ErrorCode, `${o.refusalPrefix ?? ''}${error ?? `HTTP ${status}`}`, typeof json?.hint === 'string' && json.hint ? { hint: json.hint } : undefined);
  }
  throw new SrError(o.unreachable, `${where}: HTTP ${status}: ${error ?? text.slice(0, 200)}`);
}

// ---------------------------------------------------------------- server

/** Writes one reply: a string as it is (with its content type), anything else as JSON; nothing once headers are sent. */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  o: { contentType?: string; headers?: Record<string, string>; indent?: number } = {},
): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': o.contentType ?? 'application/json', 'cache-control': 'no-store', ...o.headers });
  res.end(typeof body === 'string' ? body : `${JSON.stringify(body, null, o.indent)}\n`);
}

/** A refusal with its own HTTP status (and headers, e.g. WWW-Authenticate), answered with its code. */
export class HttpRefusal extends SrError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
  }
}

export interface ErrorReply {
  status: number;
  body: { error: string; code: string; hint?: string };
  headers: Record<string, string>;
  /** a user's error (a refusal, a bad argument), not a bug */
  refused: boolean;
}

/**
 * What to answer for an error: an HttpRefusal with its status; another user SrError with the
 * status `statuses` gives its code (default 400); anything else (a bug) 500 INTERNAL.
 */
export function errorReply(e: unknown, statuses: Partial<Record<ErrorCode, number>> = {}): ErrorReply {
  if (e instanceof HttpRefusal) return { status: e.status, body: { error: e.message, code: e.code, hint: e.hint }, headers: e.headers, refused: true };
  if (isSrError(e) && e.kind !== 'bug') return { status: statuses[e.code] ?? 400, body: { error: e.message, code: e.code, hint: e.hint }, headers: {}, refused: true };
  return { status: 500, body: { error: e instanceof Error ? e.message : String(e), code: 'INTERNAL' }, headers: {}, refused: false };
}

/** The route a request names, or 404 (no such path) / 405 (the path, another method). */
export function findRoute<R extends { method: string; path: string }>(routes: readonly R[], method: string | undefined, url: string | undefined): { route: R } | { status: 404 | 405 } {
  let pathname: string;
  try {
    pathname = new URL(url ?? '/', 'http://route').pathname;
  } catch {
    return { status: 404 };
  }
  const route = routes.find((r) => r.path === pathname && r.method === method);
  if (route) return { route };
  return { status: routes.some((r) => r.path === pathname) ? 405 : 404 };
}
