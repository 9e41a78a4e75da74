import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { validateOptions } from '../../sdk/context.js';
import { initFunction, runFunction, spawnFlow } from '../../sdk/testing.js';
import { isSyncTransform } from '../../sdk/types.js';
import { ratelimit, rateFor } from './index.js';
import { HIGH_WATER_MARK, RateLimiter, TokenBucket } from './limiter.js';

function chunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/** spawns a flow's transforms directly (no relay) */
function spawnWith(raw: unknown, argument: bigint) {
  const options = validateOptions(ratelimit.options, raw);
  const { transforms: t, abort } = spawnFlow(ratelimit, options, undefined, { argument });
  return { t, abort };
}

test('ratelimit: 200 kB at 100 kB/s takes about 2 s in each direction, with back-pressure, output intact', async () => {
  const up = randomBytes(200_000);
  const down = randomBytes(200_000);
  const started = performance.now();
  const r = await runFunction(ratelimit, { options: { burst: 1000 }, argument: 100_000n, upstream: chunks(up, 4000), downstream: chunks(down, 10_000) });
  const ms = performance.now() - started;
  assert.equal(r.reset, undefined);
  assert.ok(r.upstream.equals(up));
  assert.ok(r.downstream.equals(down));
  assert.ok(ms >= 1800, `took ${ms.toFixed(0)} ms, expected ≥ 1800 (199 kB after a 1 kB burst at 100 kB/s)`);
  assert.ok(r.pauses > 0, 'the sources were paused (back-pressure, not buffering)');
});

test('ratelimit: the multiplier scales the argument (50 × 1000 = 50 kB/s)', async () => {
  const data = randomBytes(60_000);
  const started = performance.now();
  const r = await runFunction(ratelimit, { options: { burst: 10_000, multiplier: 1000, directions: 'upstream' }, argument: 50n, upstream: chunks(data, 5000) });
  const ms = performance.now() - started;
  assert.ok(r.upstream.equals(data));
  assert.ok(ms >= 900, `took ${ms.toFixed(0)} ms, expected ≥ 900 (50 kB after a 10 kB burst at 50 kB/s)`);
});

test('ratelimit: argument 0 is unlimited; directions picks what is limited', () => {
  const zero = spawnWith({}, 0n);
  assert.ok(isSyncTransform(zero.t.upstream) && isSyncTransform(zero.t.downstream));
  const upOnly = spawnWith({ directions: 'upstream' }, 1000n);
  assert.ok(upOnly.t.upstream instanceof RateLimiter);
  assert.ok(isSyncTransform(upOnly.t.downstream));
  const downOnly = spawnWith({ directions: 'downstream' }, 1000n);
  assert.ok(isSyncTransform(downOnly.t.upstream));
  assert.ok(downOnly.t.downstream instanceof RateLimiter);
  upOnly.abort.abort();
  downOnly.abort.abort();
  assert.ok((upOnly.t.upstream as RateLimiter).destroyed, 'the flow ending destroys the limiter (timers stopped)');
});

test('ratelimit: memory stays bounded when the input is much faster than the rate', async () => {
  const { t, abort } = spawnWith({ burst: 4096 }, 4_000_000n);
  const limiter = t.upstream as RateLimiter;
  let maxHeld = 0;
  let maxAhead = 0;
  let produced = 0;
  const total = 4 * 1024 * 1024;
  const source = new Readable({
    highWaterMark: 65536,
    read() {
      if (produced >= total) return void this.push(null);
      produced += 65536;
      this.push(Buffer.alloc(65536, 1));
    },
  });
  let received = 0;
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      received += chunk.length;
      maxHeld = Math.max(maxHeld, limiter.writableLength + limiter.readableLength);
      maxAhead = Math.max(maxAhead, produced - received);
      cb();
    },
  });
  const started = performance.now();
  await pipeline(source, limiter, sink);
  abort.abort();
  assert.equal(received, total);
  assert.ok(performance.now() - started >= 900, 'rate-limited: 4 MiB at 4 MB/s');
  assert.ok(maxHeld <= 2 * HIGH_WATER_MARK + 2 * 65536, `the limiter held ${maxHeld} bytes`);
  assert.ok(maxAhead <= 6 * 65536, `the source ran ${maxAhead} bytes ahead of the output`);
});

test('token bucket: starts full, refills at the rate, never above capacity', () => {
  let now = 0;
  const b = new TokenBucket(1000, 500, () => now);
  assert.equal(b.take(500), 0);
  assert.equal(b.take(100), 100); // 100 bytes at 1000 B/s: 100 ms
  now += 100;
  assert.equal(b.take(100), 0);
  now += 10_000;
  assert.equal(b.take(500), 0);
  assert.ok(b.take(1) > 0, 'capacity caps what a long pause saves up');
});

test('ratelimit options: burst raised to 10 ms of the rate; bad options rejected', async () => {
  const o = (await initFunction(ratelimit, {})).options;
  assert.deepEqual(o, { burst: 16384, multiplier: 1, directions: 'both' });
  assert.deepEqual(rateFor(100_000n, o), { rate: 100_000, capacity: 16384 });
  assert.deepEqual(rateFor(125_000_000n, o), { rate: 125_000_000, capacity: 1_250_000 });
  assert.equal(rateFor(0n, o), null);
  await assert.rejects(initFunction(ratelimit, { burst: 0 }), /options\.burst/);
  await assert.rejects(initFunction(ratelimit, { directions: 'sideways' }), /options\.directions/);
});

test('ratelimit: a wait longer than a timer holds is not a 1 ms busy loop (issue 12 item 9)', async () => {
  // as 1 byte/s with a 1 GiB bucket (whose second 512 MiB piece waits 17 years), scaled down: 1e-7 byte/s, a 2-byte bucket
  let asked = 0;
  class Counting extends TokenBucket {
    override take(n: number): number {
      asked++;
      return super.take(n);
    }
  }
  const limiter = new RateLimiter(new Counting(1e-7, 2));
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    limiter.write(Buffer.alloc(3));
    limiter.resume();
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(asked, 3, `the bucket was asked ${asked} times in 60 ms`);
    assert.deepEqual(warnings.filter((w) => w === 'TimeoutOverflowWarning'), []);
  } finally {
    process.off('warning', onWarning);
    limiter.destroy();
  }
});
