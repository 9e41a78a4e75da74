import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameQueue, queueLimitsFor } from './queue.js';

/** Writes a frame of `len` bytes filled with `tag` at the reserved offset. */
function put(q: FrameQueue, len: number, tag: number, due: number): boolean {
  const at = q.reserve();
  if (at < 0) return false;
  q.slab.fill(tag, at, at + len);
  q.commit(len, due);
  return true;
}

function take(q: FrameQueue): { tag: number; len: number; due: number } {
  const off = q.headOffset();
  const len = q.headLength();
  const f = { tag: q.slab[off]!, len, due: q.headDue() };
  for (let i = off; i < off + len; i++) assert.equal(q.slab[i], f.tag, 'frame bytes intact');
  q.shift();
  return f;
}

test('FrameQueue: FIFO order, release times, byte accounting', () => {
  const q = new FrameQueue({ bytes: 4096, frames: 16, maxFrame: 100 });
  assert.equal(q.headDue(), Infinity);
  assert.ok(put(q, 60, 1, 10));
  assert.ok(put(q, 100, 2, 11));
  assert.ok(put(q, 1, 3, 11));
  assert.equal(q.length, 3);
  assert.equal(q.bytes, 161);
  assert.deepEqual(take(q), { tag: 1, len: 60, due: 10 });
  assert.deepEqual(take(q), { tag: 2, len: 100, due: 11 });
  assert.deepEqual(take(q), { tag: 3, len: 1, due: 11 });
  assert.equal(q.length, 0);
  assert.equal(q.bytes, 0);
  assert.throws(() => q.shift());
});

test('FrameQueue: bounded by frames and by bytes (tail drop), wraps around, never overwrites a queued frame', () => {
  const byFrames = new FrameQueue({ bytes: 4096, frames: 3, maxFrame: 100 });
  for (let i = 0; i < 3; i++) assert.ok(put(byFrames, 10, i, i));
  assert.equal(byFrames.reserve(), -1, 'full at 3 frames');
  take(byFrames);
  assert.ok(put(byFrames, 10, 9, 9));

  // 1000-byte ring, frames up to 300: the fourth full-size frame does not fit
  const q = new FrameQueue({ bytes: 1000, frames: 100, maxFrame: 300 });
  let due = 0;
  let tag = 0;
  const inQueue: number[] = [];
  let drops = 0;
  // a long random-ish workload: arrivals and departures interleaved; check FIFO and contents throughout
  let x = 7;
  for (let step = 0; step < 5000; step++) {
    x = (x * 1103515245 + 12345) >>> 0;
    if (x % 3 !== 0) {
      const len = 1 + (x % 300);
      if (put(q, len, tag & 0xff, ++due)) inQueue.push(tag & 0xff);
      else drops++;
      tag++;
    } else if (q.length > 0) {
      assert.equal(take(q).tag, inQueue.shift());
    }
    assert.ok(q.bytes <= 1000);
  }
  assert.ok(drops > 0, 'the bound was hit');
  while (q.length > 0) assert.equal(take(q).tag, inQueue.shift());
  assert.equal(inQueue.length, 0);
});

test('FrameQueue: misuse is refused', () => {
  const q = new FrameQueue({ bytes: 1024, frames: 8, maxFrame: 100 });
  assert.throws(() => q.commit(10, 0), /without a successful reserve/);
  q.reserve();
  assert.throws(() => q.commit(101, 0), RangeError);
  q.reserve();
  q.commit(10, 5);
  q.reserve();
  assert.throws(() => q.commit(10, 4), /must not decrease/);
  assert.throws(() => new FrameQueue({ bytes: 100, frames: 8, maxFrame: 100 }), RangeError);
});

test('queueLimitsFor: room for twice the bytes in flight, within 4–64 MiB', () => {
  const l = queueLimitsFor(50_000, 1528); // 50 ms at 2 Gb/s = 12.5 MB, twice
  assert.equal(l.bytes, 25_000_000);
  assert.equal(queueLimitsFor(0, 1528).bytes, 4 << 20);
  assert.equal(queueLimitsFor(10_000_000, 1528).bytes, 64 << 20);
  assert.ok(l.frames * 64 <= l.bytes);
});
