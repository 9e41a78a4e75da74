/**
 * The keyring of the encryption tunnel: a YAML (or JSON) file
 *
 *   keys:
 *     "1": "<base64 of 32 random bytes>"   # e.g. `openssl rand -base64 32`
 *     "0x2a": "..."
 *
 * Key ids are the SID argument: decimal or 0x-hex integers below 2^64. Read once, in `init`; every
 * error names the file and, where there is one, the key (never its material).
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { errnoCode, SrError } from '../../core/errors.js';

export const KEY_BYTES = 32;
export const MAX_KEY_ID = (1n << 64n) - 1n;

export interface Keyring {
  /** the resolved path (for messages) */
  readonly path: string;
  /** key id → 32-byte master key */
  readonly keys: ReadonlyMap<bigint, Buffer>;
  /** a warning to log (a keyring others can read), if any */
  readonly warning?: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A key id as written in the keyring → bigint, or undefined when it is not one. */
export function parseKeyId(s: string): bigint | undefined {
  if (!/^(?:0|[1-9][0-9]*|0[xX][0-9a-fA-F]+)$/.test(s)) return undefined;
  const id = BigInt(s);
  return id <= MAX_KEY_ID ? id : undefined;
}

function invalid(path: string, what: string): SrError {
  return new SrError('CONFIG_INVALID', `keyring ${path}: ${what}`, {
    hint: 'a keyring is `keys: { "<id>": "<base64 of 32 bytes>" }` (make a key with: openssl rand -base64 32)',
  });
}

export async function loadKeyring(file: string, baseDir: string): Promise<Keyring> {
  const path = isAbsolute(file) ? file : resolve(baseDir, file);
  let text: string;
  let mode = 0;
  try {
    text = await readFile(path, 'utf8');
    mode = (await stat(path)).mode;
  } catch (e) {
    throw new SrError('CONFIG_READ', `keyring ${path}: cannot read it (${errnoCode(e) ?? (e as Error).message})`, { cause: e });
  }
  let doc: unknown;
  try {
    doc = parse(text, { intAsBigInt: true });
  } catch (e) {
    throw new SrError('CONFIG_SYNTAX', `keyring ${path}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid(path, 'expected a mapping with a `keys` field');
  const extra = Object.keys(doc).filter((k) => k !== 'keys');
  if (extra.length > 0) throw invalid(path, `unknown field "${extra[0]}" (only \`keys\` is allowed)`);
  const raw = (doc as { keys?: unknown }).keys;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(path, '`keys` must be a mapping of key id → base64 key');
  const keys = new Map<bigint, Buffer>();
  for (const [name, value] of Object.entries(raw)) {
    const id = parseKeyId(name);
    if (id === undefined) throw invalid(path, `key "${name}": a key id is a decimal or 0x-hex integer below 2^64 (the SID argument)`);
    if (keys.has(id)) throw invalid(path, `key "${name}": key id ${id} appears twice`);
    if (typeof value !== 'string') throw invalid(path, `key "${name}": the key must be a base64 string`);
    const b64 = value.replace(/\s+/g, '');
    if (!BASE64.test(b64)) throw invalid(path, `key "${name}": not valid base64`);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== KEY_BYTES) {
      key.fill(0);
      throw invalid(path, `key "${name}": ${key.length} bytes, a key must be ${KEY_BYTES} bytes (256 bits)`);
    }
    keys.set(id, key);
  }
  if (keys.size === 0) throw invalid(path, 'no keys');
  const warning = mode & 0o077 ? `keyring ${path} can be read by group or others (mode ${(mode & 0o777).toString(8)}): chmod 600 it` : undefined;
  return warning ? { path, keys, warning } : { path, keys };
}

/** Overwrites the key material (on deinit). */
export function wipeKeyring(k: Keyring): void {
  for (const key of k.keys.values()) key.fill(0);
}
