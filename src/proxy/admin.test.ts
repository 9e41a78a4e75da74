import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, mock, test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { canonicalHost, hostAllowed, tokenChecker } from '../sys/http-guard.js';
import { adminRequest, serveAdmin, type AdminAccess, type AdminRoute } from './admin.js';

const TOKEN = 'a-token-of-32-characters-exactly';

let posted: unknown[] = [];
const ROUTES: AdminRoute[] = [
  { method: 'GET', path: '/health', summary: 'liveness', access: 'open', handle: async () => ({ body: { ok: true } }) },
  { method: 'GET', path: '/metrics', summary: 'metrics', access: 'open', handle: async () => ({ body: 'm 1\n', contentType: 'text/plain' }) },
  { method: 'GET', path: '/flows', summary: 'flows', handle: async () => ({ body: [{ client: 'fc00:1::2' }] }) },
  {
    method: 'POST',
    path: '/functions/load',
    summary: 'load',
    handle: async (b) => {
      posted.push(b);
      return { body: { ok: true } };
    },
  },
];

const servers: http.Server[] = [];
after(() => servers.forEach((s) => s.close()));

async function tcp(access: AdminAccess, address = '127.0.0.1'): Promise<number> {
  const s = await serveAdmin({ address, port: 0 }, ROUTES, access);
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

interface Raw {
  status: number;
  body: { code?: string; error?: string } & Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

/** A request with exactly these headers (no client helper adds or fixes anything). */
function raw(where: { port: number; host?: string } | { socket: string }, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const target = 'socket' in where ? { socketPath: where.socket } : { host: where.host ?? '127.0.0.1', port: where.port };
    const req = http.request({ ...target, method, path, headers: { host: 'localhost', ...headers }, setHost: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let parsed: Raw['body'];
        try {
          parsed = JSON.parse(text) as Raw['body'];
        } catch {
          parsed = { text };
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const JSON_POST = { 'content-type': 'application/json' };
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('admin endpoint: credentials', () => {
  test('a private route: no token → 401, a wrong token → 401, the right token → 200; open routes need none', async () => {
    const port = await tcp({ anonymous: 'open', token: TOKEN });
    posted = [];
    const none = await raw({ port }, 'POST', '/functions/load', JSON_POST, '{"spec":1}');
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'ADMIN_UNAUTHORIZED');
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    const wrong = await raw({ port }, 'POST', '/functions/load', { ...JSON_POST, ...bearer(`${TOKEN.slice(0, -1)}x`) }, '{"spec":1}');
    assert.equal(wrong.status, 401);
    const short = await raw({ port }, 'POST', '/functions/load', { ...JSON_POST, ...bearer('x') }, '{"spec":1}');
    assert.equal(short.status, 401, 'a token of another length is refused, not an exception');
    assert.deepEqual(posted, [], 'nothing reached the handler');
    const right = await raw({ port }, 'POST', '/functions/load', { ...JSON_POST, ...bearer(TOKEN) }, '{"spec":1}');
    assert.equal(right.status, 200);
    assert.deepEqual(posted, [{ spec: 1 }]);
    assert.equal((await raw({ port }, 'GET', '/flows')).status, 401, 'the flow table is private');
    assert.equal((await raw({ port }, 'GET', '/flows', bearer(TOKEN))).status, 200);
    assert.equal((await raw({ port }, 'GET', '/health')).status, 200);
    assert.equal((await raw({ port }, 'GET', '/metrics')).status, 200);
  });

  test('the token is compared in constant time: crypto.timingSafeEqual on equal-length digests', () => {
    const calls: [number, number][] = [];
    const real = crypto.timingSafeEqual;
    const spy = mock.method(crypto, 'timingSafeEqual', (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      calls.push([a.byteLength, b.byteLength]);
      return real(a, b);
    });
    syncBuiltinESMExports();
    try {
      const check = tokenChecker(TOKEN);
      assert.equal(check(TOKEN), true);
      assert.equal(check('short'), false);
      assert.equal(check(`${TOKEN}-and-longer`), false);
      assert.equal(check(undefined), false);
    } finally {
      spy.mock.restore();
      syncBuiltinESMExports();
    }
    assert.equal(calls.length, 4, 'every comparison goes through timingSafeEqual');
    for (const [a, b] of calls) assert.ok(a === 32 && b === 32, `digests of equal length, got ${a} and ${b}`);
  });

  test('a read-only listener (no token) serves health and metrics, refuses every POST and private GET with 403', async () => {
    const port = await tcp({ anonymous: 'open' });
    posted = [];
    const r = await raw({ port }, 'POST', '/functions/load', JSON_POST, '{"spec":1}');
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'ADMIN_UNAUTHORIZED');
    const withToken = await raw({ port }, 'POST', '/functions/load', { ...JSON_POST, ...bearer(TOKEN) }, '{"spec":1}');
    assert.equal(withToken.status, 403, 'no token opens a read-only listener');
    assert.equal((await raw({ port }, 'GET', '/flows')).status, 403);
    assert.equal((await raw({ port }, 'GET', '/health')).status, 200);
    assert.deepEqual(posted, []);
  });

  test('a token-only listener: every route needs it, adminRequest sends it (a wrong one: ADMIN_UNAUTHORIZED); an open one needs none', async () => {
    const s = await serveAdmin({ address: '127.0.0.1', port: 0 }, ROUTES, { anonymous: 'none', token: TOKEN });
    const t = await serveAdmin({ address: '127.0.0.1', port: 0 }, ROUTES, { anonymous: 'all' });
    servers.push(s, t);
    const port = (s.address() as AddressInfo).port;
    assert.equal((await raw({ port }, 'GET', '/health')).status, 401);
    assert.equal((await raw({ port }, 'GET', '/health', bearer(TOKEN))).status, 200);
    const endpoint = `127.0.0.1:${port}`;
    assert.deepEqual(await adminRequest(endpoint, '/functions/load', { x: 1 }, { token: TOKEN }), { ok: true });
    await assert.rejects(adminRequest(endpoint, '/functions/load', { x: 1 }, { token: 'wrong' }), (e) => isSrError(e, 'ADMIN_UNAUTHORIZED'));
    const open = `127.0.0.1:${(t.address() as AddressInfo).port}`;
    assert.deepEqual(await adminRequest(open, '/functions/load', { x: 2 }), { ok: true });
  });
});

describe('admin endpoint: requests a browser could make', () => {
  test('a POST that is not application/json is refused with 415, before the body is read', async () => {
    const port = await tcp({ anonymous: 'all' });
    posted = [];
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await raw({ port }, 'POST', '/functions/load', { 'content-type': type }, '{"spec":1}');
      assert.equal(r.status, 415, type);
      assert.equal(r.body.code, 'ADMIN_REFUSED');
    }
    assert.equal((await raw({ port }, 'POST', '/functions/load', {}, '{"spec":1}')).status, 415, 'no content type');
    assert.deepEqual(posted, []);
    assert.equal((await raw({ port }, 'POST', '/functions/load', { 'content-type': 'application/json; charset=utf-8' }, '{"spec":1}')).status, 200);
  });

  test('a foreign Host (DNS rebinding) is refused; loopback names, the listener’s address and admin.hosts are not', async () => {
    const port = await tcp({ anonymous: 'all', hosts: ['proxy1.example.net'] });
    for (const host of ['evil.example', `evil.example:${port}`, 'localhost.evil.example', '127.0.0.1.nip.io', '']) {
      const r = await raw({ port }, 'GET', '/health', { host });
      assert.equal(r.status, 403, `Host "${host}"`);
      assert.equal(r.body.code, 'ADMIN_REFUSED');
    }
    for (const host of ['localhost', `localhost:${port}`, `127.0.0.1:${port}`, '[::1]', 'proxy1.example.net', 'PROXY1.example.net.']) {
      assert.equal((await raw({ port }, 'GET', '/health', { host })).status, 200, `Host "${host}"`);
    }
    const v6 = await tcp({ anonymous: 'all' }, '::');
    assert.equal((await raw({ port: v6, host: '::1' }, 'GET', '/health', { host: `[::1]:${v6}` })).status, 200);
    assert.equal((await raw({ port: v6, host: '::1' }, 'GET', '/health', { host: 'attacker.example' })).status, 403, 'a wildcard listener checks Host too');
  });

  test('a request with a foreign Origin or a cross-site fetch marker is refused', async () => {
    const port = await tcp({ anonymous: 'all' });
    posted = [];
    for (const origin of ['http://evil.example', 'null', 'https://localhost', 'http://evil.example:7778']) {
      const r = await raw({ port }, 'POST', '/functions/load', { ...JSON_POST, origin }, '{"spec":1}');
      assert.equal(r.status, 403, origin);
      assert.equal(r.body.code, 'ADMIN_REFUSED');
    }
    assert.equal((await raw({ port }, 'GET', '/flows', { origin: 'http://evil.example' })).status, 403);
    assert.equal((await raw({ port }, 'GET', '/flows', { 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.deepEqual(posted, []);
    assert.equal((await raw({ port }, 'GET', '/flows', { origin: `http://localhost:${port}` })).status, 200, 'its own origin');
  });

  test('every refusal is reported to onRefused (logged and counted by the proxy)', async () => {
    const seen: string[] = [];
    const port = await tcp({ anonymous: 'open', onRefused: (r) => seen.push(`${r.status} ${r.code}`) });
    await raw({ port }, 'POST', '/functions/load', JSON_POST, '{}');
    await raw({ port }, 'GET', '/health', { host: 'evil.example' });
    await raw({ port }, 'GET', '/health');
    assert.deepEqual(seen, ['403 ADMIN_UNAUTHORIZED', '403 ADMIN_REFUSED']);
  });

  test('a body over 1 MiB is refused with 413', async () => {
    const port = await tcp({ anonymous: 'all' });
    const r = await raw({ port }, 'POST', '/functions/load', JSON_POST, `"${'x'.repeat(1.5 * 1024 * 1024)}"`);
    assert.equal(r.status, 413);
  });

  test('Host names compare in one spelling', () => {
    assert.equal(canonicalHost('[FC00:0:0::1]'), 'fc00::1');
    assert.equal(canonicalHost('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(hostAllowed('[fc00::0:1]:7778', ['fc00::1']), true);
    assert.equal(hostAllowed('[fc00::2]:7778', ['fc00::1']), false);
    assert.equal(hostAllowed('[::]:7778', ['::']), false, 'the wildcard is no host');
    assert.equal(hostAllowed(undefined, ['fc00::1']), false);
  });
});

describe('admin endpoint: the Unix socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-admin-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('created with its mode; every route without a token; another user cannot connect', async () => {
    const path = join(dir, 'run', 'admin.sock');
    const s = await serveAdmin({ socket: path, mode: 0o600 }, ROUTES, { anonymous: 'all' });
    servers.push(s);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(statSync(path).isSocket());
    posted = [];
    assert.deepEqual(await adminRequest({ socket: path }, '/functions/load', { spec: 2 }), { ok: true });
    assert.deepEqual(posted, [{ spec: 2 }]);
    assert.equal((await raw({ socket: path }, 'POST', '/functions/load', { 'content-type': 'text/plain' }, '{}')).status, 415, 'the socket refuses text/plain too');
    assert.equal((await raw({ socket: path }, 'GET', '/health', { host: 'evil.example' })).status, 403);
    if (process.getuid?.() === 0) {
      chmodSync(dir, 0o755);
      chmodSync(join(dir, 'run'), 0o755);
      const script = `require('net').connect(${JSON.stringify(path)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); });`;
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
      assert.equal(r.stdout.trim(), 'EACCES', `another user: ${r.stdout}${r.stderr}`);
    }
    await new Promise((r) => s.close(r));
  });

  test('a stale socket left by a crash is replaced; a live one is PORT_BUSY; a file is not taken over', async () => {
    const path = join(dir, 'stale.sock');
    const first = await serveAdmin({ socket: path, mode: 0o600 }, ROUTES, { anonymous: 'all' });
    servers.push(first);
    await assert.rejects(serveAdmin({ socket: path, mode: 0o600 }, ROUTES, { anonymous: 'all' }), (e) => isSrError(e, 'PORT_BUSY'));
    // a crash leaves the file: simulate by closing the listener's handle without unlinking
    const staleDir = mkdtempSync(join(dir, 's'));
    const stalePath = join(staleDir, 'a.sock');
    const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(statSync(stalePath).isSocket(), 'the stale socket is there');
    const second = await serveAdmin({ socket: stalePath, mode: 0o600 }, ROUTES, { anonymous: 'all' });
    servers.push(second);
    assert.deepEqual(await adminRequest({ socket: stalePath }, '/health'), { ok: true });
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, 'keep me');
    await assert.rejects(serveAdmin({ socket: file, mode: 0o600 }, ROUTES, { anonymous: 'all' }), (e) => isSrError(e, 'CONFIG_INVALID'));
  });

  test('the client reports a missing socket as ADMIN_UNREACHABLE', async () => {
    await assert.rejects(adminRequest({ socket: join(dir, 'nothing.sock') }, '/health'), (e) => isSrError(e, 'ADMIN_UNREACHABLE'));
  });
});
