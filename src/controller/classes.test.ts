import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BANDWIDTH_CLASSES_KBPS, LATENCY_CLASSES_MS, bandwidthClass, latencyClass } from './classes.js';

describe('service classes for options 65002 / 65003', () => {
  test('the series: 19 bandwidth classes (1 Mbit/s … 1 Tbit/s), 15 latency classes (1 ms … 50 s)', () => {
    assert.equal(BANDWIDTH_CLASSES_KBPS.length, 19);
    assert.deepEqual(BANDWIDTH_CLASSES_KBPS.slice(0, 4), [1000, 2000, 5000, 10_000]);
    assert.equal(BANDWIDTH_CLASSES_KBPS.at(-1), 1e9);
    assert.equal(LATENCY_CLASSES_MS.length, 15);
    assert.deepEqual(LATENCY_CLASSES_MS.slice(0, 4), [1, 2, 5, 10]);
    assert.equal(LATENCY_CLASSES_MS.at(-1), 50_000);
  });

  test('bandwidth rounds up (the path has at least what was asked), latency down (at most what was allowed)', () => {
    assert.deepEqual([0, 1, 999, 1000, 1001, 2001, 50_000, 50_001, 4e9, 0xffffffff].map(bandwidthClass), [0, 1000, 1000, 1000, 2000, 5000, 50_000, 100_000, 1e9, 1e9]);
    assert.deepEqual([0, 0.5, 1, 3, 9, 10, 11, 49_999, 50_000, 0xffffffff].map(latencyClass), [0, 0, 1, 2, 5, 10, 10, 20_000, 50_000, 50_000]);
  });

  test('every u32 lands in a bounded set of classes', () => {
    const b = new Set<number>();
    const l = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const v = Math.floor(Math.random() * 0x100000000);
      b.add(bandwidthClass(v));
      l.add(latencyClass(v >>> (i % 32)));
    }
    assert.ok(b.size <= 20 && l.size <= 16);
    for (const v of b) assert.ok(v === 0 || BANDWIDTH_CLASSES_KBPS.includes(v));
    for (const v of l) assert.ok(v === 0 || LATENCY_CLASSES_MS.includes(v));
  });
});
