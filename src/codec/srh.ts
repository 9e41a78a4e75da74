/**
 * The IPv6 Segment Routing Header (RFC 8754), pure encode/decode with validation.
 *
 *  0: Next Header | Hdr Ext Len | Routing Type (4) | Segments Left
 *  4: Last Entry  | Flags       | Tag (16 bits)
 *  8: Segment List[0] (the LAST segment of the path: the final destination) … [Last Entry]
 *     TLVs up to 8 × (Hdr Ext Len + 1) bytes: Pad1 (type 0, one byte), else type u8 | length u8 | value
 *
 * Decoded segments are copies (16-byte Buffers, safe to keep); TLV values are copies too.
 */
import { SrError } from '../errors.js';
import { formatAddress } from '../net/ip6.js';

export const SRH_ROUTING_TYPE = 4;
export const TLV_PAD1 = 0;
export const TLV_PADN = 4;
export const TLV_HMAC = 5;
/** the largest SRH: Hdr Ext Len is one byte of 8-octet units */
export const SRH_MAX_BYTES = 8 * (255 + 1);

export interface SrhTlv {
  type: number;
  value: Buffer;
}

export interface Srh {
  nextHeader: number;
  segmentsLeft: number;
  lastEntry: number;
  flags: number;
  tag: number;
  /** wire order: segments[0] = final destination */
  segments: Buffer[];
  /** wire order, padding included */
  tlvs: SrhTlv[];
}

