import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HAS_OPENSSL, makeTestPki } from '../../test/helpers/tls.js';
import { isSrError, SrError, type ErrorCode } from '../core/errors.js';
import { errorReply, findRoute, HttpRefusal, jsonRequest, parseEndpoint, sendJson, type EndpointGrammar, type JsonRequestOptions } from './http-json.js';

const code = (c: ErrorCode, re?: RegExp) => (e: unknown) => isSrError(e, c) && (re === undefined || re.test(e.message));
const STRICT: EndpointGrammar = { what: 'agent', code: 'CONFIG_INVALID', hint: '[ADDR]:PORT' };
const LOOSE: EndpointGrammar = { what: 'admin', code: 'BAD_ARGUMENT', hint: 'ADDR:PORT', defaultPort: 80 };
const OPTS: JsonRequestOptions = { grammar: STRICT, unreachable: 'AGENT_UNREACHABLE', timeoutMs: 5000, maxResponseBytes: 1 << 20 };

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A server on loopback whose handler sees each request with its body read; `[::1]:PORT`. */
async function serve(handle: (seen: Seen, res: http.ServerResponse) => void, tls?: https.ServerOptions): Promise<{ endpoint: string; seen: Seen[]; server: http.Server }> {
  const seen: Seen[] = [];
  const listener: http.RequestListener = (req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      handle(s, res);
    });
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen({ host: '::1', port: 0 }, resolve));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { endpoint: `[::1]:${(server.address() as AddressInfo).port}`, seen, server };
}

const reply = (status: number, body: string, type = 'application/json') => (_: Seen, res: http.ServerResponse) => {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
};

describe('parseEndpoint', () => {
  test('the strict form: [ADDR]:PORT, IPv4:PORT, name:PORT; anything else is the grammar’s code', () => {
    assert.deepEqual(parseEndpoint('[fc00:9::1]:7780', STRICT), { host: 'fc00:9::1', port: 7780 });
    assert.deepEqual(parseEndpoint(' 10.0.0.1:80 ', STRICT), { host: '10.0.0.1', port: 80 });
    assert.deepEqual(parseEndpoint('ar.example:443', STRICT), { host: 'ar.example', port: 443 });
    for (const bad of ['fc00:9::1:7780', '[fc00:9::1]', 'host', '[::1]:0', '[::1]:65536', '[::1]:x', '', ':80']) {
      assert.throws(() => parseEndpoint(bad, STRICT), (e: unknown) => isSrError(e, 'CONFIG_INVALID') && e.hint === '[ADDR]:PORT', bad);
    }
  });

  test('with a default port: the port is optional, and an unbracketed IPv6 address takes its last :digits as the port', () => {
    assert.deepEqual(parseEndpoint('127.0.0.1:7778', LOOSE), { host: '127.0.0.1', port: 7778 });
    assert.deepEqual(parseEndpoint('[::1]:7778', LOOSE), { host: '::1', port: 7778 });
    assert.deepEqual(parseEndpoint('[::1]', LOOSE), { host: '::1', port: 80 });
    assert.deepEqual(parseEndpoint('localhost', LOOSE), { host: 'localhost', port: 80 });
    assert.deepEqual(parseEndpoint('fc00::1:7778', LOOSE), { host: 'fc00::1', port: 7778 });
    for (const bad of ['[::1]:0', 'host:99999', '[::1', ':80', '']) assert.throws(() => parseEndpoint(bad, LOOSE), code('BAD_ARGUMENT'), bad);
  });
});

