/**
 * A read-only HTTP listener for Prometheus (the controller's `metrics` section): `GET /metrics` (the
 * text exposition) and `GET /health`, nothing else. No credential — it changes nothing and tells only
 * counts — but the checks every srv6pipes HTTP endpoint makes (sys/http-guard.ts): the Host header must
 * name this endpoint (DNS rebinding), and a request from a browser page (a foreign Origin) is refused.
 */
import http from 'node:http';
import { errnoCode, SrError } from '../core/errors.js';
import { hostAllowed, originAllowed } from './http-guard.js';
import { sendJson } from './http-json.js';

export interface MetricsListen {
  address: string;
  port: number;
  /** Host names accepted besides loopback names and the listener's own address */
  hosts: readonly string[];
}

export interface MetricsSource {
  metrics(): Promise<string>;
  contentType: string;
}

/** Starts the listener; PORT_BUSY (with `what` in the hint) when the port is taken. */
export async function serveMetrics(listen: MetricsListen, source: MetricsSource, what: string, onRefused?: (r: { status: number; path: string; why: string }) => void): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const refuse = (status: number, why: string): void => {
      onRefused?.({ status, path: (req.url ?? '').slice(0, 200), why });
      sendJson(res, status, { error: why });
    };
    if (!hostAllowed(req.headers.host, [listen.address, req.socket.localAddress], listen.hosts)) return refuse(403, 'foreign Host header');
    if (req.headers.origin !== undefined && !originAllowed(req.headers.origin, [listen.address, req.socket.localAddress], listen.hosts)) return refuse(403, 'foreign Origin');
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(405, 'read-only: GET /metrics or /health');
    if (path === '/health') return sendJson(res, 200, { ok: true });
    if (path !== '/metrics') return refuse(404, 'no such route: GET /metrics or /health');
    source.metrics().then(
      (text) => sendJson(res, 200, text, { contentType: source.contentType }),
      (e: unknown) => sendJson(res, 500, { error: e instanceof Error ? e.message : String(e) }),
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => {
      if (errnoCode(e) === 'EADDRINUSE') reject(new SrError('PORT_BUSY', `metrics port [${listen.address}]:${listen.port} is in use`, { hint: `change \`${what}\`` }));
      else if (errnoCode(e) === 'EADDRNOTAVAIL') reject(new SrError('BAD_ARGUMENT', `metrics listener [${listen.address}]:${listen.port}: no such local address`, { hint: `set \`${what}\` to an address of this host` }));
      else reject(e);
    });
    server.listen({ host: listen.address, port: listen.port }, () => resolve());
  });
  return server;
}
