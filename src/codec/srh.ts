/**
 * The IPv6 Segment Routing Header (RFC 8754), pure encode/decode with validation.
 *
 *  0: Next Header | Hdr Ext Len | Routing Type (4) | Segments Left
 *  4: Last Entry  | Flags       | Tag (16 bits)
 *  8: Segment List[0] (the LAST segment of the path: the final destination) … [Last Entry]
 *     TLVs up to 8 × (Hdr Ext Len + 1) bytes: Pad1 (type 0, one byte), else type u8 | length u8 | value
 *
 * Size limits: Hdr Ext Len is one byte, so an SRH is at most 2048 bytes, which holds at most 127
 * segments (8 + 127 × 16 = 2040) even though Last Entry could count 256.
 */
import { SrError } from '../core/errors.js';
import { formatAddress } from '../net/ip6.js';

export const SRH_ROUTING_TYPE = 4;
export const TLV_PAD1 = 0;
export const TLV_PADN = 4;
export const TLV_HMAC = 5;
/** the largest SRH: Hdr Ext Len is one byte of 8-octet units */
export const SRH_MAX_BYTES = 8 * (255 + 1);
/** the most segments an SRH can hold: (2048 − 8) / 16, rounded down */
export const SRH_MAX_SEGMENTS = 127;

export interface SrhTlv {
  type: number;
  /** the value after type and length; empty for Pad1 */
  value: Buffer;
}

export interface Srh {
  nextHeader: number;
  segmentsLeft: number;
  lastEntry: number;
  flags: number;
  tag: number;
  /** wire order: segments[0] = final destination; 16 bytes each */
  segments: Buffer[];
  /** wire order, padding included */
  tlvs: SrhTlv[];
}

/**
 * Decodes the SRH at the start of `buf` (exactly 8 × (Hdr Ext Len + 1) bytes; bytes past that are
 * ignored). Throws SrError (kind `input`) on anything malformed.
 *
 * Copies: the header is copied once; `segments` and TLV values are views into that private copy, so
 * they stay valid when the caller reuses `buf`, and writing to them does not touch `buf`.
 */
export function decodeSrh(buf: Uint8Array): Srh {
  if (buf.length < 8) throw new SrError('SRH_TRUNCATED', `an SRH needs at least 8 bytes, got ${buf.length}`);
  const hdrLen = buf[1]!;
  const total = 8 * (hdrLen + 1);
  if (buf[2] !== SRH_ROUTING_TYPE) throw new SrError('SRH_BAD_TYPE', `Routing Type is ${buf[2]}, not ${SRH_ROUTING_TYPE} (SRH)`);
  if (buf.length < total) throw new SrError('SRH_TRUNCATED', `Hdr Ext Len ${hdrLen} means ${total} bytes, got ${buf.length}`);
  if (hdrLen < 2) throw new SrError('SRH_BAD_LENGTH', `Hdr Ext Len ${hdrLen} (${total} bytes) leaves no room for a segment`);
  const segmentsLeft = buf[3]!;
  const lastEntry = buf[4]!;
  const nsegs = lastEntry + 1;
  if (8 + 16 * nsegs > total) {
    throw new SrError('SRH_BAD_LAST_ENTRY', `Last Entry ${lastEntry} needs ${8 + 16 * nsegs} bytes, the header has ${total}`);
  }
  if (segmentsLeft > lastEntry) {
    throw new SrError('SRH_BAD_SEGMENTS_LEFT', `Segments Left ${segmentsLeft} exceeds Last Entry ${lastEntry}`);
  }
  const b = Buffer.from(buf.subarray(0, total)); // the one copy
  const segments: Buffer[] = [];
  for (let i = 0; i < nsegs; i++) segments.push(b.subarray(8 + 16 * i, 24 + 16 * i));
  const tlvs: SrhTlv[] = [];
  let off = 8 + 16 * nsegs;
  while (off < total) {
    const type = b[off]!;
    if (type === TLV_PAD1) {
      tlvs.push({ type, value: b.subarray(off, off) });
      off += 1;
      continue;
    }
    if (off + 2 > total) throw new SrError('SRH_BAD_TLV', `TLV type ${type} at offset ${off} has no length byte (header ends at ${total})`);
    const len = b[off + 1]!;
    if (off + 2 + len > total) {
      throw new SrError('SRH_BAD_TLV', `TLV type ${type} at offset ${off} (length ${len}) runs past the header end (${total})`);
    }
    tlvs.push({ type, value: b.subarray(off + 2, off + 2 + len) });
    off += 2 + len;
  }
  return { nextHeader: b[0]!, segmentsLeft, lastEntry, flags: b[5]!, tag: b.readUInt16BE(6), segments, tlvs };
}

