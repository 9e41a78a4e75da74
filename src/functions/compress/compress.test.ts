import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { chunksOf, sampleData } from '../../sdk/conformance.js';
import { initFunction, MemoryMetrics, runFunction, spawnFlow } from '../../sdk/testing.js';
import type { FunctionDescriptor } from '../../sdk/types.js';
import { decompress } from '../decompress/index.js';
import { FRAME_HEADER_LEN, HEADER_LEN, hasZstd, levelFor } from './codec.js';
import { compress } from './index.js';

const ALGOS = ['gzip', 'deflate', 'brotli', ...(hasZstd() ? ['zstd'] : [])] as const;

/** each algorithm's stock one-shot decompressor (zstd's: Node ≥ 22.15; @types/node 20 does not declare it) */
const STOCK: Record<'gzip' | 'deflate' | 'brotli' | 'zstd', (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gunzipSync(b),
  deflate: (b) => zlib.inflateSync(b),
  brotli: (b) => zlib.brotliDecompressSync(b),
  zstd: (b) => (zlib as unknown as { zstdDecompressSync: (b: Buffer) => Buffer }).zstdDecompressSync(b),
};

/**
 * The tunnel: client → compress → decompress → server, and server → decompress → compress → client.
 * The two ends run as separate flows; each one's output is the other's input.
 */
async function tunnel(options: unknown, up: Buffer[], down: Buffer[], extra: { slowConsumer?: boolean; argument?: number } = {}) {
  const a = await runFunction(compress, { options, upstream: up, ...extra });
  const b = await runFunction(decompress, { options, upstream: [a.upstream], downstream: down, ...extra });
  const c = await runFunction(compress, { options, downstream: [b.downstream], ...extra });
  return { up: b.upstream, down: c.downstream, wireUp: a.upstream, wireDown: b.downstream, resets: [a.reset, b.reset, c.reset], pauses: a.pauses + b.pauses };
}

/** The plain wire stream: the header and frame headers removed (what a stock decompressor reads). */
function unframe(wire: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = HEADER_LEN; i < wire.length; ) {
    const len = wire.readUIntBE(i + 1, 3);
    parts.push(wire.subarray(i + FRAME_HEADER_LEN, i + FRAME_HEADER_LEN + len));
    i += FRAME_HEADER_LEN + len;
  }
  return Buffer.concat(parts);
}

test('levelFor: 0 is the default, in range as is, above the maximum clamped', () => {
  assert.deepEqual(levelFor('gzip', 0n), { level: 6, clamped: false });
  assert.deepEqual(levelFor('gzip', 1n), { level: 1, clamped: false });
  assert.deepEqual(levelFor('gzip', 9n), { level: 9, clamped: false });
  assert.deepEqual(levelFor('gzip', 10n), { level: 9, clamped: true });
  assert.deepEqual(levelFor('brotli', 0n), { level: 5, clamped: false });
  assert.deepEqual(levelFor('brotli', 11n), { level: 11, clamped: false });
  assert.deepEqual(levelFor('brotli', 1n << 100n), { level: 11, clamped: true });
});

test('options: gzip by default; unknown algorithms and fields are rejected naming the field', async () => {
  assert.equal((await initFunction(compress, {})).options.algorithm, 'gzip');
  assert.equal((await initFunction(decompress, { algorithm: 'brotli' })).options.algorithm, 'brotli');
  await assert.rejects(initFunction(compress, { algorithm: 'lz4' }), /options\.algorithm/);
  await assert.rejects(initFunction(compress, { level: 3 }), /CONFIG_INVALID|level|Unrecognized/);
});

test('options: zstd is rejected with a clear message where the runtime has no zstd', { skip: hasZstd() && 'this runtime has zstd' }, async () => {
  await assert.rejects(initFunction(compress, { algorithm: 'zstd' }), (e: Error) => {
    assert.match(e.message, /options\.algorithm: zstd is not available.*createZstdCompress/);
    return true;
  });
});

for (const algorithm of ALGOS) {
  test(`${algorithm}: the tunnel gives both directions back intact, compressed on the wire`, async () => {
    const upData = sampleData(1 << 20, 21);
    const downData = sampleData(3 << 20, 22);
    const r = await tunnel({ algorithm }, chunksOf(upData, 16 * 1024), chunksOf(downData, 64 * 1024));
    assert.deepEqual(r.resets, [undefined, undefined, undefined]);
    assert.ok(r.up.equals(upData), 'upstream differs');
    assert.ok(r.down.equals(downData), 'downstream differs');
    assert.ok(r.wireUp.length < upData.length * 0.8 && r.wireDown.length < downData.length * 0.8, 'not compressed');
    assert.ok(!r.wireUp.includes(upData.subarray(0, 512)), 'plaintext on the wire');
  });

  test(`${algorithm}: 1-byte chunks and 1 MiB chunks give the same plaintext after the pair`, async () => {
    const small = sampleData(24 * 1024, 7);
    const a = await tunnel({ algorithm }, chunksOf(small, 1), chunksOf(small, 1));
    const b = await tunnel({ algorithm }, [small], [small]);
    assert.ok(a.up.equals(small) && a.down.equals(small) && b.up.equals(small) && b.down.equals(small));
    const big = sampleData(3 << 20, 9);
    const m = await tunnel({ algorithm }, chunksOf(big, 1 << 20), chunksOf(big, 1 << 20));
    const k = await tunnel({ algorithm }, chunksOf(big, 1500), chunksOf(big, 1500));
    for (const r of [a, b, m, k]) assert.deepEqual(r.resets, [undefined, undefined, undefined]);
    assert.ok(m.up.equals(big) && m.down.equals(big) && k.up.equals(big) && k.down.equals(big));
  });

  test(`${algorithm}: the frame payloads form a standard stream`, async () => {
    const data = sampleData(200 * 1024, 3);
    const r = await runFunction(compress, { options: { algorithm }, upstream: chunksOf(data, 10_000) });
    const plain = unframe(r.upstream);
    assert.ok(STOCK[algorithm as keyof typeof STOCK](plain).equals(data));
  });
}

