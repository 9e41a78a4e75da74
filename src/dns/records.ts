/**
 * The controller's private DNS wire formats (documented in docs/controller.md).
 *
 * The EDNS0 options of a query are a table of their own: edns.ts.
 *
 * Additional records in an answer:
 *   TYPE 65281 "SRH" (no binding SID; the default): RDATA = count u8 | count segments, 16 bytes each,
 *     in travel order: the function SIDs (with arguments), then the destination. Owner = the qname.
 *   TYPE 65282 "return path" (with a policy's `returnPath`, after the TYPE 65281 record it belongs to):
 *     RDATA as TYPE 65281 — the return-path TLV's entries, last proxy first (see src/codec/return-path.ts).
 *   TYPE 65283 "return hop" (the answer to a TYPE 65283 query for `return-hops.srv6pipes.arpa`):
 *     RDATA = id u16 | return SID (16 bytes), one record per proxy with a `returnPath`.
 *   TYPE 65280 "BSID" (the SDN Resolver's, when binding SIDs are used): RDATA = priority u16 |
 *     source prefix (16 bytes) | prefix length u8 | BSID (16 bytes).
 * Pure functions; decoders validate lengths and return null on anything malformed; encoders throw
 * DNS_RECORD_FIELD for a field out of its range (a caller's bug: what goes into a record is checked first).
 */
import { SrError } from '../core/errors.js';
import { formatAddress, parseAddress } from '../net/ip6.js';

export const TYPE_BSID = 65280;
export const TYPE_SRH = 65281;
export const TYPE_RETURN_PATH = 65282;
export const TYPE_RETURN_PATH_NAME = `UNKNOWN_${TYPE_RETURN_PATH}`;
export const TYPE_RETURN_HOP = 65283;
export const TYPE_RETURN_HOP_NAME = `UNKNOWN_${TYPE_RETURN_HOP}`;
/** the name return-steering hosts query (TYPE 65283) for every proxy's return id and SID */
export const RETURN_HOPS_NAME = 'return-hops.srv6pipes.arpa';
/** how dns-packet names record types it does not know */
export const TYPE_SRH_NAME = `UNKNOWN_${TYPE_SRH}`;
export const TYPE_BSID_NAME = `UNKNOWN_${TYPE_BSID}`;

/** An SRH holds at most 127 segments without TLVs (2048 bytes): the count byte never needs more. */
export const MAX_SEGMENTS = 127;

export function encodeSrhRecord(segments: readonly string[]): Buffer {
  if (segments.length < 1 || segments.length > MAX_SEGMENTS) throw new SrError('DNS_RECORD_FIELD', `an SRH record holds 1..${MAX_SEGMENTS} segments, not ${segments.length}`);
  const out = Buffer.alloc(1 + 16 * segments.length);
  out[0] = segments.length;
  segments.forEach((s, i) => parseAddress(s).copy(out, 1 + 16 * i));
  return out;
}

export function decodeSrhRecord(rdata: Uint8Array): string[] | null {
  const n = rdata[0];
  if (n === undefined || n < 1 || n > MAX_SEGMENTS || rdata.length !== 1 + 16 * n) return null;
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(formatAddress(rdata, 1 + 16 * i));
  return out;
}

export interface BsidRecord {
  priority: number;
  /** the client source prefix the binding SID is installed for */
  source: string;
  prefixLength: number;
  bsid: string;
}

export function encodeBsidRecord(r: BsidRecord): Buffer {
  if (!Number.isInteger(r.priority) || r.priority < 0 || r.priority > 0xffff) throw new SrError('DNS_RECORD_FIELD', `priority must be 0..65535, not ${r.priority}`);
  if (!Number.isInteger(r.prefixLength) || r.prefixLength < 0 || r.prefixLength > 128) throw new SrError('DNS_RECORD_FIELD', `prefix length must be 0..128, not ${r.prefixLength}`);
  const out = Buffer.alloc(35);
  out.writeUInt16BE(r.priority, 0);
  parseAddress(r.source).copy(out, 2);
  out[18] = r.prefixLength;
  parseAddress(r.bsid).copy(out, 19);
  return out;
}

export function decodeBsidRecord(rdata: Uint8Array): BsidRecord | null {
  if (rdata.length !== 35 || rdata[18]! > 128) return null;
  return {
    priority: (rdata[0]! << 8) | rdata[1]!,
    source: formatAddress(rdata, 2),
    prefixLength: rdata[18]!,
    bsid: formatAddress(rdata, 19),
  };
}

/** `<32 nibbles, reversed>.ip6.arpa` → the address, or undefined. */
export function addressFromArpa(name: string): string | undefined {
  const m = /^((?:[0-9a-f]\.){32})ip6\.arpa\.?$/i.exec(name);
  if (!m) return undefined;
  const hex = m[1]!.split('.').slice(0, 32).reverse().join('');
  return formatAddress(Buffer.from(hex, 'hex'));
}

export function arpaName(address: string): string {
  return `${[...parseAddress(address).toString('hex')].reverse().join('.')}.ip6.arpa`;
}

export interface ReturnHopRecord {
  id: number;
  sid: string;
}

export function encodeReturnHopRecord(h: ReturnHopRecord): Buffer {
  if (!Number.isInteger(h.id) || h.id < 1 || h.id > 0xffff) throw new SrError('DNS_RECORD_FIELD', `a return id is 1..65535, not ${h.id}`);
  const out = Buffer.alloc(18);
  out.writeUInt16BE(h.id, 0);
  parseAddress(h.sid).copy(out, 2);
  return out;
}

export function decodeReturnHopRecord(rdata: Uint8Array): ReturnHopRecord | null {
  if (rdata.length !== 18) return null;
  const id = (rdata[0]! << 8) | rdata[1]!;
  return id === 0 ? null : { id, sid: formatAddress(rdata, 2) };
}