describe('jsonRequest over HTTP', () => {
  test('GET without a body, POST with a JSON body and the bearer token; the JSON answer comes back', async () => {
    const s = await serve((seen, res) => reply(200, JSON.stringify({ echo: seen.body || null }))(seen, res));
    assert.deepEqual(await jsonRequest(s.endpoint, '/x', undefined, OPTS), { echo: null });
    assert.deepEqual(await jsonRequest(s.endpoint, '/y', { a: 1 }, { ...OPTS, token: 'tok' }), { echo: '{"a":1}' });
    assert.equal(s.seen[0]!.method, 'GET');
    assert.equal(s.seen[0]!.headers.authorization, undefined);
    assert.equal(s.seen[1]!.method, 'POST');
    assert.equal(s.seen[1]!.url, '/y');
    assert.equal(s.seen[1]!.headers['content-type'], 'application/json');
    assert.equal(s.seen[1]!.headers.authorization, 'Bearer tok');
  });

  test('a text answer: returned when allowed, otherwise the unreachable code', async () => {
    const s = await serve(reply(200, 'metric 1\n', 'text/plain'));
    assert.equal(await jsonRequest(s.endpoint, '/metrics', undefined, { ...OPTS, allowText: true }), 'metric 1\n');
    await assert.rejects(jsonRequest(s.endpoint, '/metrics', undefined, OPTS), code('AGENT_UNREACHABLE', /not JSON/));
  });

  test('a refusal with a known code comes back as that code, message prefixed, hint kept; INTERNAL or unknown codes are unreachable', async () => {
    const s = await serve((seen, res) => {
      const body = seen.url === '/known' ? { error: 'full', code: 'AGENT_FULL', hint: 'raise it' } : seen.url === '/internal' ? { error: 'boom', code: 'INTERNAL' } : { error: 'odd', code: 'NO_SUCH_CODE' };
      reply(seen.url === '/known' ? 503 : 500, JSON.stringify(body))(seen, res);
    });
    await assert.rejects(jsonRequest(s.endpoint, '/known', undefined, { ...OPTS, refusalPrefix: 'agent X: ' }), (e: unknown) => isSrError(e, 'AGENT_FULL') && e.message === 'agent X: full' && e.hint === 'raise it');
    await assert.rejects(jsonRequest(s.endpoint, '/internal', undefined, OPTS), code('AGENT_UNREACHABLE', /HTTP 500: boom/));
    await assert.rejects(jsonRequest(s.endpoint, '/odd', undefined, OPTS), code('AGENT_UNREACHABLE', /HTTP 500: odd/));
  });

  test('nothing listening, or a malformed endpoint: typed errors', async () => {
    const s = await serve(reply(200, '{}'));
    const endpoint = s.endpoint;
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
    await assert.rejects(jsonRequest(endpoint, '/x', undefined, OPTS), code('AGENT_UNREACHABLE', /ECONNREFUSED/));
    await assert.rejects(jsonRequest('nonsense', '/x', undefined, OPTS), code('CONFIG_INVALID'));
  });

  test('the deadline covers the whole request: an answer that trickles forever is cut at timeoutMs', async () => {
    const timers: NodeJS.Timeout[] = [];
    after(() => timers.forEach(clearInterval));
    const s = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      // a byte every 20 ms: never idle for long, never done
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 20);
      timers.push(t);
    });
    await assert.rejects(jsonRequest(s.endpoint, '/slow', undefined, { ...OPTS, timeoutMs: 300 }), code('AGENT_UNREACHABLE', /no answer within 300 ms/));
  });

  test('an answer larger than maxResponseBytes is cut off: the unreachable code', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(10_000) });
    const s = await serve(reply(200, big));
    await assert.rejects(jsonRequest(s.endpoint, '/big', undefined, { ...OPTS, maxResponseBytes: 4096 }), code('AGENT_UNREACHABLE', /larger than 4096 bytes/));
    assert.deepEqual(await jsonRequest(s.endpoint, '/big', undefined, { ...OPTS, maxResponseBytes: big.length }), JSON.parse(big));
  });
});

describe('jsonRequest over a Unix socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'http-json-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('Host is localhost; a missing socket is unreachable', async () => {
    const path = join(dir, 'a.sock');
    const server = http.createServer((req, res) => reply(200, JSON.stringify({ host: req.headers.host }))({} as Seen, res));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      assert.deepEqual(await jsonRequest({ socket: path }, '/health', undefined, OPTS), { host: 'localhost' });
    } finally {
      server.close();
    }
    await assert.rejects(jsonRequest({ socket: join(dir, 'none.sock') }, '/health', undefined, { ...OPTS, unreachable: 'ADMIN_UNREACHABLE' }), code('ADMIN_UNREACHABLE', /none\.sock/));
  });

  test('a socket we may not open: the noPermission code', { skip: process.getuid?.() === 0 ? 'root opens any socket' : false }, async () => {
    const path = join(dir, 'b.sock');
    const server = http.createServer((_, res) => res.end('{}'));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      chmodSync(path, 0o000);
      await assert.rejects(jsonRequest({ socket: path }, '/x', undefined, { ...OPTS, noPermission: 'ADMIN_UNAUTHORIZED' }), code('ADMIN_UNAUTHORIZED'));
    } finally {
      server.close();
    }
  });
});

