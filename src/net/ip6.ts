/**
 * IPv6 addresses and prefixes as 16-byte buffers. Parsing and formatting are ipaddr.js's; this module
 * adapts them to Buffers and adds the prefix arithmetic the SID codec and locator matching need.
 */
import ipaddr from 'ipaddr.js';
import { SrError } from '../core/errors.js';

export interface Prefix6 {
  /** network address, host bits zero */
  readonly addr: Buffer;
  readonly length: number;
}

/**
 * A zone (RFC 4007 scope id) as Linux names it: an interface name (1..15 bytes, none of `/`, `:`,
 * `%` or white space: `eth0`, `br-lan`, `eth0.100`, `wan_1`, `vlan@home`) or an interface index.
 * Node reports a link-local peer as `fe80::1%br-lan`.
 */
const ZONE = /^[^\s/:%]{1,15}$/;

export interface ScopedAddress {
  /** the 16 bytes */
  addr: Buffer;
  /** the zone after `%`, when the text had one */
  zone?: string;
}

/** Splits `addr%zone` (brackets allowed); the zone is checked as a Linux interface name or index. */
export function parseScopedAddress(text: string): ScopedAddress {
  const t = text.trim().replace(/^\[|\]$/g, '');
  const pct = t.indexOf('%');
  const bare = pct < 0 ? t : t.slice(0, pct);
  const zone = pct < 0 ? undefined : t.slice(pct + 1);
  if (zone !== undefined && !ZONE.test(zone)) throw new SrError('BAD_ADDRESS', `bad zone "${zone}" in "${text}": an interface name (at most 15 bytes, no / : % or space) or index`);
  if (!ipaddr.IPv6.isValid(bare)) throw new SrError('BAD_ADDRESS', `not an IPv6 address: "${text}"`);
  const addr = Buffer.from(ipaddr.IPv6.parse(bare).toByteArray());
  return zone === undefined ? { addr } : { addr, zone };
}

/** The 16 bytes of an address; a zone (`fe80::1%br-lan`) is accepted and dropped (see parseScopedAddress). */
export function parseAddress(text: string): Buffer {
  return parseScopedAddress(text).addr;
}

/** fe80::/10: valid only on one link; a router does not forward packets from or to it. */
export function isLinkLocal(addr: Uint8Array, offset = 0): boolean {
  return addr[offset] === 0xfe && (addr[offset + 1]! & 0xc0) === 0x80;
}

/**
 * RFC 5952 text of 16 bytes (the same text as ipaddr.js's `toString`): groups in lower-case hex
 * without leading zeros, the longest run of two or more zero groups (the first of equal ones) as `::`.
 * Written out rather than through ipaddr.js: it runs for each segment of every SYN's path (classify.ts)
 * and for the admission's client key, where ipaddr's array copy and regular expressions cost ~1.8 µs
 * an address (docs/performance.md, issue 14).
 */
export function formatAddress(bytes: Uint8Array, offset = 0): string {
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if (bytes[offset + 2 * i] === 0 && bytes[offset + 2 * i + 1] === 0) {
      if (runStart < 0) runStart = i;
      if (i - runStart + 1 > bestLen) {
        bestLen = i - runStart + 1;
        bestStart = runStart;
      }
    } else runStart = -1;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && i !== bestStart + bestLen) s += ':';
    s += ((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!).toString(16);
  }
  return s;
}

/**
 * The 16 bytes of an address in plain hex text (`fc00:1::2`, as Node reports a peer: groups of 1–4
 * hex digits, at most one `::` standing for one or more zero groups), or undefined for any other text
 * (a dotted quad, a zone, brackets, anything malformed): the caller then asks ipaddr.js, which decides.
 * A fast path for the accept path (the admission's client key), without regular expressions.
 */
export function parseHexAddress(text: string): number[] | undefined {
  const head: number[] = [];
  const tail: number[] = [];
  let cur = head;
  let group = 0;
  let digits = 0;
  let gap = false;
  const n = text.length;
  if (n < 2 || n > 39) return undefined;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 58; // a final ':' closes the last group
    if (c === 58) {
      if (digits === 0) {
        // '::' (once): at the start, the first ':' of it; elsewhere the second
        if (i === 0 && text.charCodeAt(1) === 58) continue;
        if (i < n && !gap && i > 0 && text.charCodeAt(i - 1) === 58) {
          gap = true;
          cur = tail;
          continue;
        }
        if (i === n && gap && text.charCodeAt(n - 1) === 58 && text.charCodeAt(n - 2) === 58) break;
        return undefined;
      }
      cur.push(group);
      group = 0;
      digits = 0;
      continue;
    }
    const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (v < 0 || digits === 4) return undefined;
    group = (group << 4) | v;
    digits++;
  }
  const groups = head.length + tail.length;
  if (gap ? groups > 7 : groups !== 8) return undefined;
  const out = new Array<number>(16).fill(0);
  head.forEach((g, i) => ((out[2 * i] = g >> 8), (out[2 * i + 1] = g & 0xff)));
  tail.forEach((g, i) => {
    const j = 8 - tail.length + i;
    out[2 * j] = g >> 8;
    out[2 * j + 1] = g & 0xff;
  });
  return out;
}

export function isAddress(text: string): boolean {
  return ipaddr.IPv6.isValid(text.trim().replace(/^\[|\]$/g, ''));
}

export function parsePrefix(text: string): Prefix6 {
  const slash = text.indexOf('/');
  if (slash < 0) throw new SrError('BAD_PREFIX', `not an IPv6 prefix (no /length): "${text}"`);
  const lenText = text.slice(slash + 1);
  const length = Number(lenText);
  if (!/^\d{1,3}$/.test(lenText) || length > 128) {
    throw new SrError('BAD_PREFIX', `bad prefix length in "${text}"`);
  }
  let addr: Buffer;
  try {
    addr = parseAddress(text.slice(0, slash));
  } catch {
    throw new SrError('BAD_PREFIX', `not an IPv6 prefix: "${text}"`);
  }
  return { addr: maskBuffer(addr, length), length };
}

export function formatPrefix(p: Prefix6): string {
  return `${formatAddress(p.addr)}/${p.length}`;
}

/** A copy of addr with every bit past `length` cleared. */
export function maskBuffer(addr: Uint8Array, length: number): Buffer {
  const out = Buffer.from(addr.subarray(0, 16));
  for (let bit = length; bit < 128; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

/** Does the 16 bytes at `bytes[offset..]` fall in the prefix? Allocation-free. */
export function prefixContains(p: Prefix6, bytes: Uint8Array, offset = 0): boolean {
  const full = p.length >> 3;
  for (let i = 0; i < full; i++) if (bytes[offset + i] !== p.addr[i]) return false;
  const rest = p.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[offset + full]! ^ p.addr[full]!) & mask) === 0;
}

