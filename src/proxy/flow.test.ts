import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { native } from '../native/addon.js';
import { listenFd } from '../native/sockets.js';
import { FdInbound, resetSocket } from './flow.js';

/** A connected loopback pair: [the accepted side, the connecting side]. */
async function pair(): Promise<[net.Socket, net.Socket, () => void]> {
  const server = net.createServer({ allowHalfOpen: true });
  server.listen(0, '::1');
  await once(server, 'listening');
  const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: '::1', allowHalfOpen: true });
  const [accepted] = (await once(server, 'connection')) as [net.Socket];
  await once(client, 'connect');
  return [accepted, client, () => server.close()];
}

function closed(s: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.closed) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

test('resetSocket right after end() (shutdown still queued) closes the socket and sends a RST (issue 12 item 20)', async () => {
  const [s, c, done] = await pair();
  try {
    const errors: string[] = [];
    s.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    const peer = new Promise<string | undefined>((resolve) => {
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code));
      c.on('close', () => resolve(undefined));
    });
    s.end();
    // the FIN's shutdown() is queued for the next loop turn: reset in between, as a flow does when
    // the other side fails in the same turn
    await new Promise<void>((r) => process.nextTick(() => process.nextTick(r)));
    resetSocket(s);
    assert.equal(await closed(s, 2000), true, `the socket emits 'close' (errors: ${errors.join(',')})`);
    assert.deepEqual(errors, []);
    assert.equal(await peer, 'ECONNRESET', 'the peer sees a reset');
  } finally {
    c.destroy();
    done();
  }
});

test('resetSocket on a socket with data unsent and on one already destroyed', async () => {
  const [s, c, done] = await pair();
  try {
    c.pause();
    c.on('error', () => undefined);
    s.write(Buffer.alloc(8 << 20));
    resetSocket(s);
    assert.equal(await closed(s, 2000), true);
    resetSocket(s); // harmless
  } finally {
    c.destroy();
    done();
  }
});

/** a descriptor of our own to hand out: a listening socket on loopback (closed when reset) */
function ownFd(): number {
  return listenFd({ address: '::1', port: 0 });
}
const isOpen = (fd: number): boolean => existsSync(`/proc/self/fd/${fd}`);

test('FdInbound: an early onward socket is reset (and counted) when the descriptor is refused or taken without it, adopted when taken first', () => {
  const counted: string[] = [];
  const count = (r: 'adopted' | 'reset'): void => void counted.push(r);
  // refused: both reset
  const a = new FdInbound(ownFd(), '::1', 1, '::1', 2, { fd: ownFd(), srh: null }, count);
  const earlyA = a.earlyOnward!.fd;
  a.destroy();
  assert.equal(isOpen(earlyA), false, 'the early socket is closed with the refused connection');
  assert.equal(isOpen(a.fd), false);
  // taken by a flow that connects otherwise (another onward header, the JavaScript relay): the early socket goes
  const b = new FdInbound(ownFd(), '::1', 1, '::1', 2, { fd: ownFd(), srh: null }, count);
  const earlyB = b.earlyOnward!.fd;
  assert.equal(b.take(), b.fd);
  assert.equal(isOpen(earlyB), false);
  assert.equal(isOpen(b.fd), true, 'the taken descriptor is the taker’s');
  native().close(b.fd);
  // adopted: takeEarly hands it over, take() leaves it alone
  const c = new FdInbound(ownFd(), '::1', 1, '::1', 2, { fd: ownFd(), srh: null }, count);
  const earlyC = c.takeEarly()!;
  c.take();
  assert.equal(isOpen(earlyC), true);
  assert.equal(c.earlyOnward, undefined);
  native().close(earlyC);
  native().close(c.fd);
  assert.deepEqual(counted, ['reset', 'reset', 'adopted']);
  // none: nothing counted, nothing to take
  const d = new FdInbound(ownFd(), '::1', 1, '::1', 2);
  assert.equal(d.takeEarly(), undefined);
  assert.equal(d.dropEarly(), false);
  d.destroy();
  assert.equal(counted.length, 3);
});
