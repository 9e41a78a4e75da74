/**
 * The loopback admin endpoint: a tiny HTTP/JSON API over the running proxy.
 * Routes are a table; `srv6pipes flows` and `srv6pipes stats` are its clients.
 */
import http from 'node:http';
import { errnoCode, SrError } from '../errors.js';

export interface AdminRoute {
  path: string;
  summary: string;
  handle(): Promise<unknown>;
}

export async function startAdmin(address: string, port: number, routes: AdminRoute[]): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const route = routes.find((r) => r.path === url.pathname);
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body, null, 1)}\n`);
    };
    if (req.method !== 'GET') return reply(405, { error: 'GET only' });
    if (!route) return reply(404, { error: 'no such route', routes: routes.map((r) => ({ path: r.path, summary: r.summary })) });
    route.handle().then(
      (body) => reply(200, body),
      (e: unknown) => reply(500, { error: e instanceof Error ? e.message : String(e) }),
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

/** Client side: GET a route of a running proxy's admin endpoint. */
export async function adminGet(admin: string, path: string): Promise<unknown> {
  const url = `http://${admin.includes(':') && !admin.startsWith('[') && admin.split(':').length > 2 ? `[${admin}]` : admin}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (e) {
    throw new SrError('ADMIN_UNREACHABLE', `no proxy answers at ${admin}`, { cause: e });
  }
  if (!res.ok) throw new SrError('ADMIN_UNREACHABLE', `${url}: HTTP ${res.status}`);
  return res.json();
}