export interface SrhInput {
  nextHeader?: number;
  segmentsLeft: number;
  flags?: number;
  tag?: number;
  /** wire order (segments[0] = final destination), 16 bytes each */
  segments: readonly Uint8Array[];
  tlvs?: readonly SrhTlv[];
  /**
   * Pad the way the Linux kernel accepts on a socket (IPV6_RTHDR): its `seg6_validate_srh` reads every
   * TLV as type + length, so a 1-byte Pad1 is refused (EINVAL) and a 9-byte PadN is used instead; and
   * it looks for the HMAC TLV in the last 40 bytes, so padding goes before a trailing HMAC TLV.
   */
  linuxCompatible?: boolean;
}

function checkInt(name: string, v: number | undefined, max: number): number {
  const x = v ?? 0;
  if (!Number.isInteger(x) || x < 0 || x > max) throw new SrError('SRH_BAD_FIELD', `${name} ${v} is not in 0..${max}`);
  return x;
}

function tlvBytes(tlvs: readonly SrhTlv[]): number {
  let n = 0;
  for (const t of tlvs) n += t.type === TLV_PAD1 ? 1 : 2 + t.value.length;
  return n;
}

/**
 * Encodes an SRH: Last Entry = segments.length − 1, Hdr Ext Len from the size. When the given TLVs do
 * not end on a multiple of 8 bytes, one padding TLV is added (Pad1 for one byte, else PadN of 0..5
 * zero bytes; see `linuxCompatible`). The segments and TLV values are copied into the result.
 */
