/**
 * The converter header: what the SYN told the customer-side converter (CP), carried in band at the
 * start of the MPTCP stream to the operator-side converter (OP), in the spirit of the 0-RTT TCP
 * Convert Protocol (RFC 8803). Pure encode/decode with validation; docs/mptcp.md has the diagram.
 *
 *  0: Magic|Version (0xB1 = magic 0xB, version 1) | Reserved (0) | Header Length (u16, bytes, TLVs included)
 *  4: Client Address (16) | 20: Client Port (u16) | 22: Server Port (u16)
 * 24: Server Address (16) | 40: Converter SID (16: OP's locator | function | argument)
 * 56: TLVs: type u8 | length u8 | value
 *      0 PadN (ignored); 1 Segments: the segments after the converter SID, before the server, travel
 *      order, 16 bytes each (at most 15); 2 SRH TLVs: the TLVs of CP's onward SRH as they would be on
 *      the wire (e.g. the return-path TLV), padding left out, at most once (type 0, Pad1, is refused); other types < 128 are skipped, types >= 128
 *      must be understood.
 * The bytes after Header Length are the client's payload.
 */
import { SrError } from '../core/errors.js';
import { formatAddress, parseAddress } from '../net/ip6.js';
import { TLV_PAD1, TLV_PADN, type SrhTlv } from './srh.js';

export const CONVERT_MAGIC = 0xb;
export const CONVERT_VERSION = 1;
/** the fixed part: 4 bytes of preamble, then the two endpoints and the SID */
export const CONVERT_FIXED_BYTES = 56;
/** a header (TLVs included) is at most this long; anything longer is refused before it is buffered */
export const CONVERT_MAX_BYTES = 1024;
export const CONVERT_TLV_SEGMENTS = 1;
export const CONVERT_TLV_SRH_TLVS = 2;
/** one TLV's length is a byte: 15 segments of 16 bytes */
export const CONVERT_MAX_SEGMENTS = 15;

export interface ConvertEndpoint {
  address: string;
  port: number;
}

export interface ConvertHeader {
  client: ConvertEndpoint;
  server: ConvertEndpoint;
  /** the converter's SID (function and argument bits included) */
  sid: string;
  /** the segments after `sid` and before the server, travel order */
  segments: string[];
  /** the TLVs of CP's onward SRH (the return-path TLV…), for OP to read as if its SYN had carried them */
  srhTlvs?: SrhTlv[];
}

export interface DecodedConvert {
  header: ConvertHeader;
  /** the bytes after the header: the first bytes of the client's payload (a view, not a copy) */
  rest: Buffer;
}

export function encodeConvertHeader(h: ConvertHeader): Buffer {
  if (h.segments.length > CONVERT_MAX_SEGMENTS) {
    throw new SrError('CONVERT_TOO_MANY_SEGMENTS', `${h.segments.length} segments after the converter: at most ${CONVERT_MAX_SEGMENTS}`);
  }
  for (const e of [h.client, h.server]) {
    if (!Number.isInteger(e.port) || e.port < 0 || e.port > 0xffff) throw new SrError('CONVERT_BAD_FIELD', `port ${e.port} is not 0..65535`);
  }
  const tlv = h.segments.length ? 2 + 16 * h.segments.length : 0;
  // the SRH's own TLVs, padding left out, as they are on the wire
  const srhTlvs = (h.srhTlvs ?? []).filter((t) => t.type !== TLV_PAD1 && t.type !== TLV_PADN);
  const raw = Buffer.concat(srhTlvs.map((t) => Buffer.concat([Buffer.from([t.type, t.value.length]), t.value])));
  if (raw.length > 255) throw new SrError('CONVERT_BAD_TLV', `the SRH TLVs take ${raw.length} bytes: a converter TLV holds 255`);
  const extra = raw.length ? 2 + raw.length : 0;
  const b = Buffer.alloc(CONVERT_FIXED_BYTES + tlv + extra);
  b[0] = (CONVERT_MAGIC << 4) | CONVERT_VERSION;
  b.writeUInt16BE(b.length, 2);
  parseAddress(h.client.address).copy(b, 4);
  b.writeUInt16BE(h.client.port, 20);
  b.writeUInt16BE(h.server.port, 22);
  parseAddress(h.server.address).copy(b, 24);
  parseAddress(h.sid).copy(b, 40);
  if (tlv) {
    b[56] = CONVERT_TLV_SEGMENTS;
    b[57] = 16 * h.segments.length;
    h.segments.forEach((s, i) => parseAddress(s).copy(b, 58 + 16 * i));
  }
  if (extra) {
    const off = CONVERT_FIXED_BYTES + tlv;
    b[off] = CONVERT_TLV_SRH_TLVS;
    b[off + 1] = raw.length;
    raw.copy(b, off + 2);
  }
  return b;
}

