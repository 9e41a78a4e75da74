/**
 * The native relay over loopback, in both modes (splice, copy): bytes intact both ways, half-close,
 * resets each way, a stalled reader, abort, close, many pairs without a descriptor leak.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { NativeRelay, type AdoptOptions, type PairBytes, type TimeWaitResult, type PairEnd, type PairEvents, type RelayMode, type RelayPair } from './relay.js';
import { loopbackSockets } from './test-streams.js';

interface Harness {
  client: net.Socket;
  server: net.Socket;
  pair: RelayPair;
  events: { eofs: string[]; resets: string[]; done: Promise<{ end: PairEnd; bytes: PairBytes }> };
  close(): void;
}

/** client -> [front listener | relay | outbound] -> server, the middle handed to the relay once both ends are up. */
async function through(relay: NativeRelay, opts: { allowHalfOpen?: boolean; adopt?: AdoptOptions } = {}): Promise<Harness> {
  const { client, accepted, outbound, server, close } = await loopbackSockets({ clientAllowHalfOpen: opts.allowHalfOpen ?? true });
  const eofs: string[] = [];
  const resets: string[] = [];
  let resolveDone!: (v: { end: PairEnd; bytes: PairBytes }) => void;
  const done = new Promise<{ end: PairEnd; bytes: PairBytes }>((r) => (resolveDone = r));
  const ev: PairEvents = {
    onEof: (d) => eofs.push(d),
    onReset: (side, code) => resets.push(`${side}:${code}`),
    onDone: (end, bytes) => resolveDone({ end, bytes }),
  };
  const pair = relay.adopt(accepted, outbound, ev, opts.adopt);
  client.on('error', () => undefined);
  server.on('error', () => undefined);
  return {
    client,
    server,
    pair,
    events: { eofs, resets, done },
    close,
  };
}

/** A deterministic byte stream of `total` bytes, written with back-pressure; resolves to its sha256. */
async function send(s: net.Socket, total: number, seed: number, end = true): Promise<string> {
  const h = createHash('sha256');
  const chunk = Buffer.alloc(64 * 1024);
  let x = seed >>> 0 || 1;
  for (let sent = 0; sent < total; ) {
    const n = Math.min(chunk.length, total - sent);
    for (let i = 0; i < n; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      chunk.writeUInt32LE(x >>> 0, i);
    }
    const b = Buffer.from(chunk.subarray(0, n));
    h.update(b);
    sent += n;
    if (!s.write(b)) await once(s, 'drain');
  }
  if (end) s.end();
  return h.digest('hex');
}

/** Reads to the end (FIN): the sha256 and length of what came. */
function receive(s: net.Socket): Promise<{ sha: string; length: number }> {
  const h = createHash('sha256');
  let length = 0;
  s.on('data', (b: Buffer) => {
    h.update(b);
    length += b.length;
  });
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve({ sha: h.digest('hex'), length }));
    s.once('error', reject);
  });
}

function errorOf(s: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    s.once('end', () => resolve('end'));
  });
}

const fds = (): number => readdirSync('/proc/self/fd').length;
const MB = 1024 * 1024;

