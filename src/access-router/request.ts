/**
 * The controller's side of the wire: one JSON request to an agent over HTTP or HTTPS (a CA file to
 * verify the agent, optionally a client certificate for mutual TLS), with its bearer token. The
 * agent's refusals come back as SrErrors with the agent's code.
 */
import http from 'node:http';
import https from 'node:https';
import { ERROR_CODES, SrError, type ErrorCode } from '../core/errors.js';

export interface AgentTlsClient {
  /** the CA that signed the agent's certificate (PEM) */
  ca: Buffer;
  /** the controller's certificate and key, for an agent that requires client certificates */
  cert?: Buffer;
  key?: Buffer;
  /** the name to check the agent's certificate against (default: the address in the endpoint) */
  serverName?: string;
}

export interface AgentEndpoint {
  /** ADDR:PORT or [ADDR]:PORT */
  endpoint: string;
  token?: string;
  tls?: AgentTlsClient;
  timeoutMs?: number;
}

const MAX_RESPONSE = 64 << 20;

/** `[fc00:9::1]:7780` / `fc00:9::1:7780`-free forms: `[ADDR]:PORT`, `IPv4:PORT`, `name:PORT`. */
export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(endpoint.trim()) ?? /^([^:[\]]+):(\d+)$/.exec(endpoint.trim());
  const port = Number(m?.[2]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SrError('CONFIG_INVALID', `bad agent endpoint "${endpoint}"`, { hint: 'write [ADDR]:PORT, e.g. [fc00:9::1]:7780' });
  }
  return { host: m[1]!, port };
}

export function agentRequest(ep: AgentEndpoint, path: string, body?: unknown): Promise<unknown> {
  const { host, port } = splitEndpoint(ep.endpoint);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = {};
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  if (ep.token !== undefined) headers['authorization'] = `Bearer ${ep.token}`;
  const where = `${ep.tls ? 'https' : 'http'}://${ep.endpoint}${path}`;
  const options: https.RequestOptions = {
    host,
    port,
    path,
    method: payload ? 'POST' : 'GET',
    headers,
    timeout: ep.timeoutMs ?? 5000,
    ...(ep.tls
      ? {
          ca: ep.tls.ca,
          ...(ep.tls.cert ? { cert: ep.tls.cert } : {}),
          ...(ep.tls.key ? { key: ep.tls.key } : {}),
          ...(ep.tls.serverName ? { servername: ep.tls.serverName } : {}),
        }
      : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (ep.tls ? https : http).request(options, (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_RESPONSE) req.destroy(new Error(`answer larger than ${MAX_RESPONSE} bytes`));
        else parts.push(d);
      });
      res.on('error', (e) => reject(new SrError('AGENT_UNREACHABLE', `${where}: ${e.message}`, { cause: e })));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json: { error?: string; code?: string; hint?: string } | undefined;
        try {
          json = JSON.parse(text) as typeof json;
        } catch {
          json = undefined;
        }
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300 && json !== undefined) return resolve(json);
        const code = json?.code;
        if (code && code in ERROR_CODES && code !== 'INTERNAL') {
          return reject(new SrError(code as ErrorCode, `agent ${ep.endpoint}: ${json?.error ?? `HTTP ${status}`}`, json?.hint ? { hint: json.hint } : undefined));
        }
        reject(new SrError('AGENT_UNREACHABLE', `${where}: HTTP ${status}: ${json?.error ?? text.slice(0, 200)}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ep.timeoutMs ?? 5000} ms`)));
    req.on('error', (e) => reject(new SrError('AGENT_UNREACHABLE', `${where}: ${e.message}`, { cause: e })));
    req.end(payload);
  });
}
