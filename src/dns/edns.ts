/**
 * The EDNS0 options of a path query (private-use codes, RFC 6891 §9: 65001–65534), as one table that
 * both sides read: the client's `buildQuery` (query.ts) encodes the `ResolveOptions` fields that are
 * set, the controller's decoder (controller/dns/message.ts) decodes them back into the same fields.
 *
 *   65001 app            application name (UTF-8)           — as in the SDN Resolver; logged (first 64 characters)
 *   65002 bandwidthKbps  u32 big endian, kbit/s             — links with a smaller `capacity` are not used
 *   65003 maxLatencyMs   u32 big endian, ms                 — the fastest path (link `latency`), if within it
 *   65004 functions      comma-separated UTF-8 names, in order ("xor,copy")
 *   65005 port           u16 big endian, not 0              — policies with `port` match only queries that carry it
 *
 * A value that does not decode makes the query malformed (FORMERR, with the entry's `problem`); an
 * option of another code is ignored; of an option given twice, the last counts.
 * Pure; depends on nothing but node's Buffer.
 */

/** The hints a path query carries (the `ResolveOptions` fields of query.ts that travel as options). */
export interface QueryHints {
  /** an application name, option 65001 */
  app?: string;
  /** the bandwidth the flow needs, kbit/s (option 65002) */
  bandwidthKbps?: number;
  /** the most latency the flow tolerates, ms (option 65003) */
  maxLatencyMs?: number;
  /** functions to request (option 65004), in order */
  functions?: readonly string[];
  /** the destination port, option 65005 (policies may match on it) */
  port?: number;
}

export const OPT_APP_NAME = 65001;
export const OPT_BANDWIDTH = 65002;
export const OPT_LATENCY = 65003;
export const OPT_FUNCTIONS = 65004;
export const OPT_PORT = 65005;

/** An SRH holds at most 127 segments without TLVs: a query never asks for more functions. */
const MAX_FUNCTIONS = 127;
/** how much of the application name is kept (it is only logged) */
const APP_NAME_CHARS = 64;

/** The 65004 option value: function names, in order. Null when not valid UTF-8 names. */
export function decodeFunctionsOption(data: Uint8Array): string[] | null {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return null;
  }
  if (text.trim() === '') return [];
  const names = text.split(',').map((s) => s.trim());
  if (names.length > MAX_FUNCTIONS || names.some((n) => !/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(n))) return null;
  return names;
}

export function encodeFunctionsOption(names: readonly string[]): Buffer {
  return Buffer.from(names.join(','), 'utf8');
}

export function decodePortOption(data: Uint8Array): number | null {
  if (data.length !== 2) return null;
  const p = (data[0]! << 8) | data[1]!;
  return p === 0 ? null : p;
}

export function encodePortOption(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(port);
  return b;
}

function encodeU32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

const decodeU32 = (data: Uint8Array): number | null => (data.length === 4 ? Buffer.from(data.buffer, data.byteOffset, 4).readUInt32BE(0) : null);

/** One option: its code, the field it carries, and how its value is written and read. */
export interface EdnsOption<K extends keyof QueryHints = keyof QueryHints> {
  code: number;
  /** what FORMERR reasons and docs call it */
  name: string;
  /** the ResolveOptions (and QueryHints) field it carries */
  field: K;
  /** whether a set field is sent at all (an empty application name or function list is not) */
  sent: (v: NonNullable<QueryHints[K]>) => boolean;
  encode: (v: NonNullable<QueryHints[K]>) => Buffer;
  /** null: the value is malformed */
  decode: (data: Buffer) => NonNullable<QueryHints[K]> | null;
  /** what a malformed value lacks (the FORMERR reason) */
  problem: string;
}

/** An entry for any field (the table's element type). */
export type AnyEdnsOption = { [K in keyof QueryHints]-?: EdnsOption<K> }[keyof QueryHints];

const option = <K extends keyof QueryHints>(o: EdnsOption<K>): EdnsOption<K> => o;
const always = (): boolean => true;

/** Every option, in the order a query carries them. */
export const EDNS_OPTIONS: readonly AnyEdnsOption[] = [
  option({ code: OPT_APP_NAME, name: 'application', field: 'app', sent: (v) => v !== '', encode: (v) => Buffer.from(v, 'utf8'), decode: (d) => d.toString('utf8').slice(0, APP_NAME_CHARS), problem: 'UTF-8 text' }),
  option({ code: OPT_FUNCTIONS, name: 'functions', field: 'functions', sent: (v) => v.length > 0, encode: encodeFunctionsOption, decode: decodeFunctionsOption, problem: 'not a comma-separated list of names' }),
  option({ code: OPT_PORT, name: 'port', field: 'port', sent: always, encode: encodePortOption, decode: decodePortOption, problem: '2 bytes, not 0' }),
  option({ code: OPT_BANDWIDTH, name: 'bandwidth, kbit/s', field: 'bandwidthKbps', sent: always, encode: encodeU32, decode: decodeU32, problem: '4 bytes' }),
  option({ code: OPT_LATENCY, name: 'latency, ms', field: 'maxLatencyMs', sent: always, encode: encodeU32, decode: decodeU32, problem: '4 bytes' }),
];

/** The table's entries with their value types erased, for the generic loops below. */
interface Untyped {
  code: number;
  name: string;
  field: keyof QueryHints;
  sent: (v: unknown) => boolean;
  encode: (v: unknown) => Buffer;
  decode: (data: Buffer) => unknown;
  problem: string;
}
const untyped = EDNS_OPTIONS as readonly unknown[] as readonly Untyped[];
const byCode = new Map<number, Untyped>(untyped.map((o) => [o.code, o]));

/** The options for the hints that are set, in table order. */
export function encodeHints(h: QueryHints): { code: number; data: Buffer }[] {
  const out: { code: number; data: Buffer }[] = [];
  for (const o of untyped) {
    const v = h[o.field];
    if (v === undefined || !o.sent(v)) continue;
    out.push({ code: o.code, data: o.encode(v) });
  }
  return out;
}

/** The hints carried by a query's options, or the first malformed one (its code and the FORMERR reason). Unknown codes are ignored. */
export function decodeHints(options: readonly { code: number; data?: Buffer }[]): { ok: true; hints: QueryHints } | { ok: false; code: number; reason: string } {
  const hints: Record<string, unknown> = {};
  for (const { code, data } of options) {
    const o = byCode.get(code);
    if (!o) continue;
    const v = o.decode(data ?? Buffer.alloc(0));
    if (v === null) return { ok: false, code, reason: `bad option ${code} (${o.name}): ${o.problem}` };
    hints[o.field] = v;
  }
  return { ok: true, hints: hints as QueryHints };
}
