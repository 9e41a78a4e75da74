/**
 * What an HTTP control surface checks before it trusts a request: a bearer token compared in
 * constant time, and whether an address or a Host header names this host only (loopback). Shared by
 * the proxy's admin endpoint and the access-router agent.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

const sha256 = (s: string): Buffer => crypto.createHash('sha256').update(s, 'utf8').digest();

/** A token check in constant time: both sides are hashed, the equal-length digests compared; an empty token never matches. */
export function tokenChecker(expected: string): (given: string | undefined) => boolean {
  const want = sha256(expected);
  return (given) => {
    // looked up on the module at each call (tests spy on it)
    const ok = crypto.timingSafeEqual(sha256(given ?? ''), want);
    return ok && given !== undefined && given !== '';
  };
}

/** A Host name or address in one spelling: lower case, no brackets, no trailing dot, IPv6 canonical, IPv4-mapped as IPv4. */
export function canonicalHost(h: string): string {
  let s = h.trim().toLowerCase().replace(/\.$/, '');
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (mapped) return mapped[1]!;
  if (net.isIPv6(s)) {
    try {
      return new URL(`http://[${s}]/`).hostname.slice(1, -1);
    } catch {
      return s;
    }
  }
  return s;
}

/** A loopback address (::1, 127.0.0.0/8, ::ffff:127.x.y.z, bracketed or not; never a name, never a zone): only this host can reach it. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.trim().replace(/^\[|\]$/g, '');
  if (!ipaddr.isValid(a) || a.includes('%')) return false;
  const ip = ipaddr.parse(a);
  const v4 = ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
  return v4.range() === 'loopback';
}

/** A Host name or address that only this host answers to: `localhost` or a loopback address. */
export function isLoopbackHost(h: string): boolean {
  const c = canonicalHost(h);
  return c === 'localhost' || isLoopbackAddress(c);
}

/** The host part of a Host header value ("[::1]:7778" → "::1", "localhost:7778" → "localhost"). */
export function hostOfHeader(value: string): string {
  const v = value.trim();
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    return end < 0 ? v : v.slice(1, end);
  }
  const colons = v.split(':').length - 1;
  return colons === 1 ? v.slice(0, v.indexOf(':')) : v;
}

const WILDCARDS = new Set(['::', '0.0.0.0']);

/**
 * Whether a Host header names this endpoint (DNS rebinding): a loopback name, one of `own` (the
 * configured and the accepting address; a wildcard is none), or one of `extra` (configured names).
 */
export function hostAllowed(value: string | undefined, own: readonly (string | undefined)[] = [], extra: readonly string[] = []): boolean {
  if (value === undefined || value === '') return false;
  const h = canonicalHost(hostOfHeader(value));
  if (isLoopbackHost(h)) return true;
  for (const o of own) if (o !== undefined && !WILDCARDS.has(canonicalHost(o)) && canonicalHost(o) === h) return true;
  return extra.some((e) => canonicalHost(e) === h);
}

/** An Origin is foreign unless it is `http://` + an allowed host (as hostAllowed). */
export function originAllowed(origin: string, own: readonly (string | undefined)[] = [], extra: readonly string[] = []): boolean {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  return u.protocol === 'http:' && hostAllowed(u.host, own, extra);
}

/** A Content-Type that is `application/json` (parameters such as charset allowed): what a cross-site form or text/plain fetch cannot send. */
export function isJsonContentType(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** Does an Authorization header carry this bearer token (constant time, as tokenChecker)? */
export function bearerMatches(header: string | undefined, token: string): boolean {
  return tokenChecker(token)(header?.startsWith('Bearer ') ? header.slice(7) : undefined);
}

/**
 * A request body as JSON (empty: `{}`), at most `maxBytes`: past that, `tooLarge()` rejects and the
 * rest is dropped unread; a body that is not JSON, or a broken request, rejects with `bad(message)`.
 */
export function readJsonBody(req: http.IncomingMessage, maxBytes: number, tooLarge: () => Error, bad: (message: string) => Error): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (d: Buffer) => {
      if (failed) return;
      size += d.length;
      if (size > maxBytes) {
        failed = true;
        reject(tooLarge());
      } else parts.push(d);
    });
    req.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(parts).toString('utf8');
      try {
        resolve(text ? JSON.parse(text) : {});
      } catch {
        reject(bad('the request body is not JSON'));
      }
    });
    req.on('error', (e) => {
      if (failed) return;
      failed = true;
      reject(bad(`the request body: ${e.message}`));
    });
  });
}
