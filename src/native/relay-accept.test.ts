/**
 * The native accept (config nativeRelay.accept): the relay thread accepts on a listener it owns, posts
 * each connection with its addresses and SYN routing header, and pairs it with an onward socket in one
 * call (relayAcceptConnect). On loopback the onward connection goes where the client connected: back
 * to the same listener, where the test takes it as the "server" (a net.Socket on its descriptor).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseAddress } from '../net/ip6.js';
import { srhForPath } from '../codec/srh.js';
import { isSrError } from '../core/errors.js';
import { listenFd } from './sockets.js';
import { acceptSrhInPacket, NativeRelay, resetFd, type PairBytes, type PairEnd } from './relay.js';
import { routingHeaderIn } from './saved-syn.js';
import { receiveSha, sendFilled, waitFor } from './test-streams.js';

interface Accepted {
  fd: number;
  client: string;
  clientPort: number;
  server: string;
  serverPort: number;
  srh: Buffer | null | string;
  early: unknown;
}

function acceptingRelay(acceptOn: 'loop' | 'thread'): { relay: NativeRelay; accepted: Accepted[]; errors: string[]; fd: number } {
  const relay = new NativeRelay({ reportMs: 5, acceptOn });
  const accepted: Accepted[] = [];
  const errors: string[] = [];
  relay.onAccept = (fd, client, clientPort, server, serverPort, srh, early) => void accepted.push({ fd, client, clientPort, server, serverPort, srh, early });
  relay.onAcceptError = (code) => void errors.push(code);
  const fd = listenFd({ address: '::1', port: 0, recvRthdr: true });
  relay.listen(fd, false);
  return { relay, accepted, errors, fd };
}

/** The listener's port (it was bound to port 0), from /proc. */
function listeningPort(fd: number): number {
  const inode = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/self/fd/${fd}`))![1];
  for (const line of readFileSync('/proc/net/tcp6', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[9] === inode) return parseInt(f[1]!.split(':')[1]!, 16);
  }
  throw new Error('listener not in /proc/net/tcp6');
}

/** Established TCP connections to `port` in this namespace (either end), from /proc. */
function establishedTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp6', 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[3] === '01' && f[2]?.endsWith(`:${hex}`);
    }).length;
}

for (const on of ['loop', 'thread'] as const) {
  test(`accept on the ${on}: accepted connections come with their addresses and no SRH; the pair relays 2 MB each way, half-close included`, async () => {
    const { relay, accepted, errors, fd } = acceptingRelay(on);
    const port = listeningPort(fd);
    const client = net.connect({ host: '::1', port, allowHalfOpen: true });
    await once(client, 'connect');
    try {
      await waitFor(() => accepted.length === 1, 'the accept record');
      const a = accepted[0]!;
      assert.deepEqual({ client: a.client, clientPort: a.clientPort, server: a.server, serverPort: a.serverPort, srh: a.srh, early: a.early }, { client: '::1', clientPort: client.localPort, server: '::1', serverPort: port, srh: null, early: undefined });
      let end: PairEnd | undefined;
      let connected = false;
      relay.acceptConnect(a.fd, null, { onConnected: () => void (connected = true), onDone: (e) => void (end = e) }, {});
      // the onward connection: to where the client connected (this listener), from the client's address
      await waitFor(() => accepted.length === 2, 'the onward connection');
      const b = accepted[1]!;
      assert.equal(b.client, '::1');
      assert.notEqual(b.clientPort, client.localPort);
      const server = new net.Socket({ fd: b.fd, allowHalfOpen: true, readable: true, writable: true });
      await waitFor(() => connected, 'onConnected');
      const [sentUp, gotUp, sentDown, gotDown] = await Promise.all([sendFilled(client, 2 << 20, 1), receiveSha(server), sendFilled(server, 2 << 20, 7), receiveSha(client)]);
      assert.equal(gotUp, sentUp);
      assert.equal(gotDown, sentDown);
      await waitFor(() => end !== undefined, 'the pair done');
      assert.equal(end, 'ok');
      assert.deepEqual(errors, []);
      server.destroy();
    } finally {
      client.destroy();
      relay.close();
    }
  });

  test(`accept on the ${on}: resetFd refuses an accepted connection with a RST; unlisten closes the listener`, async () => {
    const { relay, accepted, fd } = acceptingRelay(on);
    const port = listeningPort(fd);
    try {
      const client = net.connect({ host: '::1', port });
      const reset = new Promise<string | undefined>((resolve) => client.once('error', (e: NodeJS.ErrnoException) => resolve(e.code)));
      await waitFor(() => accepted.length === 1, 'the accept record');
      resetFd(accepted[0]!.fd);
      assert.equal(await reset, 'ECONNRESET');
      const inode = readlinkSync(`/proc/self/fd/${fd}`);
      relay.unlisten(fd);
      await waitFor(() => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) !== inode;
        } catch {
          return true;
        }
      }, 'the listener closed by the thread');
      const refused = net.connect({ host: '::1', port });
      const [e] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
      assert.equal(e.code, 'ECONNREFUSED');
    } finally {
      relay.close();
    }
  });

  test(`accept on the ${on}: acceptConnect failing (an SRH the kernel refuses) throws the errno, and the descriptor stays the caller’s`, async () => {
    const { relay, accepted, fd } = acceptingRelay(on);
    const port = listeningPort(fd);
    const client = net.connect({ host: '::1', port });
    client.on('error', () => undefined);
    try {
      await waitFor(() => accepted.length === 1, 'the accept record');
      const a = accepted[0]!;
      // a routing header of type 0 (deprecated, RFC 5095): the kernel refuses it (EINVAL)
      const bad = Buffer.from([6, 2, 0, 1, 0, 0, 0, 0, ...Buffer.alloc(16)]);
      assert.throws(() => relay.acceptConnect(a.fd, bad, { onDone: () => undefined }), (e: unknown) => typeof (e as NodeJS.ErrnoException).code === 'string' && (e as NodeJS.ErrnoException).syscall!.startsWith('setsockopt'));
      assert.equal(relay.size, 0);
      const reset = new Promise<string | undefined>((resolve) => client.once('error', (e: NodeJS.ErrnoException) => resolve(e.code)));
      resetFd(a.fd); // still ours: a RST
      assert.equal(await reset, 'ECONNRESET');
    } finally {
      client.destroy();
      relay.close();
    }
  });

  test(`accept on the ${on}: while JavaScript is busy, the ${on === 'thread' ? 'thread accepts at most 16 connections ahead of it' : 'loop accepts none'}; the rest wait in the queue and all come`, async () => {
    const { relay, accepted, fd } = acceptingRelay(on);
    const port = listeningPort(fd);
    const n = 40;
    const child = spawn(process.execPath, ['-e', `const net=require('net');for(let i=0;i<${n};i++)net.connect({host:'::1',port:${port}}).on('error',()=>{});setTimeout(()=>{},60000)`], { stdio: 'ignore' });
    try {
      const base = readdirSync('/proc/self/fd').length;
      // the event loop is blocked from here: the relay thread accepts, nothing answers
      const until = Date.now() + 20000;
      while (establishedTo(port) < n && Date.now() < until) {
        // spin: the kernel completes the handshakes without us
      }
      assert.equal(establishedTo(port), n, 'the client connected');
      const settle = Date.now() + 300;
      while (Date.now() < settle) {
        // spin: time for the thread to accept what it may
      }
      const held = readdirSync('/proc/self/fd').length - base;
      if (on === 'thread') assert.ok(held >= 1 && held <= 16, `accepted ahead of JavaScript: ${held}`);
      else assert.equal(held, 0, 'the loop accepts only when JavaScript runs');
      // the loop hands over what it accepted in one callback per readable event: at most 16 each
      // (a microtask runs after each callback: it closes the batch)
      const batches: number[] = [];
      let open = false;
      const take = relay.onAccept!;
      relay.onAccept = (...args) => {
        if (!open) {
          open = true;
          batches.push(0);
          queueMicrotask(() => void (open = false));
        }
        batches[batches.length - 1]!++;
        take(...args);
      };
      await waitFor(() => accepted.length === n, 'every connection accepted');
      if (on === 'loop') assert.ok(Math.max(...batches) <= 16 && batches.length >= 3, `batches: ${batches.join(', ')}`);
      for (const a of accepted) resetFd(a.fd);
    } finally {
      child.kill();
      relay.close();
    }
  });
}

function ipv6(next: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  return Buffer.concat([h, payload]);
}

/** routingHeaderIn's answer in acceptSrhInPacket's terms (a thrown CMSG_MALFORMED: 'malformed') */
function tsWalk(p: Buffer): Buffer | null | 'malformed' {
  try {
    return routingHeaderIn(p);
  } catch (e) {
    assert.ok(isSrError(e, 'CMSG_MALFORMED'));
    return 'malformed';
  }
}

test('the native saved-SYN walk agrees with routingHeaderIn on real and on random header chains', () => {
  const srh = Buffer.from(srhForPath([parseAddress('fc00:a::1:0:0'), parseAddress('fc00:2::2')]));
  srh[0] = 6;
  const hbh = Buffer.from([43, 0, 1, 4, 0, 0, 0, 0]);
  assert.deepEqual(acceptSrhInPacket(ipv6(43, Buffer.concat([srh, Buffer.alloc(20)]))), srh);
  assert.deepEqual(acceptSrhInPacket(ipv6(0, Buffer.concat([hbh, srh, Buffer.alloc(20)]))), srh);
  assert.equal(acceptSrhInPacket(ipv6(6, Buffer.alloc(20))), null);
  assert.equal(typeof acceptSrhInPacket(Buffer.alloc(10)), 'string');
  const next = fc.constantFrom(0, 6, 17, 43, 44, 51, 60);
  const chain = fc.array(fc.tuple(next, fc.integer({ min: 0, max: 40 }), fc.uint8Array({ minLength: 0, maxLength: 64 })), { maxLength: 20 });
  fc.assert(
    fc.property(next, chain, fc.integer({ min: 0, max: 400 }), (first, parts, cut) => {
      const body = Buffer.concat(parts.map(([n, len, rest]) => Buffer.concat([Buffer.from([n, len]), Buffer.from(rest)])));
      const p = ipv6(first, body);
      const packet = p.subarray(0, Math.min(p.length, 40 + cut));
      const ts = tsWalk(packet);
      const c = acceptSrhInPacket(packet);
      if (ts === 'malformed') assert.equal(typeof c, 'string');
      else assert.deepEqual(c, ts);
    }),
    { numRuns: 2000 },
  );
});

test('connectEarly (accept on the loop): the table takes headers (a null onward header too) and forgets them; a refusal pauses early connects for earlyPauseMs; bad input is a TypeError', async () => {
  const relay = new NativeRelay({ reportMs: 5, acceptOn: 'loop', earlyPauseMs: 150 });
  const fd = listenFd({ address: '::1', port: 0, recvRthdr: true });
  relay.listen(fd, false);
  try {
    const syn = Buffer.from(srhForPath([parseAddress('fc00:a::1:0:0'), parseAddress('fc00:2::2')]));
    const onward = Buffer.from(srhForPath([parseAddress('fc00:2::2')]));
    // more headers than the table's 256 slots: it stays bounded (a collision replaces)
    for (let i = 0; i < 600; i++) {
      const s = Buffer.from(syn);
      s.writeUInt32BE(i, s.length - 4);
      relay.earlyLearn(s, i % 2 ? onward : null);
    }
    relay.earlyForget();
    assert.throws(() => relay.earlyLearn(Buffer.alloc(0), null), TypeError);
    assert.equal(relay.earlyPaused, false);
    relay.earlyRefused();
    assert.equal(relay.earlyPaused, true);
    relay.earlyRefused(); // another refusal meanwhile: the pause starts again
    await waitFor(() => !relay.earlyPaused, 'early connects back after the pause');
  } finally {
    relay.close();
  }
});

test('connectEarly off, or accept on the thread: no table, nothing paused', () => {
  for (const o of [{ connectEarly: false, acceptOn: 'loop' as const }, { acceptOn: 'thread' as const }]) {
    const relay = new NativeRelay({ reportMs: 5, ...o });
    relay.listen(listenFd({ address: '::1', port: 0 }), false);
    try {
      relay.earlyLearn(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), null);
      relay.earlyRefused();
      assert.equal(relay.earlyPaused, false);
    } finally {
      relay.close();
    }
  }
});

for (const on of ['loop', 'thread'] as const) {
  test(`accept on the ${on}: bytes the client sent before the answer reach the server once, counted once (sent on at the answer or by the thread)`, async () => {
    const { relay, accepted, fd } = acceptingRelay(on);
    const port = listeningPort(fd);
    const client = net.connect({ host: '::1', port, allowHalfOpen: true });
    await once(client, 'connect');
    const request = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    client.write(request);
    try {
      await waitFor(() => accepted.length === 1, 'the accept record');
      await new Promise((r) => setTimeout(r, 20)); // the request is in the accepted socket's queue
      let final: PairBytes | undefined;
      relay.acceptConnect(accepted[0]!.fd, null, { onDone: (_e, b) => void (final = b) }, {});
      await waitFor(() => accepted.length === 2, 'the onward connection');
      const server = new net.Socket({ fd: accepted[1]!.fd, allowHalfOpen: true, readable: true, writable: true });
      const got: Buffer[] = [];
      server.on('data', (d: Buffer) => got.push(d));
      client.end(Buffer.from('tail'));
      await once(server, 'end');
      assert.equal(Buffer.concat(got).toString(), `${request.toString()}tail`);
      server.end();
      await waitFor(() => final !== undefined, 'the pair done');
      assert.deepEqual(final, { aToB: request.length + 4, bToA: 0 });
      server.destroy();
    } finally {
      client.destroy();
      relay.close();
    }
  });
}
