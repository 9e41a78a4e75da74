import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { releaseTimeWaitOnClose, socketCookie, timeWaitReleases } from './timewait.js';

const log = pino({ level: 'silent' });
const attempts = (): number => Object.values(timeWaitReleases).reduce((a, b) => a + b, 0);

/** A loopback connection; `serverFirst`: the accepted side ends first (an active close there). */
async function closeOne(serverFirst: boolean): Promise<{ local: number; remote: number }> {
  const server = net.createServer({ allowHalfOpen: true });
  server.listen(0, '::1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect({ host: '::1', port, allowHalfOpen: true });
  const [accepted] = (await once(server, 'connection')) as [net.Socket];
  await once(client, 'connect');
  releaseTimeWaitOnClose(accepted, { address: '::1', port }, { address: '::1', port: accepted.remotePort! }, log);
  const ports = { local: port, remote: accepted.remotePort! };
  accepted.on('end', () => accepted.end());
  client.on('end', () => client.end());
  accepted.resume();
  client.resume();
  const closed = Promise.all([once(accepted, 'close'), once(client, 'close')]);
  if (serverFirst) accepted.end();
  else client.end();
  await closed;
  server.close();
  return ports;
}

function timeWaitFor(p: { local: number; remote: number }): boolean {
  try {
    const out = execFileSync('ss', ['-Htan', 'state', 'time-wait', `( sport = :${p.local} and dport = :${p.remote} )`], { encoding: 'utf8' });
    return out.trim().length > 0;
  } catch {
    return false;
  }
}

describe('the client-facing TIME_WAIT', () => {
  test('an open socket has a cookie; the same one each time', async () => {
    const server = net.createServer().listen(0, '::1');
    await once(server, 'listening');
    const c = net.connect({ host: '::1', port: (server.address() as net.AddressInfo).port });
    await once(c, 'connect');
    const a = socketCookie(c);
    assert.equal(a?.length, 8);
    assert.deepEqual(socketCookie(c), a);
    c.destroy();
    server.close();
  });

  test('a passive close (the client ended first) leaves nothing to release: no attempt', async () => {
    const before = attempts();
    await closeOne(false);
    assert.equal(attempts(), before);
  });

  test('an active close: one attempt for its own TIME_WAIT, which is gone when the process may destroy sockets', async () => {
    const before = { ...timeWaitReleases };
    const ports = await closeOne(true);
    assert.equal(attempts() - Object.values(before).reduce((a, b) => a + b, 0), 1);
    if (process.getuid?.() === 0) {
      assert.equal(timeWaitReleases.destroyed - before.destroyed, 1, JSON.stringify(timeWaitReleases));
      assert.equal(timeWaitFor(ports), false, 'no TIME_WAIT left for this tuple');
    } else {
      assert.equal(timeWaitReleases.unsupported - before.unsupported, 1, 'without CAP_NET_ADMIN: unsupported, said once');
    }
  });
});