describe('jsonRequest over HTTPS', { skip: HAS_OPENSSL ? false : 'openssl is not installed: it makes the test certificates' }, () => {
  test('verified against the CA; a wrong CA or name is unreachable; a client certificate is presented', async () => {
    const p = makeTestPki(['::1'], ['agent.test']);
    const pem = (f: string): Buffer => readFileSync(f);
    const s = await serve((seen, res) => reply(200, JSON.stringify({ ok: true }))(seen, res), { cert: pem(p.serverCert), key: pem(p.serverKey), ca: pem(p.caCert), requestCert: true, rejectUnauthorized: false });
    let peer: boolean | undefined;
    s.server.prependListener('request', (req: http.IncomingMessage) => {
      const sock = req.socket as TLSSocket;
      peer = sock.authorized && Object.keys(sock.getPeerCertificate()).length > 0;
    });
    assert.deepEqual(await jsonRequest(s.endpoint, '/x', undefined, { ...OPTS, tls: { ca: pem(p.caCert) } }), { ok: true });
    assert.equal(peer, false, 'no client certificate given, none presented');
    assert.deepEqual(await jsonRequest(s.endpoint, '/x', undefined, { ...OPTS, tls: { ca: pem(p.caCert), cert: pem(p.clientCert), key: pem(p.clientKey), serverName: 'agent.test' } }), { ok: true });
    assert.equal(peer, true, 'the client certificate was presented and verified');
    await assert.rejects(jsonRequest(s.endpoint, '/x', undefined, { ...OPTS, tls: { ca: pem(p.otherCaCert) } }), code('AGENT_UNREACHABLE', /https:\/\/.*certificate/));
    await assert.rejects(jsonRequest(s.endpoint, '/x', undefined, { ...OPTS, tls: { ca: pem(p.caCert), serverName: 'other.test' } }), code('AGENT_UNREACHABLE', /other\.test|altnames/i));
    await assert.rejects(jsonRequest(s.endpoint, '/x', undefined, OPTS), code('AGENT_UNREACHABLE'), 'plain HTTP to an HTTPS server');
  });
});

describe('server helpers', () => {
  test('sendJson: JSON (compact or indented) or a string as it is, no-store, extra headers; nothing once headers are sent', async () => {
    const s = await serve((seen, res) => {
      if (seen.url === '/json') sendJson(res, 201, { a: [1] });
      else if (seen.url === '/indent') sendJson(res, 200, { a: 1 }, { indent: 1, headers: { 'www-authenticate': 'Bearer' } });
      else {
        sendJson(res, 200, 'm 1\n', { contentType: 'text/plain' });
        sendJson(res, 500, { late: true });
      }
    });
    const get = (path: string) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
        http.get(`http://${s.endpoint}${path}`, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        }).on('error', reject);
      });
    const a = await get('/json');
    assert.deepEqual([a.status, a.headers['content-type'], a.headers['cache-control'], a.text], [201, 'application/json', 'no-store', '{"a":[1]}\n']);
    const b = await get('/indent');
    assert.deepEqual([b.text, b.headers['www-authenticate']], ['{\n "a": 1\n}\n', 'Bearer']);
    const c = await get('/text');
    assert.deepEqual([c.status, c.headers['content-type'], c.text], [200, 'text/plain', 'm 1\n']);
  });

  test('errorReply: a refusal with its status and headers, a user error by the status table (default 400), a bug 500 INTERNAL', () => {
    const r = errorReply(new HttpRefusal(401, 'ADMIN_UNAUTHORIZED', 'token', { 'www-authenticate': 'Bearer' }));
    assert.deepEqual(r, { status: 401, body: { error: 'token', code: 'ADMIN_UNAUTHORIZED', hint: new SrError('ADMIN_UNAUTHORIZED', '').hint }, headers: { 'www-authenticate': 'Bearer' }, refused: true });
    assert.equal(errorReply(new SrError('AGENT_FULL', 'full'), { AGENT_FULL: 503 }).status, 503);
    assert.deepEqual(errorReply(new SrError('BAD_ARGUMENT', 'bad', { hint: 'h' })), { status: 400, body: { error: 'bad', code: 'BAD_ARGUMENT', hint: 'h' }, headers: {}, refused: true });
    assert.deepEqual(errorReply(new Error('boom')), { status: 500, body: { error: 'boom', code: 'INTERNAL' }, headers: {}, refused: false });
    assert.equal(errorReply(new SrError('DNS_RECORD_FIELD', 'a bug')).status, 500, 'an SrError of kind bug is a 500');
    assert.equal(errorReply('thrown string').body.error, 'thrown string');
  });

  test('findRoute: the route, 405 for the path with another method, 404 otherwise (query strings ignored)', () => {
    const routes = [{ method: 'GET', path: '/a' }, { method: 'POST', path: '/b' }] as const;
    assert.deepEqual(findRoute(routes, 'GET', '/a?x=1'), { route: routes[0] });
    assert.deepEqual(findRoute(routes, 'GET', '/b'), { status: 405 });
    assert.deepEqual(findRoute(routes, 'GET', '/c'), { status: 404 });
    assert.deepEqual(findRoute(routes, undefined, undefined), { status: 404 });
    assert.deepEqual(findRoute(routes, 'GET', 'http://[bad'), { status: 404 });
  });
});
