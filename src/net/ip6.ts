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

export function formatAddress(bytes: Uint8Array, offset = 0): string {
  return ipaddr.fromByteArray(Array.from(bytes.subarray(offset, offset + 16))).toString();
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

