import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { adminRequest } from './admin.js';

/** An HTTP server answering every request with `status` and `body`. */
async function answering(status: number, body: unknown): Promise<{ addr: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

test('an error code from the admin endpoint is taken only when it is one of ours (not an Object.prototype member)', async () => {
  for (const code of ['toString', '__proto__', 'constructor', 'NO_SUCH_CODE']) {
    const s = await answering(400, { error: 'x', code });
    try {
      await assert.rejects(adminRequest(s.addr, '/functions'), (e: unknown) => {
        assert.ok(isSrError(e, 'ADMIN_UNREACHABLE'), `${code}: ${String(e)}`);
        assert.equal(e.kind, 'user');
        return true;
      });
    } finally {
      await s.close();
    }
  }
  const s = await answering(400, { error: 'no such function', code: 'FUNCTION_NOT_LOADED' });
  try {
    await assert.rejects(adminRequest(s.addr, '/functions'), (e: unknown) => isSrError(e, 'FUNCTION_NOT_LOADED'));
  } finally {
    await s.close();
  }
});