async function waitFor(cond: () => boolean, what: string, ms = 20000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const mode of ['splice', 'copy', 'auto'] as RelayMode[]) {
  test(`${mode}: 50 MB each way at once, intact (sha256), counted, both EOFs, ends ok`, async () => {
    const relay = new NativeRelay({ mode, capacity: 64 * 1024 });
    const h = await through(relay);
    try {
      const [upSent, downSent, atServer, atClient] = await Promise.all([send(h.client, 50 * MB, 1), send(h.server, 50 * MB, 2), receive(h.server), receive(h.client)]);
      assert.equal(atServer.sha, upSent);
      assert.equal(atClient.sha, downSent);
      assert.equal(atServer.length, 50 * MB);
      const { end, bytes } = await h.events.done;
      assert.equal(end, 'ok');
      assert.deepEqual(bytes, { aToB: 50 * MB, bToA: 50 * MB });
      assert.deepEqual(h.events.eofs.sort(), ['aToB', 'bToA']);
      assert.equal(h.pair.stats(), null);
    } finally {
      h.close();
      relay.close();
    }
  });

  test(`${mode}: an EOF does not wake JavaScript on its own: it comes with the report period or the pair's end, before the end`, async () => {
    const relay = new NativeRelay({ mode, reportMs: 60000 });
    const h = await through(relay);
    try {
      const request = receive(h.server);
      h.client.end(Buffer.from('GET all\n'));
      assert.equal((await request).length, 8);
      // the FIN is at the server: JavaScript hears of it only with the next urgent record (reportMs: a minute)
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(h.events.eofs, []);
      const reply = receive(h.client);
      h.server.end(Buffer.from('bye'));
      assert.equal((await reply).length, 3);
      const { end, bytes } = await h.events.done;
      assert.equal(end, 'ok');
      assert.deepEqual(bytes, { aToB: 8, bToA: 3 });
      assert.deepEqual(h.events.eofs, ['aToB', 'bToA']);
    } finally {
      h.close();
      relay.close();
    }
  });

  test(`${mode}: half-close: the client's FIN reaches the server, which then sends a large reply`, async () => {
    const relay = new NativeRelay({ mode });
    const h = await through(relay);
    try {
      const request = receive(h.server);
      const reply = receive(h.client);
      h.client.end(Buffer.from('GET all\n'));
      const got = await request;
      assert.equal(got.length, 8);
      await waitFor(() => h.events.eofs.includes('aToB'), 'the aToB EOF event');
      const sent = await send(h.server, 8 * MB, 3);
      assert.equal((await reply).sha, sent);
      const { end, bytes } = await h.events.done;
      assert.equal(end, 'ok');
      assert.deepEqual(bytes, { aToB: 8, bToA: 8 * MB });
    } finally {
      h.close();
      relay.close();
    }
  });

  for (const [who, other, side] of [
    ['client', 'server', 'a'],
    ['server', 'client', 'b'],
  ] as const) {
    test(`${mode}: a reset from the ${who} resets the ${other}`, async () => {
      const relay = new NativeRelay({ mode });
      const h = await through(relay);
      try {
        h.client.write('x');
        await once(h.server, 'data');
        const seen = errorOf(h[other]);
        h[who].resetAndDestroy();
        assert.equal(await seen, 'ECONNRESET');
        const { end } = await h.events.done;
        assert.equal(end, 'reset');
        assert.deepEqual(h.events.resets, [`${side}:ECONNRESET`]);
      } finally {
        h.close();
        relay.close();
      }
    });
  }

  test(`${mode}: a stalled reader: at most capacity held by the relay, the writer is held back, nothing lost after`, async () => {
    const capacity = 64 * 1024;
    const relay = new NativeRelay({ mode, capacity });
    const h = await through(relay);
    try {
      h.client.pause();
      // write until the socket's buffers, the relay's and the client's are full: no 'drain' for 500 ms
      let written = 0;
      const chunk = Buffer.alloc(256 * 1024, 7);
      for (;;) {
        written += chunk.length;
        if (h.server.write(chunk)) continue;
        const drained = await Promise.race([once(h.server, 'drain').then(() => true), new Promise((r) => setTimeout(r, 500, false))]);
        if (!drained) break;
        assert.ok(written < 512 * MB, 'the writer was never held back');
      }
      // the relay stops moving once the client's buffers are full: two equal samples in a row
      let last = -1;
      await waitFor(() => {
        const s = h.pair.stats()!;
        assert.ok(s.queuedBToA <= capacity, `queued ${s.queuedBToA}`);
        const same = s.bToA === last;
        last = s.bToA;
        return same && s.bToA > 0;
      }, 'the relay to stall');
      await new Promise((r) => setTimeout(r, 200));
      const s = h.pair.stats()!;
      assert.equal(s.bToA, last);
      assert.ok(s.queuedBToA <= capacity);
      assert.ok(h.server.writableLength > 0, 'the server is held back');
      const got = receive(h.client);
      h.server.end();
      h.client.resume();
      assert.equal((await got).length, written);
      h.client.end();
      assert.equal((await h.events.done).bytes.bToA, written);
    } finally {
      h.close();
      relay.close();
    }
  });

  test(`${mode}: abort resets both sides; idle time and counters readable before`, async () => {
    const relay = new NativeRelay({ mode });
    const h = await through(relay);
    try {
      h.client.write('hello');
      await once(h.server, 'data');
      await waitFor(() => h.pair.stats()!.idleMs >= 50, 'idle time to grow');
      assert.equal(h.pair.stats()!.aToB, 5);
      const c = errorOf(h.client);
      const s = errorOf(h.server);
      assert.equal(h.pair.abort(), true);
      assert.deepEqual(await Promise.all([c, s]), ['ECONNRESET', 'ECONNRESET']);
      assert.equal((await h.events.done).end, 'aborted');
      assert.equal(h.pair.abort(), false);
    } finally {
      h.close();
      relay.close();
    }
  });
}

