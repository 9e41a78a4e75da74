import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isSrError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { adminClientOf, readToken, REFUSAL_LOG_INTERVAL_MS, refusalLogger, type AdminConfig } from './admin-config.js';

const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-token-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a token file: read and trimmed; too short, spaced or readable by others is refused at start', () => {
  const good = join(dir, 'good');
  writeFileSync(good, '0123456789abcdef0123\n', { mode: 0o600 });
  assert.equal(readToken(good, true), '0123456789abcdef0123');
  const short = join(dir, 'short');
  writeFileSync(short, 'abc\n', { mode: 0o600 });
  assert.throws(() => readToken(short, true), (e) => isSrError(e, 'CONFIG_INVALID') && /at least 16/.test(e.message));
  const spaced = join(dir, 'spaced');
  writeFileSync(spaced, '0123456789 abcdef0123\n', { mode: 0o600 });
  assert.throws(() => readToken(spaced, true), (e) => isSrError(e, 'CONFIG_INVALID'));
  const open = join(dir, 'open');
  writeFileSync(open, '0123456789abcdef0123\n', { mode: 0o644 });
  assert.throws(() => readToken(open, true), (e) => isSrError(e, 'CONFIG_INVALID') && /every local user/.test(e.message));
  assert.equal(readToken(open, false), '0123456789abcdef0123', 'the client does not insist');
  assert.throws(() => readToken(join(dir, 'missing'), true), (e) => isSrError(e, 'CONFIG_READ'));
});

test('the CLI reaches a config’s endpoint: the socket first, else TCP on loopback for a wildcard, with the token unless read-only', () => {
  const base: AdminConfig = { tcp: { address: '::', port: 7778 }, readOnly: false, tokenFile: '/etc/t', socket: null, hosts: [], moduleDirs: [], execArgv: [] };
  assert.deepEqual(adminClientOf(base), { target: '[::1]:7778', tokenFile: '/etc/t' });
  assert.deepEqual(adminClientOf({ ...base, tokenFile: null, readOnly: true, socket: { path: '/run/a.sock', mode: 0o600 } }), { target: { socket: '/run/a.sock' }, tokenFile: null });
  assert.deepEqual(adminClientOf({ ...base, tcp: { address: '127.0.0.1', port: 9 }, tokenFile: null }), { target: '127.0.0.1:9', tokenFile: null });
});

test('refused admin requests: every one counted, at most one log line per interval', () => {
  const lines: Record<string, unknown>[] = [];
  const log = { warn: (o: Record<string, unknown>) => lines.push(o) } as unknown as Logger;
  let t = 1_000_000;
  const refused = refusalLogger(log, () => t);
  const r = { status: 403, code: 'ADMIN_REFUSED' as const, message: 'x', method: 'POST', path: '/functions/load' };
  for (let i = 0; i < 1000; i++) refused(r);
  assert.equal(lines.length, 1);
  t += REFUSAL_LOG_INTERVAL_MS;
  refused(r);
  assert.equal(lines.length, 2);
  assert.equal(lines[1]!['refusedTotal'], 1001);
  assert.equal(lines[1]!['refusedSinceLastLine'], 1000);
});
