import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { chunksOf, sampleData } from '../../sdk/conformance.js';
import { MemoryMetrics, runFunction } from '../../sdk/testing.js';
import { crc32, FRAME_DATA, FRAME_END, FRAME_HEADER_LEN, frameHeader, HEADER_LEN, streamHeader } from '../compress/codec.js';
import { compress } from '../compress/index.js';
import { CORRUPT_REASON, decompress } from './index.js';

const DATA = sampleData(1 << 20, 31);

/** The compressed stream of DATA (gzip), as compress sends it upstream. */
async function wire(algorithm = 'gzip', data = DATA): Promise<Buffer> {
  const r = await runFunction(compress, { options: { algorithm }, upstream: chunksOf(data, 32 * 1024) });
  assert.equal(r.reset, undefined);
  return r.upstream;
}

/** Offsets of the frames in a wire stream. */
function frames(w: Buffer): { at: number; type: number; len: number }[] {
  const out = [];
  for (let i = HEADER_LEN; i < w.length; ) {
    const len = w.readUIntBE(i + 1, 3);
    out.push({ at: i, type: w[i]!, len });
    i += FRAME_HEADER_LEN + len;
  }
  return out;
}

/**
 * Runs `input` into decompress upstream; it must be reset, having delivered only a prefix of `plain`
 * (`whole`: all of it may have come through, e.g. only the end frame is missing).
 */
async function expectReset(input: Buffer | Buffer[], plain = DATA, whole = false): Promise<Buffer> {
  const chunk = 16 * 1024;
  const metrics = new MemoryMetrics();
  const r = await runFunction(decompress, { upstream: Buffer.isBuffer(input) ? chunksOf(input, chunk) : input, metrics });
  assert.equal(r.reset, CORRUPT_REASON);
  if (!whole) assert.ok(r.upstream.length < plain.length, 'everything was delivered');
  assert.ok(plain.subarray(0, r.upstream.length).equals(r.upstream), 'what was delivered is not a prefix of the plaintext');
  assert.equal(metrics.get('compress_corrupt_total'), 1);
  return r.upstream;
}

test('the reverse tunnel: decompress compresses downstream, compress decompresses it', async () => {
  for (const algorithm of ['gzip', 'deflate', 'brotli']) {
    const b = await runFunction(decompress, { options: { algorithm }, downstream: chunksOf(DATA, 4096) });
    assert.ok(b.downstream.length < DATA.length);
    const c = await runFunction(compress, { options: { algorithm }, downstream: chunksOf(b.downstream, 1000) });
    assert.equal(c.reset, undefined);
    assert.ok(c.downstream.equals(DATA), algorithm);
  }
});

test('garbage (not a tunnel stream) resets at once, nothing delivered', async () => {
  assert.equal((await expectReset(randomBytes(100_000))).length, 0);
  assert.equal((await expectReset(zlib.gzipSync(DATA))).length, 0, 'a bare gzip stream is not a tunnel stream');
});

test('a bad version or an unknown algorithm id resets', async () => {
  const w = await wire();
  for (const [at, v] of [[2, 9], [3, 0], [3, 77]] as const) {
    const bad = Buffer.from(w);
    bad[at] = v;
    assert.equal((await expectReset(bad)).length, 0);
  }
});

test('a flipped byte in a frame resets before that frame’s plaintext is delivered', async () => {
  const w = await wire();
  const fs = frames(w);
  assert.ok(fs.length >= 4);
  const target = fs[2]!;
  for (const offset of [target.at + FRAME_HEADER_LEN + Math.floor(target.len / 2), target.at + 5, target.at + 1]) {
    const bad = Buffer.from(w);
    bad[offset] = bad[offset]! ^ 0x10;
    const got = await expectReset(bad);
    assert.ok(got.length <= 2 * 64 * 1024, `delivered ${got.length} bytes: past the tampered frame`);
  }
});

test('truncation: a stream cut mid-frame, or without its end frame, resets', async () => {
  const w = await wire();
  const fs = frames(w);
  const end = fs[fs.length - 1]!;
  assert.equal(end.type, FRAME_END);
  await expectReset(w.subarray(0, fs[3]!.at + 20));
  const got = await expectReset(w.subarray(0, end.at), DATA, true);
  assert.ok(got.length > 0, 'complete frames before the cut are delivered');
  await expectReset(w.subarray(0, 3), DATA);
});

test('bytes after the end frame reset', async () => {
  const w = await wire('gzip', Buffer.from('hello'));
  await expectReset([w, Buffer.from('x')], Buffer.from('hello'), true);
});

test('a compressed stream that ends inside a data frame, then goes on: reset, no hang', async () => {
  const hello = Buffer.from('hello');
  for (const [algorithm, full] of [['gzip', zlib.gzipSync(hello)], ['deflate', zlib.deflateSync(hello)], ['brotli', zlib.brotliCompressSync(hello)]] as const) {
    const more = Buffer.from('more!');
    const input = Buffer.concat([streamHeader(algorithm), frameHeader(FRAME_DATA, full.length, crc32(hello)), full, frameHeader(FRAME_DATA, more.length, 0), more, frameHeader(FRAME_END, 0, 0)]);
    const r = await runFunction(decompress, { upstream: [input], timeoutMs: 5000 });
    assert.equal(r.reset, CORRUPT_REASON, algorithm);
    assert.ok(r.upstream.length === 0 || r.upstream.equals(hello), algorithm);
  }
});

test('a decompression bomb is stopped: a frame may not decode to more than 64 KiB', async () => {
  const bomb = Buffer.alloc(16 << 20);
  const payload = zlib.deflateSync(bomb, { flush: zlib.constants.Z_SYNC_FLUSH });
  const input = Buffer.concat([streamHeader('deflate'), frameHeader(FRAME_DATA, payload.length, crc32(bomb)), payload]);
  assert.equal((await expectReset(input, bomb)).length, 0);
});

test('a frame longer than the limit is refused from its header', async () => {
  const input = Buffer.concat([streamHeader('gzip'), frameHeader(FRAME_DATA, 5 << 20, 0)]);
  assert.equal((await expectReset(input)).length, 0);
});

test('corrupt input on compress’s downstream resets too', async () => {
  const b = await runFunction(decompress, { downstream: [DATA] });
  const bad = Buffer.from(b.downstream);
  const mid = Math.floor(bad.length / 2);
  bad[mid] = bad[mid]! ^ 0xff;
  const c = await runFunction(compress, { downstream: chunksOf(bad, 8192) });
  assert.equal(c.reset, CORRUPT_REASON);
  assert.ok(DATA.subarray(0, c.downstream.length).equals(c.downstream));
  assert.ok(c.downstream.length < DATA.length);
});