test('empty streams stay empty (no header, no reset)', async () => {
  const r = await tunnel({ algorithm: 'gzip' }, [], []);
  assert.deepEqual(r.resets, [undefined, undefined, undefined]);
  assert.equal(r.wireUp.length + r.wireDown.length + r.up.length + r.down.length, 0);
});

test('the argument is the level: 1 and 9 differ, 0 is the default, out of range is clamped', async () => {
  const data = sampleData(512 * 1024, 4);
  const size = async (argument: number) => (await runFunction(compress, { options: { algorithm: 'gzip' }, argument, upstream: [data] })).upstream.length;
  const [l1, l6, l9, l0, big] = [await size(1), await size(6), await size(9), await size(0), await size(0xffffffff)];
  assert.ok(l1 > l9, `level 1 (${l1}) should be bigger than level 9 (${l9})`);
  assert.equal(l0, l6);
  assert.equal(big, l9);
  const some = data.subarray(0, 64 * 1024); // brotli 11 is slow
  const r = await tunnel({ algorithm: 'brotli' }, [some], [some], { argument: 1000 });
  assert.ok(r.up.equals(some) && r.down.equals(some));
});

test('each end decodes what the header names: gzip one way, brotli the other', async () => {
  const data = sampleData(100_000, 5);
  const a = await runFunction(compress, { options: { algorithm: 'gzip' }, upstream: [data] });
  const b = await runFunction(decompress, { options: { algorithm: 'brotli' }, upstream: [a.upstream], downstream: [data] });
  const c = await runFunction(compress, { options: { algorithm: 'gzip' }, downstream: [b.downstream] });
  assert.ok(b.upstream.equals(data) && c.downstream.equals(data));
  assert.equal(b.downstream[3], 3, 'downstream is brotli (algorithm id 3)');
});

test('back-pressure: a slow consumer pauses the source and still gets everything', async () => {
  const data = sampleData(2 << 20, 5);
  const r = await tunnel({ algorithm: 'deflate' }, chunksOf(data, 64 * 1024), chunksOf(data, 64 * 1024), { slowConsumer: true });
  assert.deepEqual(r.resets, [undefined, undefined, undefined]);
  assert.ok(r.up.equals(data) && r.down.equals(data));
  assert.ok(r.pauses > 0, 'the source was never paused');
});

test('a reset in the middle of a flow ends it cleanly, at either end', async () => {
  const data = sampleData(1 << 20, 11);
  const wire = (await runFunction(compress, { upstream: [data] })).upstream;
  for (const [d, input] of [[compress, data], [decompress, wire]] as const) {
    const r = await runFunction(d, { upstream: chunksOf(input, 4096), chunkDelayMs: 2, resetAfterMs: 30 });
    assert.equal(r.reset, 'reset_by_test');
    assert.equal(r.error, undefined);
  }
});

test('metrics count plain and compressed bytes', async () => {
  const metrics = new MemoryMetrics();
  const data = Buffer.alloc(100_000, 'a');
  const r = await runFunction(compress, { options: {}, upstream: [data], metrics });
  assert.equal(metrics.get('compress_bytes_total', { side: 'plain', op: 'compress' }), data.length);
  assert.equal(metrics.get('compress_bytes_total', { side: 'compressed', op: 'compress' }), r.upstream.length);
});

/** A live flow's transforms (not ended: for interactive tests). */
async function live(d: FunctionDescriptor, options: unknown): Promise<{ up: Duplex; down: Duplex; resets: string[] }> {
  const inst = await initFunction(d, options);
  const resets: string[] = [];
  const t = spawnFlow(d, inst.options, inst.state, { reset: (r: string) => void resets.push(r) }).transforms;
  return { up: t.upstream as Duplex, down: t.downstream as Duplex, resets };
}

/** Resolves with what `s` emits once it amounts to `n` bytes; rejects after `ms`. */
function collect(s: Duplex, n: number, ms = 2000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => reject(new Error(`only ${got} of ${n} bytes after ${ms} ms`)), ms);
    const on = (b: Buffer): void => {
      parts.push(b);
      got += b.length;
      if (got >= n) {
        clearTimeout(timer);
        s.off('data', on);
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', on);
  });
}

for (const algorithm of ALGOS) {
  test(`${algorithm}: interactive request/response through both ends, without ending either stream`, async () => {
    const client = await live(compress, { algorithm });
    const server = await live(decompress, { algorithm });
    client.up.pipe(server.up);
    server.down.pipe(client.down);
    try {
      for (let i = 0; i < 3; i++) {
        const request = Buffer.from(`GET /${i} HTTP/1.1\r\nHost: example\r\n\r\n`);
        const gotRequest = collect(server.up, request.length);
        client.up.write(request);
        assert.ok((await gotRequest).equals(request));
        const response = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n${i}!`);
        const gotResponse = collect(client.down, response.length);
        server.down.write(response);
        assert.ok((await gotResponse).equals(response));
      }
      assert.deepEqual([...client.resets, ...server.resets], []);
    } finally {
      for (const s of [client.up, client.down, server.up, server.down]) s.destroy();
    }
  });
}
