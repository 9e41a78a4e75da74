import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { accessLine, AccessLog, type EndedFlow } from './access-log.js';
import { validateProxyConfig } from './config.js';

const base = {
  locators: [{ prefix: 'fc00:1::/48', functionBits: 16 }],
  functions: [{ id: 1, function: 'copy' }],
  netconf: 'off',
  admin: 'off',
};

/** Resolves once the file holds `n` complete lines (the writes are asynchronous). */
function linesIn(path: string, n: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const check = (): void => {
      let text = '';
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        // not created yet
      }
      if (text.split('\n').length > n) resolve();
      else setTimeout(check, 10);
    };
    check();
  });
}

const ended: EndedFlow = {
  id: 1_000_000_007,
  client: { address: '2001:db8:1::10', port: 40000 },
  server: { address: '2001:db8:2::20', port: 80 },
  functionId: 5,
  function: 'xor',
  argument: '42',
  path: ['fc00:1:0:5::2a', '2001:db8:2::20'],
  position: 0,
  bsid: 'fc00:f::9',
  up: 1234,
  down: 56789,
  durationMs: 1500.12345,
  connectMs: 0.4567,
  end: { kind: 'server_reset', error: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) },
  relay: 'native',
};

test('an access-log line: time, client, server, function, argument, path, bytes each way, duration, how it ended, relay', () => {
  const line = accessLine(ended, 1, Date.UTC(2026, 10, 30, 20, 0, 0, 5));
  assert.deepEqual(line, {
    time: '2026-11-30T20:00:00.005Z',
    client: '[2001:db8:1::10]:40000',
    server: '[2001:db8:2::20]:80',
    fn: 5,
    function: 'xor',
    argument: '42',
    path: ['fc00:1:0:5::2a', '2001:db8:2::20'],
    position: 0,
    bsid: 'fc00:f::9',
    up: 1234,
    down: 56789,
    durationMs: 1500.123,
    connectMs: 0.457,
    end: 'server_reset',
    by: 'server',
    relay: 'native',
    worker: 1,
    flow: 1_000_000_007,
  });
  // a connect that never came up: no connectMs; the ending's error code when it has one
  const { connectMs: _c, bsid: _b, ...failed } = ended;
  const l2 = accessLine({ ...failed, end: { kind: 'connect_timeout' }, relay: 'js' }, 0);
  assert.equal(l2.connectMs, undefined);
  assert.equal(l2.bsid, undefined);
  assert.equal(l2.end, 'connect_timeout');
  assert.equal(l2.code, 'FLOW_CONNECT_FAILED');
  assert.equal(l2.by, 'proxy');
  // a function's own reset reason is the label
  assert.equal(accessLine({ ...ended, end: { kind: 'function_reset', reason: 'quota_exceeded' } }, 0).end, 'quota_exceeded');
});

test('the access log appends one JSON line per flow, and reopen() (logrotate) starts a new file at the same path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-access-'));
  try {
    const path = join(dir, 'sub', 'access.log');
    const log = new AccessLog({ to: 'file', path, maxBuffer: 1 << 20 }, 3);
    log.write(ended);
    log.write({ ...ended, id: 2 });
    // logrotate: the file is moved away, then the process is told to reopen
    await linesIn(path, 2);
    // a line still being written when the reopen comes (SonicBoom defers the reopen), and the close at once after
    log.write({ ...ended, id: 4 });
    renameSync(path, `${path}.1`);
    log.reopen();
    log.write({ ...ended, id: 3 });
    await log.close();
    const old = readFileSync(`${path}.1`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { flow: number; worker: number });
    const fresh = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { flow: number });
    // nothing lost, nothing twice; line 4 lands in the old file or the new one, as the write in flight decides
    assert.deepEqual([...old, ...fresh].map((l) => l.flow), [1_000_000_007, 2, 4, 3]);
    assert.deepEqual(old.slice(0, 2).map((l) => l.flow), [1_000_000_007, 2]);
    assert.equal(old[0]!.worker, 3);
    assert.equal(fresh.at(-1)!.flow, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config accessLog: off by default; a relative path starts at the config file’s directory; path and stdout exclusive', () => {
  assert.equal(validateProxyConfig(base).accessLog, null);
  assert.deepEqual(validateProxyConfig({ ...base, accessLog: { path: 'log/access.log' } }, 'c.yaml', '/etc/srv6pipes').accessLog, { to: 'file', path: '/etc/srv6pipes/log/access.log', maxBuffer: 16 << 20 });
  assert.deepEqual(validateProxyConfig({ ...base, accessLog: { stdout: true, maxBuffer: 65536 } }).accessLog, { to: 'stdout', maxBuffer: 65536 });
  for (const bad of [{ path: 'a', stdout: true }, {}, { path: 'a', maxBuffer: 10 }, { file: 'a' }]) {
    assert.throws(() => validateProxyConfig({ ...base, accessLog: bad }, 'c.yaml'), (e) => isSrError(e, 'CONFIG_INVALID') && /accessLog/.test((e as Error).message), JSON.stringify(bad));
  }
});

test('accessLog.maxBuffer bounds what waits for the disk: lines beyond are dropped and counted, never queued', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-access-'));
  try {
    const path = join(dir, 'access.log');
    const log = new AccessLog({ to: 'file', path, maxBuffer: 64 * 1024 }, 0);
    let reported = 0;
    log.onDrop = (n) => (reported += n);
    // 2000 lines of ~450 bytes in one turn of the event loop: far more than 64 KiB can wait
    const total = 2000;
    for (let i = 0; i < total; i++) log.write({ ...ended, id: i });
    await log.close();
    const written = readFileSync(path, 'utf8').trim().split('\n').filter(Boolean);
    assert.ok(log.dropped > 0, 'some lines were dropped');
    assert.equal(reported, log.dropped);
    assert.equal(written.length + log.dropped, total);
    // what was written is whole lines
    for (const l of written) assert.equal((JSON.parse(l) as { function: string }).function, 'xor');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
