/**
 * The agent's credentials, on both sides: the bearer token (read from a file, compared in constant
 * time), the TLS files (certificate, key, CA), and the rule that an agent without a credential
 * listens on loopback only.
 */
import { readFileSync } from 'node:fs';
import { SrError } from '../core/errors.js';

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

export { bearerMatches, isLoopbackAddress as isLoopback } from '../sys/http-guard.js';