export function decodeSrh(buf: Uint8Array): Srh {
  if (buf.length < 8) throw new SrError('SRH_TRUNCATED', `SRH needs at least 8 bytes, got ${buf.length}`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const hdrLen = b[1]!;
  const total = 8 * (hdrLen + 1);
  if (b[2] !== SRH_ROUTING_TYPE) throw new SrError('SRH_BAD_TYPE', `Routing Type is ${b[2]}, not 4 (SRH)`);
  if (b.length < total) throw new SrError('SRH_TRUNCATED', `Hdr Ext Len ${hdrLen} means ${total} bytes, got ${b.length}`);
  const segmentsLeft = b[3]!;
  const lastEntry = b[4]!;
  const nsegs = lastEntry + 1;
  if (8 + 16 * nsegs > total) {
    throw new SrError('SRH_BAD_LAST_ENTRY', `Last Entry ${lastEntry} needs ${8 + 16 * nsegs} bytes, the header has ${total}`);
  }
  if (segmentsLeft > lastEntry) {
    throw new SrError('SRH_BAD_SEGMENTS_LEFT', `Segments Left ${segmentsLeft} exceeds Last Entry ${lastEntry}`);
  }
  const segments: Buffer[] = [];
  for (let i = 0; i < nsegs; i++) segments.push(Buffer.from(b.subarray(8 + 16 * i, 24 + 16 * i)));
  const tlvs: SrhTlv[] = [];
  let off = 8 + 16 * nsegs;
  while (off < total) {
    const type = b[off]!;
    if (type === TLV_PAD1) {
      tlvs.push({ type, value: Buffer.alloc(0) });
      off += 1;
      continue;
    }
    if (off + 2 > total) throw new SrError('SRH_BAD_TLV', `TLV type ${type} at offset ${off} has no length byte`);
    const len = b[off + 1]!;
    if (off + 2 + len > total) {
      throw new SrError('SRH_BAD_TLV', `TLV type ${type} at offset ${off} (length ${len}) runs past the header end (${total})`);
    }
    tlvs.push({ type, value: Buffer.from(b.subarray(off + 2, off + 2 + len)) });
    off += 2 + len;
  }
  return { nextHeader: b[0]!, segmentsLeft, lastEntry, flags: b[5]!, tag: b.readUInt16BE(6), segments, tlvs };
}

function tlvBytes(tlvs: readonly SrhTlv[]): number {
  let n = 0;
  for (const t of tlvs) n += t.type === TLV_PAD1 ? 1 : 2 + t.value.length;
  return n;
}

export interface SrhInput {
  nextHeader?: number;
  segmentsLeft: number;
  flags?: number;
  tag?: number;
  /** wire order */
  segments: readonly Uint8Array[];
  tlvs?: readonly SrhTlv[];
  /**
   * Pad the way the Linux kernel accepts on a socket (IPV6_RTHDR): its `seg6_validate_srh` reads every
   * TLV as type + length, so a 1-byte Pad1 is refused (EINVAL) and a 9-byte PadN is used instead; and
   * it looks for the HMAC TLV in the last 40 bytes, so padding goes before a trailing HMAC TLV.
   */
  linuxCompatible?: boolean;
}

/** Encodes an SRH; pads with Pad1/PadN to a multiple of 8 bytes when the TLVs do not. */
export function encodeSrh(srh: SrhInput): Buffer {
  const n = srh.segments.length;
  if (n < 1 || n > 127) throw new SrError('SRH_TOO_LONG', `an SRH holds 1 to 127 segments, not ${n}`);
  if (srh.segmentsLeft < 0 || srh.segmentsLeft > n - 1 || !Number.isInteger(srh.segmentsLeft)) {
    throw new SrError('SRH_BAD_SEGMENTS_LEFT', `Segments Left ${srh.segmentsLeft} must be 0..${n - 1}`);
  }
  const tlvs = [...(srh.tlvs ?? [])];
  for (const t of tlvs) {
    if (!Number.isInteger(t.type) || t.type < 0 || t.type > 255) throw new SrError('SRH_BAD_TLV', `TLV type ${t.type} is not a byte`);
    if (t.type === TLV_PAD1 && t.value.length > 0) throw new SrError('SRH_BAD_TLV', 'a Pad1 TLV has no value');
    if (t.value.length > 255) throw new SrError('SRH_BAD_TLV', `TLV type ${t.type} value is ${t.value.length} bytes (max 255)`);
  }
  let body = 16 * n + tlvBytes(tlvs);
  const rem = (8 + body) % 8;
  if (rem !== 0) {
    const pad = 8 - rem;
    const linux = srh.linuxCompatible === true;
    const padding =
      pad === 1 && !linux ? { type: TLV_PAD1, value: Buffer.alloc(0) } : { type: TLV_PADN, value: Buffer.alloc(pad === 1 ? 7 : pad - 2) };
    const last = tlvs[tlvs.length - 1];
    if (linux && last?.type === TLV_HMAC) tlvs.splice(tlvs.length - 1, 0, padding);
    else tlvs.push(padding);
    body += padding.type === TLV_PAD1 ? 1 : 2 + padding.value.length;
  }
  const total = 8 + body;
  if (total > SRH_MAX_BYTES) throw new SrError('SRH_TOO_LONG', `the SRH would be ${total} bytes (max ${SRH_MAX_BYTES})`);
  const out = Buffer.alloc(total);
  out[0] = srh.nextHeader ?? 0;
  out[1] = total / 8 - 1;
  out[2] = SRH_ROUTING_TYPE;
  out[3] = srh.segmentsLeft;
  out[4] = n - 1;
  out[5] = srh.flags ?? 0;
  out.writeUInt16BE(srh.tag ?? 0, 6);
  srh.segments.forEach((s, i) => {
    if (s.length !== 16) throw new SrError('BAD_ADDRESS', `segment ${i} is ${s.length} bytes, not 16`);
    out.set(s, 8 + 16 * i);
  });
  let off = 8 + 16 * n;
  for (const t of tlvs) {
    out[off++] = t.type;
    if (t.type === TLV_PAD1) continue;
    out[off++] = t.value.length;
    out.set(t.value, off);
    off += t.value.length;
  }
  return out;
}

/**
 * The SRH a socket sets with IPV6_RTHDR for a path given in travel order [first waypoint, …, final
 * destination]: segments reversed, Segments Left = path.length − 1, padded the way Linux accepts.
 * (The kernel overwrites segments[0] with the connect() destination and sends the packet to
 * segments[Segments Left].)
 */
export function srhForPath(path: readonly Uint8Array[], opts?: { tlvs?: readonly SrhTlv[]; nextHeader?: number; flags?: number }): Buffer {
  return encodeSrh({
    segments: [...path].reverse(),
    segmentsLeft: path.length - 1,
    linuxCompatible: true,
    ...(opts?.tlvs ? { tlvs: opts.tlvs } : {}),
    ...(opts?.nextHeader !== undefined ? { nextHeader: opts.nextHeader } : {}),
    ...(opts?.flags !== undefined ? { flags: opts.flags } : {}),
  });
}

/** The path in travel order (the reverse of the segment list). */
export function pathOf(srh: Srh): Buffer[] {
  return [...srh.segments].reverse();
}

/** An HMAC TLV (RFC 8754 §2.1.2): D flag + reserved (2 bytes), key id (u32), HMAC. */
export function hmacTlv(keyId: number, hmac: Uint8Array, dFlag = false): SrhTlv {
  const v = Buffer.alloc(6 + hmac.length);
  if (dFlag) v[0] = 0x80;
  v.writeUInt32BE(keyId >>> 0, 2);
  v.set(hmac, 6);
  return { type: TLV_HMAC, value: v };
}

export function decodeHmacTlv(tlv: SrhTlv): { dFlag: boolean; keyId: number; hmac: Buffer } {
  if (tlv.type !== TLV_HMAC) throw new SrError('SRH_BAD_TLV', `TLV type ${tlv.type} is not HMAC (5)`);
  if (tlv.value.length < 6) throw new SrError('SRH_BAD_TLV', `HMAC TLV value is ${tlv.value.length} bytes (min 6)`);
  return { dFlag: (tlv.value[0]! & 0x80) !== 0, keyId: tlv.value.readUInt32BE(2), hmac: Buffer.from(tlv.value.subarray(6)) };
}

const TLV_NAMES: Record<number, string> = { [TLV_PAD1]: 'Pad1', [TLV_PADN]: 'PadN', [TLV_HMAC]: 'HMAC' };

/** One line for logs: `SL=0 [fc00:2::2 ← fc00:b::2:0:0 ← fc00:a::1:0:0] tlvs=PadN(4),HMAC(key 7)`. */
export function describeSrh(srh: Srh): string {
  const segs = srh.segments.map((s) => formatAddress(s)).join(' ← ');
  const tlvs = srh.tlvs.map((t) => {
    if (t.type === TLV_HMAC && t.value.length >= 6) return `HMAC(key ${t.value.readUInt32BE(2)})`;
    return `${TLV_NAMES[t.type] ?? `type${t.type}`}(${t.value.length})`;
  });
  return `SL=${srh.segmentsLeft} [${segs}]${tlvs.length ? ` tlvs=${tlvs.join(',')}` : ''}`;
}
