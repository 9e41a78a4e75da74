/**
 * Test helpers for byte streams over loopback sockets (the relay's tests in native/ and proxy/): a
 * condition to wait for, a deterministic stream written with back-pressure, and its sha256 read back.
 * Not part of the package (tsconfig.pack.json leaves test-*.ts out).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';

/** Polls `cond` every few ms; throws after `ms` naming `what`. */
export async function waitFor(cond: () => boolean, what: string, ms = 20000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Writes `total` bytes (64 KiB chunks, chunk i filled with `fill + i`), with back-pressure, then ends; resolves to their sha256. */
export async function sendFilled(s: net.Socket, total: number, fill: number): Promise<string> {
  const h = createHash('sha256');
  const chunk = Buffer.alloc(64 * 1024);
  for (let sent = 0, i = 0; sent < total; i++) {
    const b = Buffer.from(chunk.fill((fill + i) & 0xff).subarray(0, Math.min(chunk.length, total - sent)));
    h.update(b);
    sent += b.length;
    if (!s.write(b)) await once(s, 'drain');
  }
  s.end();
  return h.digest('hex');
}

/** The sha256 of everything read until the stream's end (rejects on an error). */
export function receiveSha(s: net.Socket): Promise<string> {
  const h = createHash('sha256');
  s.on('data', (b: Buffer) => h.update(b));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(h.digest('hex')));
    s.once('error', reject);
  });
}

/** client → [front listener: accepted | outbound] → server on loopback: the middle pair ready to hand to a relay. */
export interface LoopbackSockets {
  client: net.Socket;
  /** the front listener's side of the client's connection (paused: pauseOnConnect) */
  accepted: net.Socket;
  /** connected to the backend */
  outbound: net.Socket;
  server: net.Socket;
  /** destroys client and server, closes both listeners */
  close(): void;
}

export async function loopbackSockets(o: { clientAllowHalfOpen?: boolean } = {}): Promise<LoopbackSockets> {
  const backend = net.createServer({ allowHalfOpen: true });
  const front = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  backend.listen(0, '::1');
  front.listen(0, '::1');
  await Promise.all([once(backend, 'listening'), once(front, 'listening')]);
  const serverP = once(backend, 'connection') as Promise<[net.Socket]>;
  const acceptedP = once(front, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ host: '::1', port: (front.address() as net.AddressInfo).port, allowHalfOpen: o.clientAllowHalfOpen ?? true });
  const [accepted] = await acceptedP;
  const outbound = net.connect({ host: '::1', port: (backend.address() as net.AddressInfo).port, allowHalfOpen: true });
  await once(outbound, 'connect');
  const [server] = await serverP;
  return {
    client,
    accepted,
    outbound,
    server,
    close: () => {
      client.destroy();
      server.destroy();
      backend.close();
      front.close();
    },
  };
}
