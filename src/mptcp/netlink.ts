/**
 * Generic netlink messages, pure (no I/O): nlmsghdr + genlmsghdr + attributes (nested included),
 * and the parsing of replies (attributes, NLMSG_ERROR). Only what the MPTCP path manager needs.
 */
export const NLMSG_ERROR = 2;
export const NLM_F_REQUEST = 1;
export const NLM_F_ACK = 4;
export const NLA_F_NESTED = 0x8000;
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;

export interface Attr {
  type: number;
  /** a value, or nested attributes */
  value: Buffer | Attr[];
}

const align4 = (n: number): number => (n + 3) & ~3;

export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  const parts: Buffer[] = [];
  for (const a of attrs) {
    const nested = Array.isArray(a.value);
    const body = nested ? encodeAttrs(a.value as Attr[]) : (a.value as Buffer);
    const head = Buffer.alloc(4);
    head.writeUInt16LE(4 + body.length, 0);
    head.writeUInt16LE(a.type | (nested ? NLA_F_NESTED : 0), 2);
    parts.push(head, body, Buffer.alloc(align4(body.length) - body.length));
  }
  return Buffer.concat(parts);
}

/** Attributes of one level (nested ones stay raw: decode them again with this function). */
export function decodeAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let off = 0; off + 4 <= buf.length; ) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    out.set(buf.readUInt16LE(off + 2) & ~NLA_F_NESTED, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

export function genlMessage(family: number, cmd: number, version: number, seq: number, attrs: readonly Attr[]): Buffer {
  const payload = encodeAttrs(attrs);
  const b = Buffer.alloc(20 + payload.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(family, 4);
  b.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK, 6);
  b.writeUInt32LE(seq, 8);
  b[16] = cmd;
  b[17] = version;
  payload.copy(b, 20);
  return b;
}

export interface NlReply {
  type: number;
  seq: number;
  /** NLMSG_ERROR: 0 for an acknowledgement, else -errno */
  error?: number;
  /** a generic netlink reply: its attributes */
  attrs?: Map<number, Buffer>;
}

/** The messages of one datagram; parsing stops at the first malformed one. */
export function parseReplies(buf: Buffer): NlReply[] {
  const out: NlReply[] = [];
  for (let off = 0; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 4);
    const seq = buf.readUInt32LE(off + 8);
    if (type === NLMSG_ERROR) {
      if (len < 20) break; // an error message without its errno: malformed
      out.push({ type, seq, error: buf.readInt32LE(off + 16) });
    }
    else out.push({ type, seq, attrs: decodeAttrs(buf.subarray(off + 20, off + len)) });
    off += align4(len);
  }
  return out;
}

export const u8 = (v: number): Buffer => Buffer.from([v]);
export function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}
export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
