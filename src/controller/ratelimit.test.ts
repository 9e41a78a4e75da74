import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientRateLimiter } from './ratelimit.js';

describe('per-client rate limiter', () => {
  const make = (o: Partial<{ perSecond: number; burst: number; prefixLength: number; maxClients: number }> = {}) => {
    const clock = { t: 0 };
    const l = new ClientRateLimiter({ perSecond: 2, burst: 3, prefixLength: 64, maxClients: 4, now: () => clock.t, ...o });
    return { l, clock };
  };

  test('a burst, then the rate; refills with time, never above the burst', () => {
    const { l, clock } = make();
    assert.deepEqual([1, 2, 3, 4].map(() => l.take('fc00:1::2')), [true, true, true, false]);
    clock.t += 499;
    assert.equal(l.take('fc00:1::2'), false);
    clock.t += 1;
    assert.equal(l.take('fc00:1::2'), true, 'one token after 500 ms at 2/s');
    clock.t += 3_600_000;
    assert.deepEqual([1, 2, 3, 4].map(() => l.take('fc00:1::2')), [true, true, true, false], 'an hour later: the burst again, no more');
  });

  test('IPv6 clients count per /64: other addresses of the network share the bucket, other networks do not', () => {
    const { l } = make();
    assert.deepEqual([l.take('fc00:1::2'), l.take('fc00:1::3'), l.take('fc00:1::ffff:1'), l.take('fc00:1::4')], [true, true, true, false]);
    assert.equal(l.take('fc00:2::2'), true);
    assert.equal(l.keyOf('fc00:1::abcd'), 'fc00:1::/64');
    assert.equal(l.keyOf('192.0.2.1'), '192.0.2.1');
    assert.equal(l.keyOf('garbage'), '?');
    const per128 = make({ prefixLength: 128 }).l;
    assert.deepEqual([1, 2, 3, 4].map(() => per128.take('fc00:1::2')), [true, true, true, false]);
    assert.equal(per128.take('fc00:1::3'), true);
  });

  test('the table is bounded: the least recently seen network is forgotten first', () => {
    const { l } = make({ maxClients: 4 });
    for (let i = 0; i < 3; i++) l.take('fc00:1::1'); // empty
    for (let i = 2; i < 100; i++) {
      l.take(`fc00:${i.toString(16)}::1`);
      if (i < 4) l.take('fc00:1::1'); // seen recently: stays (and stays empty)
      assert.ok(l.size <= 4);
    }
    assert.equal(l.size, 4);
    assert.equal(l.take('fc00:1::1'), true, 'forgotten after 96 other networks: starts full again');
  });
});
