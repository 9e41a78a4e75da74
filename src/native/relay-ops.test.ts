/**
 * The native relay's function ops (native/relay-ops.c) over real loopback TCP sockets: xor both ways
 * for odd lengths and every mode, a chain xor∘xor that is the identity, a rate limit that holds, and
 * the addon's XOR kernel against a byte loop for every alignment; bad ops are refused before handover.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { encodeRelayOps, NativeRelay, type PairBytes, type PairOps, type RelayMode, type RelayOp } from './relay.js';
import { nativeXor } from './xor.js';
import { loopbackSockets } from './test-streams.js';

interface Ends {
  client: net.Socket;
  server: net.Socket;
  done: Promise<{ end: string; bytes: PairBytes }>;
  close(): void;
}

/** client -> [accepted | relay with `ops` | outbound] -> server */
async function relayed(relay: NativeRelay, ops: PairOps): Promise<Ends> {
  const { client, accepted, outbound, server, close } = await loopbackSockets();
  let resolve!: (v: { end: string; bytes: PairBytes }) => void;
  const done = new Promise<{ end: string; bytes: PairBytes }>((r) => (resolve = r));
  relay.adopt(accepted, outbound, { onDone: (end, bytes) => resolve({ end, bytes }) }, ops);
  client.on('error', () => undefined);
  server.on('error', () => undefined);
  return {
    client,
    server,
    done,
    close,
  };
}

/** Writes `data` in pieces of odd sizes, with back-pressure, then ends. */
async function write(s: net.Socket, data: Buffer): Promise<void> {
  for (let i = 0, k = 0; i < data.length; k++) {
    const n = Math.min(data.length - i, [1, 4093, 65_537, 777][k % 4]!);
    if (!s.write(data.subarray(i, i + n))) await once(s, 'drain');
    i += n;
  }
  s.end();
}

function readAll(s: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (b: Buffer) => parts.push(b));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