test('close: the pairs still relayed end as closed (both sides reset)', async () => {
  const relay = new NativeRelay();
  const h = await through(relay);
  try {
    const c = errorOf(h.client);
    relay.close();
    assert.equal(await c, 'ECONNRESET');
    assert.equal((await h.events.done).end, 'closed');
    assert.throws(() => relay.addFds(0, 1, { onDone: () => undefined }), (e) => isSrError(e, 'RELAY_HANDOVER'));
  } finally {
    h.close();
  }
});

test('adopt refuses a socket with bytes buffered in JavaScript, and leaves it alone', async () => {
  const relay = new NativeRelay();
  const srv = net.createServer();
  srv.listen(0, '::1');
  await once(srv, 'listening');
  const accepted = once(srv, 'connection') as Promise<[net.Socket]>;
  const a = net.connect({ host: '::1', port: (srv.address() as net.AddressInfo).port });
  await once(a, 'connect');
  const [b] = await accepted;
  try {
    a.cork();
    a.write('pending');
    assert.throws(() => relay.adopt(a, b, { onDone: () => undefined }), (e) => isSrError(e, 'RELAY_HANDOVER'));
    assert.equal(a.destroyed, false);
    assert.equal(relay.size, 0);
  } finally {
    a.destroy();
    b.destroy();
    srv.close();
    relay.close();
  }
});

test('200 pairs at once (each mode), each 100 KB each way: all intact, no descriptor left behind', async () => {
  for (const mode of ['splice', 'copy', 'auto'] as RelayMode[]) {
    const relay = new NativeRelay({ mode });
    const before = fds();
    const hs = await Promise.all(Array.from({ length: 200 }, () => through(relay)));
    try {
      await Promise.all(
        hs.map(async (h, i) => {
          const [up, down, atServer, atClient] = await Promise.all([send(h.client, 100 * 1024, i + 10), send(h.server, 100 * 1024, i + 1000), receive(h.server), receive(h.client)]);
          assert.equal(atServer.sha, up);
          assert.equal(atClient.sha, down);
          assert.equal((await h.events.done).end, 'ok');
        }),
      );
      assert.equal(relay.size, 0);
    } finally {
      for (const h of hs) h.close();
      relay.close();
    }
    await waitFor(() => fds() <= before, `descriptors back to ${before} (now ${fds()})`);
  }
});

/** TIME_WAIT sockets on loopback between these ports (ss), as "local remote" lines. */
function timeWaits(local: number, remote: number): string {
  return execFileSync('ss', ['-Htan', 'state', 'time-wait', `( sport = :${local} and dport = :${remote} )`], { encoding: 'utf8' }).trim();
}

for (const serverFirst of [true, false]) {
  test(`releaseTimeWait: ${serverFirst ? 'the server ends first (an active close at the front): its TIME_WAIT is destroyed from the relay thread' : 'the client ends first (a passive close): nothing to release'}`, async () => {
    const relay = new NativeRelay({ mode: 'copy' });
    const results: TimeWaitResult[] = [];
    relay.onTimeWait = (r) => results.push(r);
    const h = await through(relay, { adopt: { releaseTimeWait: true } });
    const front = { local: h.client.remotePort!, remote: h.client.localPort! };
    try {
      h.client.on('end', () => h.client.end());
      h.server.on('end', () => h.server.end());
      h.client.resume();
      h.server.resume();
      const closed = Promise.all([once(h.client, 'close'), once(h.server, 'close')]);
      (serverFirst ? h.server : h.client).end();
      await closed;
      assert.equal((await h.events.done).end, 'ok');
      if (!serverFirst) {
        // a release would come within ~1.3 s of retries: give it the time to show up if there were one
        await new Promise((r) => setTimeout(r, 1500));
        assert.deepEqual(results, []);
        return;
      }
      await waitFor(() => results.length > 0, 'the release result');
      if (process.getuid?.() === 0) {
        assert.deepEqual(results, ['destroyed']);
        assert.equal(timeWaits(front.local, front.remote), '', 'no TIME_WAIT left for the front tuple');
      } else {
        assert.deepEqual(results, ['unsupported'], 'without CAP_NET_ADMIN');
      }
    } finally {
      h.close();
      relay.close();
    }
  });
}
