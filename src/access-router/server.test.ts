import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { describe, mock, test } from 'node:test';
import { pino } from 'pino';
import { fakeRunner, heldRunner } from '../../test/helpers/fake-agent-runner.js';
import { HAS_OPENSSL, makeTestPki, type TestPki } from '../../test/helpers/tls.js';
import { isSrError, type ErrorCode } from '../core/errors.js';
import { parsePrefix } from '../net/ip6.js';
import type { BsidPolicy } from './api.js';
import { bearerMatches, isLoopback, readTokenFile } from './credentials.js';
import { runAccessRouter } from './daemon.js';
import { HttpAccessRouter, serveAgent } from './http.js';
import { LocalAccessRouter, type Runner } from './local.js';
import { checkListen } from './server.js';
import { writeConfig } from '../../test/helpers/harness.js';
import { dirname, join } from 'node:path';

const log = pino({ level: 'silent' });
const bsidPrefix = parsePrefix('fc00:f::/64');
const policy = (i = 7): BsidPolicy => ({ bsid: `fc00:f::${i}`, source: { prefix: 'fc00:1::2', length: 128 }, segments: ['fc00:a::1:0:0'], expiresAt: Date.now() + 60_000 });
const code = (c: ErrorCode, re?: RegExp) => (e: unknown) => isSrError(e, c) && (re === undefined || re.test(e.message));
const localAgent = (runner: Runner = fakeRunner().runner, limits = {}) => new LocalAccessRouter({ name: 'ar', bsidPrefix, log, runner, limits });

/** A raw request, to send what the controller's client never sends (foreign Host, Origin, text/plain). */
function raw(port: number, o: { method?: string; path?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; json: { code?: string; error?: string } & Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '::1', port, method: o.method ?? 'GET', path: o.path ?? '/health', headers: o.headers ?? {} }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || '{}') as never }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

