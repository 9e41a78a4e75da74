/**
 * Parsing of ancillary data (struct cmsghdr records) as returned by getsockopt(IPV6_2292PKTOPTIONS).
 * Layout on Linux: cmsg_len (size_t), cmsg_level (int), cmsg_type (int), data; each record aligned to
 * sizeof(size_t). Pure: unit-tested without a socket.
 */
import { SrError } from '../core/errors.js';

export interface Cmsg {
  level: number;
  type: number;
  data: Buffer;
}

export function parseCmsgs(buf: Buffer, sizeofSizeT = 8): Cmsg[] {
  const header = sizeofSizeT + 8;
  const align = (n: number): number => (n + sizeofSizeT - 1) & ~(sizeofSizeT - 1);
  const out: Cmsg[] = [];
  let off = 0;
  while (off + header <= buf.length) {
    const len = sizeofSizeT === 8 ? Number(buf.readBigUInt64LE(off)) : buf.readUInt32LE(off);
    if (len < header || off + len > buf.length) {
      throw new SrError('CMSG_MALFORMED', `cmsg at offset ${off} has length ${len} (buffer ${buf.length})`);
    }
    out.push({
      level: buf.readInt32LE(off + sizeofSizeT),
      type: buf.readInt32LE(off + sizeofSizeT + 4),
      data: buf.subarray(off + header, off + len),
    });
    off += align(len);
  }
  return out;
}

/** Builds cmsg records (tests use it to exercise the parser). */
export function buildCmsgs(records: Cmsg[], sizeofSizeT = 8): Buffer {
  const header = sizeofSizeT + 8;
  const align = (n: number): number => (n + sizeofSizeT - 1) & ~(sizeofSizeT - 1);
  const parts: Buffer[] = [];
  for (const r of records) {
    const len = header + r.data.length;
    const b = Buffer.alloc(align(len));
    if (sizeofSizeT === 8) b.writeBigUInt64LE(BigInt(len), 0);
    else b.writeUInt32LE(len, 0);
    b.writeInt32LE(r.level, sizeofSizeT);
    b.writeInt32LE(r.type, sizeofSizeT + 4);
    r.data.copy(b, header);
    parts.push(b);
  }
  return Buffer.concat(parts);
}
