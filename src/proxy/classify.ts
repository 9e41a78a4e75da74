/**
 * The decision taken for each accepted flow (pure, no I/O), in two steps that each run once:
 *  1. `synPath` decodes what the SYN said — its SRH (or, for a converted MPTCP flow, the converter
 *     header: `convertedPath`, no SRH encoded in between) — into the path, travel order, and what
 *     its return-path TLV asks of this hop;
 *  2. `classify` takes that decoded path (after the binding-SID expansion, bindings.ts, when the path
 *     came through one): it finds this proxy's segment (the first one, in travel order, inside one of
 *     its locators), decodes its function and argument, looks the function up, and gives the onward
 *     path as segments (codec/srh.ts `OnwardPath`): encoded once, by whoever opens the socket.
 *
 * Replies on the accepted socket go back along the reverse of the segments visited before ours (a
 * previous proxy with a return hop leaves its return SID there: the "reversed" mode).
 * A return-path TLV (type 6, src/codec/return-path.ts) takes precedence and adds three things: the accepted socket's
 * replies go back through the sender's entry (`replySrh`); this proxy's own entry, when it names one
 * of its functions, picks the function for the downstream direction (asymmetric processing); and the
 * onward path carries the TLV one step on (or drops it when there is no entry for this proxy).
 */
import type { ErrorCode } from '../core/errors.js';
import { isSrError } from '../core/errors.js';
import type { ConvertHeader } from '../codec/convert.js';
import { checkOnwardFits, decodeSrh, pathOf, type OnwardPath } from '../codec/srh.js';
import { findReturnPath, replySrh, returnStep, type ReturnStep } from '../codec/return-path.js';
import { decodeSid, findOwnSegment, type SidLayout } from '../codec/sid.js';
import { formatAddress, parseAddress } from '../net/ip6.js';

/** What the SYN said, decoded once. */
export interface SynPath {
  /** travel order: [segments…, final destination] */
  path: Buffer[];
  /** what the return-path TLV asks of this hop, when the SYN carried one */
  returnStep?: ReturnStep;
  /** the binding SID this path was expanded from (bindings.ts), as text */
  bsid?: string;
}

export interface Accepted<F> {
  ok: true;
  /** what the function table holds for this id */
  entry: F;
  functionId: number;
  argument: bigint;
  /** this proxy's segment */
  sid: string;
  /** the whole path, travel order, as text */
  path: string[];
  position: number;
  /** the path of the outbound connection: the segments after ours, and what its SRH carries */
  onward: OnwardPath;
  /** SRH for the accepted socket's replies (return-path TLV: through the sender's entry), or null */
  replySrh: Buffer | null;
  /** the SID those replies go back through (text), when there is one */
  replyVia?: string;
  /** the return path's entry for this proxy names another of its functions: it processes the downstream bytes */
  downstream?: { entry: F; functionId: number; argument: bigint; sid: string };
  /** the binding SID the path came through (expanded with what the controller said) */
  bsid?: string;
}

export interface Rejected {
  ok: false;
  code: ErrorCode;
  reason: string;
}

export type Decision<F> = Accepted<F> | Rejected;

/** A proxy's return id and return SID (one of its own addresses). */
export interface ReturnHop {
  id: number;
  sid: Buffer;
}

/** A decode step's typed failure as a rejection (anything else is a bug and throws). */
function rejected(e: unknown, prefix = ''): Rejected {
  if (isSrError(e)) return { ok: false, code: e.code, reason: `${prefix}${e.message}` };
  throw e;
}

/** Step 1: the SYN's SRH, decoded (a malformed SRH or return-path TLV rejects the flow). */
export function synPath(srhBytes: Buffer | null): ({ ok: true } & SynPath) | Rejected {
  if (!srhBytes) return { ok: false, code: 'FLOW_NO_SRH', reason: 'the SYN carried no routing header' };
  try {
    const srh = decodeSrh(srhBytes);
    const rp = findReturnPath(srh.tlvs);
    return { ok: true, path: pathOf(srh), ...(rp ? { returnStep: returnStep(rp) } : {}) };
  } catch (e) {
    return rejected(e);
  }
}

/**
 * Step 1 for a flow converted to MPTCP by a customer-side converter: its header says what the client's
 * SYN said, so the path is [SID, segments…, server] and the TLVs are those of CP's onward SRH.
 */
export function convertedPath(h: ConvertHeader): ({ ok: true } & SynPath) | Rejected {
  try {
    const rp = findReturnPath(h.srhTlvs ?? []);
    return { ok: true, path: [h.sid, ...h.segments, h.server.address].map((a) => parseAddress(a)), ...(rp ? { returnStep: returnStep(rp) } : {}) };
  } catch (e) {
    return rejected(e);
  }
}

export interface ClassifyOptions<F> {
  /** the decoded path (step 1), binding SID already expanded */
  syn: SynPath;
  locators: readonly SidLayout[];
  lookup(functionId: number): F | undefined;
  /**
   * this proxy's return hop: the onward SRH carries the id as its tag and the SID as a visited segment
   * (the next hop can reverse it), even when only the destination remains
   */
  returnHop?: ReturnHop;
}

/**
 * Step 2: this proxy's place in the path. Total: an onward or reply SRH that could not be encoded
 * (more than 127 segments once a binding SID is expanded or a return hop added: SRH_TOO_LONG) rejects
 * the flow with that code.
 */
export function classify<F>(o: ClassifyOptions<F>): Decision<F> {
  const { path, returnStep: step, bsid } = o.syn;
  const own = findOwnSegment(path, o.locators);
  const text = path.map((b) => formatAddress(b));
  if (!own) return { ok: false, code: 'FLOW_NOT_OURS', reason: `no segment of [${text.join(', ')}] is in this proxy's locators` };
  const i = own.position;
  const entry = o.lookup(own.fn);
  if (!entry) return { ok: false, code: 'FLOW_UNKNOWN_FUNCTION', reason: `function id ${own.fn} (segment ${text[i]}) is not configured on this proxy` };
  const ret = o.returnHop;
  // with a return hop or a TLV to carry, an SRH goes on even when only the destination remains
  const onward: OnwardPath = { path: path.slice(i + 1), tlvs: step?.onward ? [step.onward] : [], ...(ret ? { tag: ret.id, visited: [ret.sid] } : {}) };
  let reply: ReturnType<typeof replySrh>;
  try {
    checkOnwardFits(onward);
    reply = replySrh(step, path, i);
  } catch (e) {
    return rejected(e, `no onward SRH for [${path.length} segments]: `);
  }
  const accepted: Accepted<F> = {
    ok: true,
    entry,
    functionId: own.fn,
    argument: own.arg,
    sid: text[i]!,
    path: text,
    position: i,
    onward,
    replySrh: reply?.srh ?? null,
    ...(reply ? { replyVia: formatAddress(reply.via) } : {}),
    ...(bsid ? { bsid } : {}),
  };
  const down = step?.own && downstreamFunction(step.own, o.locators, o.lookup);
  if (down && (down.functionId !== own.fn || down.argument !== own.arg)) accepted.downstream = down;
  return accepted;
}

/** This proxy's return-path entry, when it names one of its configured functions. */
function downstreamFunction<F>(own: Buffer, locators: readonly SidLayout[], lookup: (functionId: number) => F | undefined): Accepted<F>['downstream'] {
  for (const layout of locators) {
    const d = decodeSid(layout, own);
    const entry = d && lookup(d.fn);
    if (d && entry) return { entry, functionId: d.fn, argument: d.arg, sid: formatAddress(own) };
  }
  return undefined;
}
