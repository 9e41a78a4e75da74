/**
 * Per-client token buckets (pure apart from the clock it is given): `burst` tokens at once, refilled
 * at `perSecond`. IPv6 clients count per network of `prefixLength` bits (a host holds a /64: counting
 * per /128 would give it 2^64 buckets); IPv4 clients per address. The table remembers at most
 * `maxClients` networks, the least recently seen forgotten first (one that comes back starts full).
 * Used for forwarded queries (`upstream.rate`) and new binding SIDs (`bindingSids.rate`).
 */
import { isIPv4 } from 'node:net';
import { formatAddress, maskBuffer, parseAddress } from '../net/ip6.js';
import type { RateSpec } from './config.js';

export interface RateLimiterOptions extends RateSpec {
  prefixLength: number;
  maxClients: number;
  now?: () => number;
}

export class ClientRateLimiter {
  /** key → tokens and when they were counted; Map order = least recently seen first */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;

  constructor(private readonly o: RateLimiterOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The network a client counts under: `fc00:1::/64`, `192.0.2.1`, or `?` for what does not parse. */
  keyOf(client: string): string {
    if (isIPv4(client)) return client;
    try {
      return `${formatAddress(maskBuffer(parseAddress(client), this.o.prefixLength))}/${this.o.prefixLength}`;
    } catch {
      return '?';
    }
  }

  /** Takes one token for the client: false when its bucket is empty (the request is refused). */
  take(client: string): boolean {
    const key = this.keyOf(client);
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.o.burst, at: now };
    this.buckets.delete(key);
    b.tokens = Math.min(this.o.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.o.perSecond);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(key, b);
    while (this.buckets.size > this.o.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    return ok;
  }

  get size(): number {
    return this.buckets.size;
  }
}