export function encodeSrh(srh: SrhInput): Buffer {
  const n = srh.segments.length;
  if (n < 1 || n > SRH_MAX_SEGMENTS) throw new SrError('SRH_TOO_LONG', `an SRH holds 1 to ${SRH_MAX_SEGMENTS} segments, not ${n}`);
  if (!Number.isInteger(srh.segmentsLeft) || srh.segmentsLeft < 0 || srh.segmentsLeft > n - 1) {
    throw new SrError('SRH_BAD_SEGMENTS_LEFT', `Segments Left ${srh.segmentsLeft} must be 0..${n - 1} (Last Entry) for ${n} segments`);
  }
  const nextHeader = checkInt('Next Header', srh.nextHeader, 255);
  const flags = checkInt('Flags', srh.flags, 255);
  const tag = checkInt('Tag', srh.tag, 0xffff);
  srh.segments.forEach((s, i) => {
    if (s.length !== 16) throw new SrError('BAD_ADDRESS', `segment ${i} is ${s.length} bytes, not 16`);
  });
  const tlvs = [...(srh.tlvs ?? [])];
  for (const t of tlvs) {
    if (!Number.isInteger(t.type) || t.type < 0 || t.type > 255) throw new SrError('SRH_BAD_TLV', `TLV type ${t.type} is not a byte`);
    if (t.type === TLV_PAD1 && t.value.length > 0) throw new SrError('SRH_BAD_TLV', `a Pad1 TLV has no value (got ${t.value.length} bytes)`);
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
  out[0] = nextHeader;
  out[1] = total / 8 - 1;
  out[2] = SRH_ROUTING_TYPE;
  out[3] = srh.segmentsLeft;
  out[4] = n - 1;
  out[5] = flags;
  out.writeUInt16BE(tag, 6);
  srh.segments.forEach((s, i) => out.set(s, 8 + 16 * i));
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
export function srhForPath(
  path: readonly Uint8Array[],
  opts?: {
    tlvs?: readonly SrhTlv[];
    nextHeader?: number;
    flags?: number;
    tag?: number;
    /** segments already visited (travel order), kept after the active ones on the wire: a receiver can reverse them */
    visited?: readonly Uint8Array[];
  },
): Buffer {
  return encodeSrh({
    segments: [...path].reverse().concat([...(opts?.visited ?? [])].reverse()),
    segmentsLeft: path.length - 1,
    linuxCompatible: true,
    tlvs: opts?.tlvs,
    nextHeader: opts?.nextHeader,
    flags: opts?.flags,
    tag: opts?.tag,
  });
}

/**
 * A path to send on, as segments (travel order) with what its SRH carries. The proxy's decision holds
 * this, not SRH bytes: it is encoded once, where a socket needs it (`onwardSrh`), and a function that
 * carries the outbound side itself (the mptcp converter) reads the segments and TLVs directly.
 */
export interface OnwardPath {
  /** travel order: [next segment, …, final destination] (never empty: the destination at least) */
  path: readonly Uint8Array[];
  /** TLVs the SRH carries (the return-path TLV, one step on) */
  tlvs: readonly SrhTlv[];
  /** the SRH's tag (a return hop's id) */
  tag?: number;
  /** segments already visited, travel order (a return hop's SID, for the next hop to reverse) */
  visited?: readonly Uint8Array[];
}

/** Whether an onward path needs an SRH at all: not when only the destination is left and there is nothing to carry. */
function needsSrh(o: OnwardPath): boolean {
  return o.path.length > 1 || o.tlvs.length > 0 || o.tag !== undefined || (o.visited?.length ?? 0) > 0;
}

/** The SRH bytes for an onward path (see `srhForPath`), or null when it needs none. */
export function onwardSrh(o: OnwardPath): Buffer | null {
  return needsSrh(o) ? srhForPath(o.path, { tlvs: o.tlvs, tag: o.tag, visited: o.visited }) : null;
}

/**
 * Throws what `onwardSrh` would throw for the size (SRH_TOO_LONG: more than 127 segments, or past
 * 2048 bytes with the TLVs and padding), without encoding: a decision is checked when it is taken.
 */
export function checkOnwardFits(o: OnwardPath): void {
  if (!needsSrh(o)) return;
  const n = o.path.length + (o.visited?.length ?? 0);
  if (n < 1 || n > SRH_MAX_SEGMENTS) throw new SrError('SRH_TOO_LONG', `an SRH holds 1 to ${SRH_MAX_SEGMENTS} segments, not ${n}`);
  let total = 8 + 16 * n + tlvBytes(o.tlvs);
  const rem = total % 8;
  if (rem !== 0) total += 8 - rem === 1 ? 9 : 8 - rem; // Linux-compatible padding: PadN, 9 bytes for one
  if (total > SRH_MAX_BYTES) throw new SrError('SRH_TOO_LONG', `the SRH would be ${total} bytes (max ${SRH_MAX_BYTES})`);
}

/** The path in travel order (the reverse of the segment list): a new array of the same Buffers. */
export function pathOf(srh: Srh): Buffer[] {
  return [...srh.segments].reverse();
}

/** An HMAC TLV (RFC 8754 §2.1.2): D flag + 15 reserved bits, HMAC Key ID (u32), HMAC (Linux: 32 bytes). */
export function hmacTlv(keyId: number, hmac: Uint8Array, dFlag = false): SrhTlv {
  if (!Number.isInteger(keyId) || keyId < 0 || keyId > 0xffffffff) throw new SrError('SRH_BAD_TLV', `HMAC key id ${keyId} is not a u32`);
  if (hmac.length > 255 - 6) throw new SrError('SRH_BAD_TLV', `an HMAC of ${hmac.length} bytes does not fit a TLV (max 249)`);
  const v = Buffer.alloc(6 + hmac.length);
  if (dFlag) v[0] = 0x80;
  v.writeUInt32BE(keyId, 2);
  v.set(hmac, 6);
  return { type: TLV_HMAC, value: v };
}

/** Reads an HMAC TLV; `hmac` is a view into `tlv.value`. Reserved bits are ignored (RFC 8754). */
export function decodeHmacTlv(tlv: SrhTlv): { dFlag: boolean; keyId: number; hmac: Buffer } {
  if (tlv.type !== TLV_HMAC) throw new SrError('SRH_BAD_TLV', `TLV type ${tlv.type} is not HMAC (${TLV_HMAC})`);
  if (tlv.value.length < 6) throw new SrError('SRH_BAD_TLV', `HMAC TLV value is ${tlv.value.length} bytes (min 6)`);
  return { dFlag: (tlv.value[0]! & 0x80) !== 0, keyId: tlv.value.readUInt32BE(2), hmac: tlv.value.subarray(6) };
}

const TLV_NAMES: Record<number, string> = { [TLV_PADN]: 'PadN', [TLV_HMAC]: 'HMAC' };

/** One line for logs: `SL=0 [fc00:2::2 ← fc00:b::2:0:0 ← fc00:a::1:0:0] tlvs=PadN(4),HMAC(key 7)`. */
export function describeSrh(srh: Srh): string {
  const segs = srh.segments.map((s) => formatAddress(s)).join(' ← ');
  const tlvs = srh.tlvs.map((t) => {
    if (t.type === TLV_PAD1) return 'Pad1';
    if (t.type === TLV_HMAC && t.value.length >= 6) return `HMAC(key ${t.value.readUInt32BE(2)})`;
    return `${TLV_NAMES[t.type] ?? `type${t.type}`}(${t.value.length})`;
  });
  return `SL=${srh.segmentsLeft} [${segs}]${tlvs.length ? ` tlvs=${tlvs.join(',')}` : ''}`;
}
