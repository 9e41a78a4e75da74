/**
 * `ratelimit`: caps each direction of a flow at `argument × multiplier` bytes per second (argument 0:
 * unlimited) with a token bucket of `burst` bytes, by back-pressure (pausing reads), never by
 * buffering. See README.md.
 */
import { z } from 'zod';
import { defineFunction, IDENTITY, type DirectionTransform } from '../../sdk/types.js';
import { RateLimiter, TokenBucket } from './limiter.js';

export const ratelimitOptions = z
  .object({
    burst: z
      .number()
      .int()
      .min(1)
      .max(1 << 30)
      .default(16 * 1024)
      .describe('bucket size in bytes: how much may go at once after a pause (raised to 10 ms worth of the rate)'),
    multiplier: z
      .number()
      .int()
      .min(1)
      .max(1_000_000_000)
      .default(1)
      .describe('bytes/s per unit of the argument: 1 (bytes/s), 1000 (kB/s), 125 (kbit/s), 125000 (Mbit/s)'),
    directions: z.enum(['both', 'upstream', 'downstream']).default('both').describe('the directions limited'),
  })
  .strict();

export type RatelimitOptions = z.infer<typeof ratelimitOptions>;

/** The rate in bytes/s for an argument (0: unlimited), and the bucket size. */
export function rateFor(argument: bigint, o: RatelimitOptions): { rate: number; capacity: number } | null {
  if (argument === 0n) return null;
  const rate = Math.min(Number(argument) * o.multiplier, Number.MAX_SAFE_INTEGER);
  // timers tick in milliseconds: a bucket smaller than 10 ms of traffic would cap the rate below `rate`
  return { rate, capacity: Math.max(o.burst, Math.ceil(rate / 100)) };
}

export const ratelimit = defineFunction({
  name: 'ratelimit',
  summary: 'limit the rate of each direction by back-pressure (token bucket with burst)',
  options: ratelimitOptions,
  argument: { description: 'the rate of each direction: argument × options.multiplier bytes/s (0 = unlimited)', parse: (argument, { options }) => rateFor(argument, options) },
  resets: {},
  spawn(flow) {
    const o = flow.options;
    const r = flow.arg;
    const limiters: RateLimiter[] = [];
    const make = (direction: 'upstream' | 'downstream'): DirectionTransform => {
      if (!r || (o.directions !== 'both' && o.directions !== direction)) return IDENTITY;
      const l = new RateLimiter(new TokenBucket(r.rate, r.capacity));
      limiters.push(l);
      return l;
    };
    const upstream = make('upstream');
    const downstream = make('downstream');
    const stop = (): void => {
      for (const l of limiters) l.destroy();
    };
    if (limiters.length > 0) flow.signal.addEventListener('abort', stop, { once: true });
    return { upstream, downstream };
  },
});