describe('access-router agent: credentials', () => {
  test('no credential: loopback only; a non-loopback --listen is refused with AGENT_NO_CREDENTIAL before anything runs', async () => {
    for (const a of ['::1', '127.0.0.1', '::ffff:127.0.0.1', '0:0::1']) assert.ok(isLoopback(a), a);
    for (const a of ['::', '0.0.0.0', 'fc00:9::1', '10.0.0.1', 'localhost', 'fe80::1%lo']) assert.ok(!isLoopback(a), a);
    assert.throws(() => checkListen('::', {}), code('AGENT_NO_CREDENTIAL', /without a credential/));
    assert.throws(() => checkListen('fc00:9::1', {}), code('AGENT_NO_CREDENTIAL'));
    checkListen('::1', {});
    checkListen('fc00:9::1', { token: 't' });
    const pem = Buffer.from('x');
    assert.throws(() => checkListen('fc00:9::1', { tls: { cert: pem, key: pem } }), code('AGENT_NO_CREDENTIAL'), 'TLS alone authenticates the agent, not the caller');
    checkListen('fc00:9::1', { tls: { cert: pem, key: pem, clientCa: pem } });
    // the command refuses before it needs root or touches anything
    await assert.rejects(runAccessRouter({ name: 'ar', bsidPrefix: 'fc00:f::/64', listen: '[::]:7780', clientInterfaces: [] }), (e: unknown) => isSrError(e, 'AGENT_NO_CREDENTIAL') && e.kind === 'user' && /--token-file/.test(e.hint));
    await assert.rejects(serveAgent(localAgent(), { address: '::', port: 0, log }), code('AGENT_NO_CREDENTIAL'));
  });

  test('the token file: first line, trimmed; empty or unreadable is a user error', () => {
    const path = writeConfig('  s3cret-token  \nignored\n');
    assert.equal(readTokenFile(path, '--token-file'), 's3cret-token');
    writeFileSync(path, '\n');
    assert.throws(() => readTokenFile(path, '--token-file'), code('BAD_ARGUMENT', /is empty/));
    assert.throws(() => readTokenFile(join(dirname(path), 'absent'), '--token-file'), code('CONFIG_READ'));
  });

  test('a wrong or missing token is 401 AGENT_UNAUTHORISED, compared in constant time over digests, and counted', async () => {
    assert.ok(bearerMatches('Bearer abc', 'abc'));
    for (const h of [undefined, '', 'abc', 'Bearer ', 'Bearer ab', 'Bearer abcd', 'bearer abc', 'Basic abc']) assert.ok(!bearerMatches(h, 'abc'), String(h));
    assert.ok(!bearerMatches('Bearer ', ''), 'an empty token never matches');
    const server = await serveAgent(localAgent(), { address: '::1', port: 0, token: 'sekrit', log });
    const spy = mock.method(crypto, 'timingSafeEqual');
    try {
      const wrong = await raw(server.port, { headers: { authorization: 'Bearer sekriT' } });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.code, 'AGENT_UNAUTHORISED');
      assert.ok(spy.mock.calls.length >= 1, 'crypto.timingSafeEqual decided');
      assert.ok(spy.mock.calls.every((c) => (c.arguments[0] as Buffer).length === 32 && (c.arguments[1] as Buffer).length === 32), 'over sha256 digests: equal lengths whatever the input');
      assert.equal((await raw(server.port, {})).status, 401, 'no token');
      assert.equal((await raw(server.port, { path: '/bsids' })).status, 401, 'every route needs it');
      const remote = new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 'nope' });
      await assert.rejects(remote.install(policy()), code('AGENT_UNAUTHORISED'));
      assert.equal(server.rejected.get('AGENT_UNAUTHORISED'), 4);
      const ok = new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 'sekrit' });
      const stats = (await (async () => {
        await ok.install(policy());
        return raw(server.port, { path: '/stats', headers: { authorization: 'Bearer sekrit' } });
      })()).json;
      assert.equal(stats['installed'], 1);
      assert.equal((stats['rejected'] as Record<string, number>)['AGENT_UNAUTHORISED'], 4);
    } finally {
      spy.mock.restore();
      await server.close();
    }
  });

  test('browsers are kept out: Origin refused, POST only as application/json, a loopback agent checks Host (DNS rebinding), bodies bounded', async () => {
    const server = await serveAgent(localAgent(), { address: '::1', port: 0, log });
    try {
      const port = server.port;
      assert.equal((await raw(port, { headers: { host: `[::1]:${port}` } })).status, 200);
      assert.equal((await raw(port, { headers: { host: `localhost:${port}` } })).status, 200);
      const rebound = await raw(port, { headers: { host: `evil.example:${port}` } });
      assert.equal(rebound.status, 401);
      assert.match(String(rebound.json.error), /foreign Host/);
      assert.equal((await raw(port, { headers: { host: `[::1]:${port}`, origin: 'http://evil.example' } })).status, 401);
      const body = JSON.stringify({ bsid: 'fc00:f::7', source: { prefix: 'fc00:1::2', length: 128 }, segments: ['fc00:a::1:0:0'], ttlMs: 1000 });
      const plain = await raw(port, { method: 'POST', path: '/bsids/install', headers: { host: `[::1]:${port}`, 'content-type': 'text/plain' }, body });
      assert.equal(plain.status, 400);
      assert.match(String(plain.json.error), /application\/json/);
      const json = await raw(port, { method: 'POST', path: '/bsids/install', headers: { host: `[::1]:${port}`, 'content-type': 'application/json' }, body });
      assert.equal(json.status, 200, JSON.stringify(json));
      const big = await raw(port, { method: 'POST', path: '/bsids/remove', headers: { host: `[::1]:${port}`, 'content-type': 'application/json' }, body: JSON.stringify({ bsid: 'x'.repeat(70_000) }) }).catch(() => ({ status: 0, json: {} }));
      assert.ok(big.status === 400 || big.status === 0, `a body over 64 KiB is refused (${big.status})`);
    } finally {
      await server.close();
    }
  });

  test('over HTTP: a /64 source and a long lifetime are refused (400 BSID_POLICY_REFUSED); caps answer 429 AGENT_BUSY and 503 AGENT_FULL', async () => {
    const h = heldRunner();
    const server = await serveAgent(localAgent(h.runner, { maxInFlight: 1, maxBsids: 1 }), { address: '::1', port: 0, token: 't', log });
    const remote = new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 't' });
    try {
      await assert.rejects(remote.install({ ...policy(), source: { prefix: 'fc00:1::', length: 64 } }), code('BSID_POLICY_REFUSED', /\/64 is wider than \/128/));
      await assert.rejects(remote.install({ ...policy(), source: { prefix: '::', length: 0 } }), code('BSID_POLICY_REFUSED'));
      await assert.rejects(remote.install({ ...policy(), expiresAt: Date.now() + 2 * 3600_000 }), code('BSID_POLICY_REFUSED', /--max-lifetime/));
      const first = remote.install(policy(1));
      await waitFor(() => h.started() > 0);
      const busy = await raw(server.port, { method: 'POST', path: '/bsids/install', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: JSON.stringify({ bsid: 'fc00:f::2', source: { prefix: 'fc00:1::2', length: 128 }, segments: ['fc00:a::1:0:0'], ttlMs: 1000 }) });
      assert.equal(busy.status, 429);
      assert.equal(busy.json.code, 'AGENT_BUSY');
      h.release();
      await first;
      await assert.rejects(remote.install(policy(2)), code('AGENT_FULL', /--max-bsids 1/));
      const full = await raw(server.port, { method: 'POST', path: '/bsids/install', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: JSON.stringify({ bsid: 'fc00:f::3', source: { prefix: 'fc00:1::2', length: 128 }, segments: ['fc00:a::1:0:0'], ttlMs: 1000 }) });
      assert.equal(full.status, 503);
      assert.deepEqual({ busy: server.rejected.get('AGENT_BUSY'), full: server.rejected.get('AGENT_FULL'), policy: server.rejected.get('BSID_POLICY_REFUSED') }, { busy: 1, full: 2, policy: 3 });
    } finally {
      h.release();
      await server.close();
    }
  });
});

