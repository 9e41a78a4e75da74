/**
 * The agent's credentials, on both sides: the bearer token (read from a file, compared in constant
 * time), the TLS files (certificate, key, CA), and the rule that an agent without a credential
 * listens on loopback only.
 */
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { SrError } from '../../errors.js';

/** Reads a token file: its first line, trimmed; CONFIG_READ if unreadable, BAD_ARGUMENT if empty. */
export function readTokenFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SrError('CONFIG_READ', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  const token = text.split('\n')[0]!.trim();
  if (!token) throw new SrError('BAD_ARGUMENT', `${what} ${path} is empty`, { hint: 'put a long random token in it, e.g. openssl rand -hex 32 > FILE' });
  return token;
}

/** Reads a PEM file (certificate, key or CA bundle). */
export function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SrError('CONFIG_READ', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

const digest = (s: string): Buffer => crypto.createHash('sha256').update(s, 'utf8').digest();

/**
 * Does the Authorization header carry this token? Both sides are hashed first, so the comparison
 * takes the same time whatever the length or the first differing byte (crypto.timingSafeEqual).
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = header?.startsWith('Bearer ') ? header.slice(7) : '';
  return crypto.timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}

/** A loopback address (::1, 127.0.0.0/8, ::ffff:127.x.y.z): only this host can reach it. */
export function isLoopback(address: string): boolean {
  const a = address.trim().replace(/^\[|\]$/g, '');
  if (!ipaddr.isValid(a) || a.includes('%')) return false;
  const ip = ipaddr.parse(a);
  const v4 = ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
  return v4.range() === 'loopback';
}
