/**
 * The loopback admin endpoint: a small HTTP API over the running proxy. Routes are a table;
 * `srv6pipes flows|stats|ctl` are its clients, Prometheus scrapes /metrics.
 */
import http from 'node:http';
import { ERROR_CODES, errnoCode, isSrError, SrError, type ErrorCode } from '../errors.js';

export interface AdminReply {
  body: unknown;
  /** default application/json */
  contentType?: string;
  status?: number;
}

export interface AdminRoute {
  method: 'GET' | 'POST';
  path: string;
  summary: string;
  handle(body: unknown): Promise<AdminReply>;
}

const MAX_BODY = 1 << 20;

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) req.destroy(new Error('body too large'));
      else parts.push(d);
    });
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      try {
        resolve(text ? JSON.parse(text) : {});
      } catch {
        reject(new SrError('BAD_ARGUMENT', 'the request body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

export async function startAdmin(address: string, port: number, routes: AdminRoute[], options: { token?: string } = {}): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const send = (status: number, body: unknown, contentType = 'application/json'): void => {
      res.writeHead(status, { 'content-type': contentType });
      res.end(typeof body === 'string' ? body : `${JSON.stringify(body, null, 1)}\n`);
    };
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      send(401, { error: 'a bearer token is required', code: 'BAD_ARGUMENT' });
      return;
    }
    const route = routes.find((r) => r.path === url.pathname && r.method === req.method);
    if (!route) {
      const known = routes.map((r) => ({ method: r.method, path: r.path, summary: r.summary }));
      send(routes.some((r) => r.path === url.pathname) ? 405 : 404, { error: 'no such route', routes: known });
      return;
    }
    (route.method === 'POST' ? readBody(req) : Promise.resolve({}))
      .then((body) => route.handle(body))
      .then(
        (r) => send(r.status ?? 200, r.body, r.contentType),
        (e: unknown) => {
          if (isSrError(e) && e.kind !== 'bug') send(400, { error: e.message, code: e.code, hint: e.hint });
          else send(500, { error: e instanceof Error ? e.message : String(e), code: 'INTERNAL' });
        },
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => {
      if (errnoCode(e) === 'EADDRINUSE') {
        reject(new SrError('PORT_BUSY', `admin port ${address}:${port} is in use`, { hint: 'change `admin.port` or set `admin: off`' }));
      } else reject(e);
    });
    server.listen({ host: address, port }, () => resolve());
  });
  return server;
}

function adminUrl(admin: string, path: string): string {
  const host = admin.split(':').length > 2 && !admin.startsWith('[') ? `[${admin.replace(/:(\d+)$/, ']:$1')}` : admin;
  return `http://${host}${path}`;
}

/** Client side: a request to a running proxy's admin endpoint; its errors come back as SrErrors. */
export async function adminRequest(admin: string, path: string, body?: unknown, options: { token?: string; timeoutMs?: number } = {}): Promise<unknown> {
  const url = adminUrl(admin, path);
  let res: Response;
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  try {
    res = await fetch(url, {
      method: body === undefined ? 'GET' : 'POST',
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
    });
  } catch (e) {
    throw new SrError('ADMIN_UNREACHABLE', `nothing answers at ${admin}`, { cause: e });
  }
  const text = await res.text();
  const json = (() => {
    try {
      return JSON.parse(text) as { error?: string; code?: string; hint?: string };
    } catch {
      return undefined;
    }
  })();
  if (!res.ok) {
    if (typeof json?.code === 'string' && Object.hasOwn(ERROR_CODES, json.code) && json.code !== 'INTERNAL') throw new SrError(json.code as ErrorCode, json.error ?? `HTTP ${res.status}`, json.hint ? { hint: json.hint } : undefined);
    throw new SrError('ADMIN_UNREACHABLE', `${url}: HTTP ${res.status}: ${json?.error ?? text.slice(0, 200)}`);
  }
  return json ?? text;
}

/** GET shorthand. */
export function adminGet(admin: string, path: string): Promise<unknown> {
  return adminRequest(admin, path);
}