/**
 * How many bytes the header at the start of `buf` takes, or null when fewer than 4 bytes are there.
 * Checks magic, version and the length's bounds at once, so garbage fails on its first bytes.
 */
export function convertHeaderLength(buf: Uint8Array): number | null {
  if (buf.length < 1) return null;
  const magic = buf[0]! >> 4;
  const version = buf[0]! & 0xf;
  if (magic !== CONVERT_MAGIC) throw new SrError('CONVERT_BAD_VERSION', `first byte 0x${buf[0]!.toString(16).padStart(2, '0')} is not a converter header (magic 0x${CONVERT_MAGIC.toString(16)})`);
  if (version !== CONVERT_VERSION) throw new SrError('CONVERT_BAD_VERSION', `converter header version ${version}; this proxy speaks version ${CONVERT_VERSION}`);
  if (buf.length < 4) return null;
  const len = (buf[2]! << 8) | buf[3]!;
  if (len < CONVERT_FIXED_BYTES || len > CONVERT_MAX_BYTES) {
    throw new SrError('CONVERT_BAD_LENGTH', `Header Length ${len}: must be ${CONVERT_FIXED_BYTES}..${CONVERT_MAX_BYTES}`);
  }
  return len;
}

/** Decodes the header at the start of `buf`; the bytes after it are returned as `rest`. */
export function decodeConvertHeader(buf: Buffer): DecodedConvert {
  const len = convertHeaderLength(buf);
  if (len === null || buf.length < len) {
    throw new SrError('CONVERT_TRUNCATED', `the converter header needs ${len ?? 'at least 4'} bytes, got ${buf.length}`);
  }
  const segments: string[] = [];
  let seenSegments = false;
  let srhTlvs: SrhTlv[] | undefined;
  for (let off = CONVERT_FIXED_BYTES; off < len; ) {
    if (off + 2 > len) throw new SrError('CONVERT_BAD_TLV', `a TLV header at byte ${off} runs past Header Length ${len}`);
    const type = buf[off]!;
    const vlen = buf[off + 1]!;
    const v = off + 2;
    if (v + vlen > len) throw new SrError('CONVERT_BAD_TLV', `TLV type ${type} at byte ${off} (${vlen} bytes) runs past Header Length ${len}`);
    if (type === CONVERT_TLV_SEGMENTS) {
      if (seenSegments) throw new SrError('CONVERT_BAD_TLV', 'a second Segments TLV');
      if (vlen % 16 !== 0) throw new SrError('CONVERT_BAD_TLV', `Segments TLV of ${vlen} bytes: not a multiple of 16`);
      if (vlen / 16 > CONVERT_MAX_SEGMENTS) throw new SrError('CONVERT_TOO_MANY_SEGMENTS', `${vlen / 16} segments: at most ${CONVERT_MAX_SEGMENTS}`);
      seenSegments = true;
      for (let s = v; s < v + vlen; s += 16) segments.push(formatAddress(buf, s));
    } else if (type === CONVERT_TLV_SRH_TLVS) {
      if (srhTlvs) throw new SrError('CONVERT_BAD_TLV', 'a second SRH TLVs TLV');
      srhTlvs = innerTlvs(buf.subarray(v, v + vlen));
    } else if (type >= 128) {
      throw new SrError('CONVERT_BAD_TLV', `TLV type ${type} must be understood, and this proxy does not know it`);
    }
    off = v + vlen;
  }
  return {
    header: {
      client: { address: formatAddress(buf, 4), port: buf.readUInt16BE(20) },
      server: { address: formatAddress(buf, 24), port: buf.readUInt16BE(22) },
      sid: formatAddress(buf, 40),
      segments,
      ...(srhTlvs?.length ? { srhTlvs } : {}),
    },
    rest: buf.subarray(len),
  };
}

/**
 * The SRH TLVs inside a converter TLV type 2: type u8 | length u8 | value, back to back (copies).
 * Padding is what the encoder leaves out: a PadN is skipped, and a Pad1 (type 0) — one byte in an
 * SRH, never written here — is refused (it would not encode into the operator side's SRH).
 */
function innerTlvs(b: Buffer): SrhTlv[] {
  const out: SrhTlv[] = [];
  for (let off = 0; off < b.length; ) {
    if (off + 2 > b.length || off + 2 + b[off + 1]! > b.length) throw new SrError('CONVERT_BAD_TLV', `an SRH TLV at byte ${off} of the SRH TLVs runs past their end (${b.length})`);
    const type = b[off]!;
    if (type === TLV_PAD1) throw new SrError('CONVERT_BAD_TLV', `a Pad1 TLV (type 0) at byte ${off} of the SRH TLVs: padding is not carried`);
    if (type !== TLV_PADN) out.push({ type, value: Buffer.from(b.subarray(off + 2, off + 2 + b[off + 1]!)) });
    off += 2 + b[off + 1]!;
  }
  return out;
}
