import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { outboundSocket } from './sockets.js';

/** a port free on ::1 (listened on, then released) */
async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '::1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, 'close');
  return port;
}

test('outboundSocket with `bind`: bound before Node wraps it, it connects from that address and port without localAddress', async () => {
  const peers: net.Socket[] = [];
  const server = net.createServer((p) => void peers.push(p)).listen(0, '::1');
  await once(server, 'listening');
  let s: net.Socket | undefined;
  try {
    const port = await freePort();
    const accepted = once(server, 'connection');
    s = outboundSocket({ bind: { address: '::1', port }, noDelay: true }, { allowHalfOpen: true });
    s.connect({ host: '::1', port: (server.address() as net.AddressInfo).port, family: 6 });
    await once(s, 'connect');
    const [peer] = (await accepted) as [net.Socket];
    assert.equal(peer.remotePort, port);
    assert.equal(s.localPort, port);
    assert.equal(s.localAddress, '::1');
  } finally {
    s?.destroy();
    for (const p of peers) p.destroy();
    server.close();
  }
});

test('outboundSocket with `bind` to an address it may not use: a synchronous errno error, no descriptor left open', () => {
  // 2001:db8::/32 is documentation space, on no interface here; without IPV6_TRANSPARENT bind refuses it
  const fds = readdirSync('/proc/self/fd').length;
  assert.throws(() => outboundSocket({ bind: { address: '2001:db8::7', port: 0 } }), (e: unknown) => (e as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL');
  assert.equal(readdirSync('/proc/self/fd').length, fds);
});
