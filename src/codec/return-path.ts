/**
 * The return-path TLV (the original SRv6Pipes prototype's layout, TLV type 6): it carries, inside a
 * flow's SRH, the segment list that replies must follow back to the client.
 *
 *   type 6 | length | 5 reserved bytes (0) | Segments Left u8 | n × segment (16 bytes)
 *
 * Segments are in SRH wire order (segments[0] = the last one visited, normally the client), and
 * Segments Left indexes the next one to visit, as in the SRH itself. The value is 6 + 16 n bytes
 * and a TLV value is at most 255 bytes: at most 15 segments. Throws SrError SRH_BAD_TLV (kind
 * input) on anything malformed.
 *
 * Along a chain of proxies (each terminates TCP), segments[i] (i ≥ 1) is the SID the replies of
 * hop i+1 go back to — the return SID of proxy i, counted from the client — and Segments Left names
 * the entry of the hop that sent this connection: the client sends 0 (its replies come straight
 * back), proxy k forwards k. A receiver replies via segments[SL] (nothing when SL is 0) and reads
 * its own entry at segments[SL + 1] (see `returnStep`).
 */
import { SrError } from '../core/errors.js';
import { srhForPath, type SrhTlv } from './srh.js';

export const TLV_RETURN_PATH = 6;
export const RETURN_PATH_MAX_SEGMENTS = 15;

export interface ReturnPath {
  /** travel order: the first hop of the way back first, the client last */
  path: Buffer[];
  /** Segments Left as carried (n − 1 for a fresh TLV) */
  segmentsLeft: number;
}

/** The TLV for a return path given in travel order (the client last). */
export function returnPathTlv(path: readonly Uint8Array[], segmentsLeft = path.length - 1): SrhTlv {
  if (path.length < 1 || path.length > RETURN_PATH_MAX_SEGMENTS) {
    throw new SrError('SRH_BAD_TLV', `a return path holds 1..${RETURN_PATH_MAX_SEGMENTS} segments, not ${path.length}`);
  }
  if (!Number.isInteger(segmentsLeft) || segmentsLeft < 0 || segmentsLeft >= path.length) {
    throw new SrError('SRH_BAD_TLV', `return-path Segments Left ${segmentsLeft} is not below ${path.length}`);
  }
  const value = Buffer.alloc(6 + 16 * path.length);
  value[5] = segmentsLeft;
  const n = path.length;
  path.forEach((seg, i) => {
    if (seg.length !== 16) throw new SrError('SRH_BAD_TLV', `a segment is 16 bytes, not ${seg.length}`);
    value.set(seg, 6 + 16 * (n - 1 - i));
  });
  return { type: TLV_RETURN_PATH, value };
}

export function decodeReturnPathTlv(tlv: SrhTlv): ReturnPath {
  if (tlv.type !== TLV_RETURN_PATH) throw new SrError('SRH_BAD_TLV', `TLV type ${tlv.type} is not a return path (${TLV_RETURN_PATH})`);
  const v = tlv.value;
  if (v.length < 6 + 16 || (v.length - 6) % 16 !== 0) {
    throw new SrError('SRH_BAD_TLV', `return-path TLV value is ${v.length} bytes: 6 + 16 per segment, at least one`);
  }
  const n = (v.length - 6) / 16;
  // a TLV value is at most 255 bytes on the wire; a longer one (handed over some other way) is refused the same
  if (n > RETURN_PATH_MAX_SEGMENTS) throw new SrError('SRH_BAD_TLV', `return-path TLV with ${n} segments: at most ${RETURN_PATH_MAX_SEGMENTS}`);
  const segmentsLeft = v[5]!;
  if (segmentsLeft >= n) throw new SrError('SRH_BAD_TLV', `return-path Segments Left ${segmentsLeft} with ${n} segments`);
  const path: Buffer[] = [];
  for (let i = n - 1; i >= 0; i--) path.push(Buffer.from(v.subarray(6 + 16 * i, 6 + 16 * (i + 1))));
  return { path, segmentsLeft };
}

/** The return-path TLV among an SRH's TLVs, decoded; undefined when there is none. */
export function findReturnPath(tlvs: readonly SrhTlv[]): ReturnPath | undefined {
  const t = tlvs.find((x) => x.type === TLV_RETURN_PATH);
  return t ? decodeReturnPathTlv(t) : undefined;
}

/**
 * The return-path TLV a client sends: the return SIDs of the proxies in the order the replies travel
 * back (the last proxy's first), then the client (`::` when not known: receivers address the client
 * by the connection's peer address), Segments Left 0.
 */
export function clientReturnPathTlv(returnSids: readonly Uint8Array[], client: Uint8Array = Buffer.alloc(16)): SrhTlv {
  return returnPathTlv([...returnSids, client], 0);
}

export interface ReturnStep {
  /** the SID this hop's replies go back through (the sender's entry); undefined: straight back */
  replyVia?: Buffer;
  /** this hop's own entry (where its own replies must come back to), if the sender gave one */
  own?: Buffer;
  /** the TLV for this hop's onward SRH (Segments Left + 1), or undefined when there is no entry for it */
  onward?: SrhTlv;
}

/** What a receiving hop does with a return path: reply through the sender's entry, forward its own. */
export function returnStep(rp: ReturnPath): ReturnStep {
  const n = rp.path.length;
  const wire = (i: number): Buffer => rp.path[n - 1 - i]!;
  const sl = rp.segmentsLeft;
  const step: ReturnStep = {};
  if (sl > 0) step.replyVia = wire(sl);
  if (sl + 1 < n) {
    step.own = wire(sl + 1);
    step.onward = returnPathTlv(rp.path, sl + 1);
  }
  return step;
}

/**
 * The SRH a receiver sets on its accepted socket so that replies go back the way the flow came: the
 * return path's entry for the sender when there is a TLV, else the segments of `path` (travel order)
 * visited before the receiver's own at `position`, reversed. Null when the replies go straight back
 * (nothing is allocated then: this runs for every SYN). The last segment is a placeholder: the kernel
 * writes the connection's peer (the client) over it.
 */
export function replySrh(step: ReturnStep | undefined, path: readonly Buffer[], position: number): { srh: Buffer; via: Buffer } | null {
  if (step ? !step.replyVia : position === 0) return null;
  const back = step ? [step.replyVia!] : path.slice(0, position).reverse();
  return { srh: srhForPath([...back, CLIENT_PLACEHOLDER]), via: back[0]! };
}

const CLIENT_PLACEHOLDER = Buffer.alloc(16);