function xorRef(data: Buffer, key: number, passes: number): Buffer {
  const out = Buffer.from(data);
  if (passes % 2 === 1) for (let i = 0; i < out.length; i++) out[i] = out[i]! ^ key;
  return out;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

for (const mode of ['splice', 'copy', 'auto'] as RelayMode[]) {
  test(`${mode}: xor both ways, random data of odd lengths, passes 1 and 3`, async () => {
    const relay = new NativeRelay({ mode, capacity: 64 * 1024 });
    try {
      for (const [len, passes] of [
        [1, 1],
        [4097, 3],
        [1_000_003, 1],
        [3_333_333, 3],
      ] as const) {
        const up = randomBytes(len);
        const down = randomBytes(len + 2);
        const e = await relayed(relay, { aToB: [{ op: 'xor', key: 0x5a, passes }], bToA: [{ op: 'xor', key: 0xc3, passes }] });
        try {
          const [atServer, atClient] = await Promise.all([readAll(e.server), readAll(e.client), write(e.client, up), write(e.server, down)]);
          assert.equal(sha(atServer), sha(xorRef(up, 0x5a, passes)), `${len} bytes up, ${passes} passes`);
          assert.equal(sha(atClient), sha(xorRef(down, 0xc3, passes)), `${len + 2} bytes down`);
          const d = await e.done;
          assert.equal(d.end, 'ok');
          assert.deepEqual(d.bytes, { aToB: len, bToA: len + 2 });
        } finally {
          e.close();
        }
      }
    } finally {
      relay.close();
    }
  });
}

test('a chain xor∘xor (passes 1 then 3, same key) is the identity; one direction only', async () => {
  const relay = new NativeRelay({ mode: 'auto' });
  const e = await relayed(relay, {
    aToB: [
      { op: 'xor', key: 0x77, passes: 1 },
      { op: 'xor', key: 0x77, passes: 3 },
    ],
    bToA: [{ op: 'xor', key: 0x01, passes: 1 }],
  });
  try {
    const up = randomBytes(2_000_001);
    const down = randomBytes(100_001);
    const [atServer, atClient] = await Promise.all([readAll(e.server), readAll(e.client), write(e.client, up), write(e.server, down)]);
    assert.equal(sha(atServer), sha(up));
    assert.equal(sha(atClient), sha(xorRef(down, 0x01, 1)));
  } finally {
    e.close();
    relay.close();
  }
});

test('ratelimit: 200 kB/s with a 16 kB bucket holds 600 kB back for well over a second; the other direction is not limited', async () => {
  for (const mode of ['splice', 'copy'] as RelayMode[]) {
    const relay = new NativeRelay({ mode, capacity: 64 * 1024 });
    const e = await relayed(relay, { aToB: [{ op: 'ratelimit', rate: 200_000, burst: 16_000 }] });
    try {
      const up = randomBytes(600_000);
      const down = randomBytes(600_000);
      const started = performance.now();
      let downMs = 0;
      const [atServer, atClient] = await Promise.all([
        readAll(e.server),
        readAll(e.client).then((b) => ((downMs = performance.now() - started), b)),
        write(e.client, up),
        write(e.server, down),
      ]);
      const upMs = performance.now() - started;
      assert.ok(atServer.equals(up) && atClient.equals(down), 'intact');
      // 584 kB after the bucket at 200 kB/s is 2.9 s: a working limit cannot be under 2 s whatever the load
      assert.ok(upMs >= 2000, `${mode}: 600 kB at 200 kB/s took ${upMs.toFixed(0)} ms`);
      assert.ok(downMs < upMs, `${mode}: the unlimited direction finished first (${downMs.toFixed(0)} vs ${upMs.toFixed(0)} ms)`);
      assert.equal((await e.done).end, 'ok');
    } finally {
      e.close();
      relay.close();
    }
  }
});

test('ratelimit: a stalled pair waiting for tokens is aborted and freed cleanly', async () => {
  const relay = new NativeRelay({ mode: 'copy' });
  const e = await relayed(relay, { aToB: [{ op: 'ratelimit', rate: 1, burst: 1 }] });
  try {
    e.client.write(Buffer.alloc(10));
    const got = once(e.server, 'data');
    await got; // the first byte (the bucket's one token)
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(relay.size, 1);
    const pairDone = e.done;
    // a relay close resets what is left, waiting or not
    relay.close();
    assert.equal((await pairDone).end, 'closed');
  } finally {
    e.close();
  }
});

test('ops the relay cannot run are refused before the handover (RELAY_OPS): the sockets stay JavaScript\'s', async () => {
  for (const bad of [
    { op: 'xor', key: 256, passes: 1 },
    { op: 'xor', key: 1, passes: 1.5 },
    { op: 'xor', key: 1, passes: 1025 },
    { op: 'ratelimit', rate: 0, burst: 10 },
    { op: 'ratelimit', rate: 10, burst: 0.5 },
    { op: 'ratelimit', rate: Infinity, burst: 10 },
    { op: 'gzip' },
  ]) {
    assert.throws(() => encodeRelayOps([bad as RelayOp]), (e) => isSrError(e, 'RELAY_OPS'), JSON.stringify(bad));
  }
  assert.throws(() => encodeRelayOps(Array.from({ length: 65 }, () => ({ op: 'xor', key: 1, passes: 1 }) as RelayOp)), (e) => isSrError(e, 'RELAY_OPS'));
  assert.deepEqual([...encodeRelayOps([{ op: 'xor', key: 3, passes: 2 }, { op: 'ratelimit', rate: 5, burst: 6 }])], [1, 3, 2, 2, 5, 6]);
  const relay = new NativeRelay();
  const srv = net.createServer().listen(0, '::1');
  await once(srv, 'listening');
  const c = net.connect({ host: '::1', port: (srv.address() as net.AddressInfo).port });
  const [[s]] = (await Promise.all([once(srv, 'connection'), once(c, 'connect')])) as [[net.Socket], unknown];
  try {
    assert.throws(() => relay.adopt(c, s, { onDone: () => undefined }, { aToB: [{ op: 'xor', key: -1, passes: 1 }] }), (e) => isSrError(e, 'RELAY_OPS'));
    assert.equal(c.destroyed || s.destroyed, false, 'not taken over');
    assert.equal(relay.size, 0);
    const got = once(s, 'data');
    c.write('still ours');
    assert.equal(String((await got)[0]), 'still ours');
  } finally {
    c.destroy();
    s.destroy();
    srv.close();
    relay.close();
  }
});

test('the addon\'s XOR kernel matches a byte loop for every alignment and length', { skip: nativeXor() === undefined && 'no addon' }, () => {
  const kernel = nativeXor()!;
  const base = randomBytes(1200);
  for (let off = 0; off < 64; off += 1) {
    for (const len of [0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255, 256, 257, 1000]) {
      const buf = Buffer.from(base);
      const view = buf.subarray(off, off + len);
      const want = xorRef(view, 0xa5, 1);
      kernel(view, 0xa5, 3);
      assert.ok(view.equals(want), `offset ${off} length ${len}`);
      assert.ok(buf.subarray(0, off).equals(base.subarray(0, off)) && buf.subarray(off + len).equals(base.subarray(off + len)), 'nothing outside the view is touched');
    }
  }
  const two = Buffer.from(base);
  kernel(two, 0x3c, 2);
  assert.ok(two.equals(base), 'even passes are the identity');
  assert.throws(() => kernel(Buffer.alloc(1), 256, 1), /xorInPlace/);
});