test('access-router agent: connections past --max-connections are dropped and counted', async () => {
  const server = await serveAgent(localAgent(fakeRunner().runner, { maxConnections: 1 }), { address: '::1', port: 0, token: 't', log });
  const held = net.connect({ host: '::1', port: server.port });
  try {
    await new Promise((resolve) => held.once('connect', resolve));
    const second = await raw(server.port, { headers: { authorization: 'Bearer t' } }).then((r) => r.status, (e: NodeJS.ErrnoException) => e.code);
    assert.notEqual(second, 200);
    await waitFor(() => server.rejected.get('CONNECTION_LIMIT') === 1);
    held.destroy();
    await waitFor(() => held.destroyed);
    let status: number | string | undefined;
    await waitFor(() => status === 200, 5000, async () => {
      status = await raw(server.port, { headers: { authorization: 'Bearer t' } }).then((r) => r.status, (e: NodeJS.ErrnoException) => e.code);
    });
  } finally {
    held.destroy();
    await server.close();
  }
});

async function waitFor(cond: () => boolean, ms = 5000, step?: () => Promise<void>): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (step) await step();
    if (cond()) return;
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('access-router agent: TLS', { skip: HAS_OPENSSL ? false : 'openssl is not installed: it makes the test certificates' }, () => {
  let pki: TestPki;
  const pem = (f: string): Buffer => readFileSync(f);
  const pkiOnce = (): TestPki => (pki ??= makeTestPki(['::1'], ['agent.test']));

  test('HTTPS with a token: the controller verifies the agent against its CA; a wrong CA or a wrong name is refused', async () => {
    const p = pkiOnce();
    const server = await serveAgent(localAgent(), { address: '::1', port: 0, token: 'tok', tls: { cert: pem(p.serverCert), key: pem(p.serverKey) }, log });
    try {
      assert.equal(server.tls, true);
      const remote = new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 'tok', tls: { ca: pem(p.caCert) } });
      await remote.install(policy());
      assert.equal((await remote.list()).length, 1);
      await assert.rejects(new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 'bad', tls: { ca: pem(p.caCert) } }).list(), code('AGENT_UNAUTHORISED'));
      await assert.rejects(new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 'tok', tls: { ca: pem(p.otherCaCert) } }).list(), code('AGENT_UNREACHABLE', /certificate/));
      await assert.rejects(new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 'tok', tls: { ca: pem(p.caCert), serverName: 'other.test' } }).list(), code('AGENT_UNREACHABLE', /other\.test|altnames/i));
      assert.equal((await new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 'tok', tls: { ca: pem(p.caCert), serverName: 'agent.test' } }).list()).length, 1);
      await assert.rejects(new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 'tok' }).list(), code('AGENT_UNREACHABLE'), 'plain HTTP to an HTTPS agent');
    } finally {
      await server.close();
    }
  });

  test('mutual TLS: without a client certificate (or with a server-only one) the handshake fails; with one, no token is needed', async () => {
    const p = pkiOnce();
    const tls = { cert: pem(p.serverCert), key: pem(p.serverKey), clientCa: pem(p.caCert) };
    checkListen('fc00:9::1', { tls });
    const server = await serveAgent(localAgent(), { address: '::1', port: 0, tls, log });
    try {
      const ep = { endpoint: `[::1]:${server.port}` };
      await assert.rejects(new HttpAccessRouter('ar', { ...ep, tls: { ca: pem(p.caCert) } }).list(), code('AGENT_UNREACHABLE'));
      await assert.rejects(new HttpAccessRouter('ar', { ...ep, tls: { ca: pem(p.caCert), cert: pem(p.serverCert), key: pem(p.serverKey) } }).list(), code('AGENT_UNREACHABLE'), 'a server certificate is no client certificate');
      const ctl = new HttpAccessRouter('ar', { ...ep, tls: { ca: pem(p.caCert), cert: pem(p.clientCert), key: pem(p.clientKey) } });
      await ctl.install(policy());
      assert.equal((await ctl.list()).length, 1);
      assert.ok((server.rejected.get('TLS_HANDSHAKE') ?? 0) >= 1, 'handshake refusals are counted');
    } finally {
      await server.close();
    }
  });
});
