/**
 * The decision taken for each accepted flow, from the SYN's SRH alone (pure, no I/O):
 * find this proxy's segment (the first one, in travel order, inside one of its locators), decode its
 * function and argument, look the function up, and compute the SRH for the next connection (the
 * segments after ours; none when only the final destination remains).
 *
 * Replies on the accepted socket go back along the reverse of the segments visited before ours (a
 * previous proxy with a return hop leaves its return SID there: the "reversed" mode).
 * A return-path TLV (type 6, src/codec/return-path.ts) takes precedence and adds three things: the accepted socket's
 * replies go back through the sender's entry (`replySrh`); this proxy's own entry, when it names one
 * of its functions, picks the function for the downstream direction (asymmetric processing); and the
 * onward SRH carries the TLV one step on (or drops it when there is no entry for this proxy).
 */
import type { ErrorCode } from '../core/errors.js';
import { isSrError } from '../core/errors.js';
import { decodeSrh, pathOf, srhForPath } from '../codec/srh.js';
import { findReturnPath, replySrh, returnStep, type ReturnStep } from '../codec/return-path.js';
import { decodeSid, type SidLayout } from '../codec/sid.js';
import { formatAddress } from '../net/ip6.js';

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
  /** SRH for the outbound connection, or null when the next hop is the final destination */
  nextSrh: Buffer | null;
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
  /** FLOW_NOT_OURS with binding SIDs on: the segments (before the destination) to look up */
  candidates?: string[];
}

/** Binding SIDs, as far as classify needs them (bindings.ts: the controller's answers, cached). */
export interface BindingSids {
  /** whether a segment may be a binding SID (inside one of the access routers' BSID prefixes) */
  isCandidate(segment: Buffer): boolean;
  /** at most this many segments of one SYN are candidates (the first ones, in travel order) */
  readonly maxCandidates: number;
  /** the segments a binding SID stands for (travel order), when known */
  expand(segment: Buffer): Buffer[] | undefined;
}

export type Decision<F> = Accepted<F> | Rejected;

/** A proxy's return id and return SID (one of its own addresses). */
export interface ReturnHop {
  id: number;
  sid: Buffer;
}

export function classify<F>(
  srhBytes: Buffer | null,
  locators: readonly SidLayout[],
  lookup: (functionId: number) => F | undefined,
  bindings?: BindingSids,
  /**
   * this proxy's return hop: the onward SRH carries the id as its tag and the SID as a visited segment
   * (the next hop can reverse it), even when only the destination remains
   */
  ret?: ReturnHop,
): Decision<F> {
  if (!srhBytes) return { ok: false, code: 'FLOW_NO_SRH', reason: 'the SYN carried no routing header' };
  let path: Buffer[];
  let step: ReturnStep | undefined;
  try {
    const srh = decodeSrh(srhBytes);
    // a malformed return-path TLV (type 6) rejects the flow
    const rp = findReturnPath(srh.tlvs);
    step = rp && returnStep(rp);
    path = pathOf(srh);
  } catch (e) {
    if (isSrError(e)) return { ok: false, code: e.code, reason: e.message };
    throw e;
  }
  const direct = place(path, locators, lookup, ret, step);
  if (direct.ok || direct.code !== 'FLOW_NOT_OURS' || !bindings) return direct;
  // reached through a binding SID? the socket saw only [BSID, destination]
  const candidates = bindingCandidates(path, bindings);
  if (candidates.length === 0) return direct;
  for (const i of candidates) {
    const inner = bindings.expand(path[i]!);
    if (!inner) continue;
    const expanded = [...path.slice(0, i), ...inner, ...path.slice(i + 1)];
    const d = place(expanded, locators, lookup, ret, step);
    if (d.ok) return { ...d, bsid: formatAddress(path[i]!) };
    if (d.code !== 'FLOW_NOT_OURS') return d;
    return { ok: false, code: 'FLOW_NOT_OURS', reason: `binding SID ${formatAddress(path[i]!)} stands for [${inner.map((b) => formatAddress(b)).join(', ')}]: no segment is in this proxy's locators`, candidates: [formatAddress(path[i]!)] };
  }
  return { ...direct, candidates: candidates.map((i) => formatAddress(path[i]!)) };
}

/** The positions of the segments to look up: inside a BSID prefix, before the destination, the first `maxCandidates`. */
function bindingCandidates(path: readonly Buffer[], bindings: BindingSids): number[] {
  const out: number[] = [];
  for (let i = 0; i < path.length - 1 && out.length < bindings.maxCandidates; i++) if (bindings.isCandidate(path[i]!)) out.push(i);
  return out;
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

/**
 * `placeOn`, total: an onward or reply SRH that cannot be encoded (more than 127 segments once a
 * binding SID is expanded or a return hop added: SRH_TOO_LONG) rejects the flow with that code.
 */
function place<F>(
  path: Buffer[],
  locators: readonly SidLayout[],
  lookup: (functionId: number) => F | undefined,
  ret?: ReturnHop,
  step?: ReturnStep,
): Decision<F> {
  try {
    return placeOn(path, locators, lookup, ret, step);
  } catch (e) {
    if (isSrError(e)) return { ok: false, code: e.code, reason: `no onward SRH for [${path.length} segments]: ${e.message}` };
    throw e;
  }
}

function placeOn<F>(
  path: Buffer[],
  locators: readonly SidLayout[],
  lookup: (functionId: number) => F | undefined,
  ret?: ReturnHop,
  step?: ReturnStep,
): Decision<F> {
  // the final destination (last in travel order) is never one of our function segments
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i]!;
    for (const layout of locators) {
      const d = decodeSid(layout, seg);
      if (!d) continue;
      const entry = lookup(d.fn);
      const text = path.map((b) => formatAddress(b));
      if (!entry) {
        return {
          ok: false,
          code: 'FLOW_UNKNOWN_FUNCTION',
          reason: `function id ${d.fn} (segment ${text[i]}) is not configured on this proxy`,
        };
      }
      const rest = path.slice(i + 1);
      const tlvs = step?.onward ? [step.onward] : [];
      const accepted: Accepted<F> = {
        ok: true,
        entry,
        functionId: d.fn,
        argument: d.arg,
        sid: text[i]!,
        path: text,
        position: i,
        // with a return hop or a TLV to carry, an SRH goes on even when only the destination remains
        nextSrh:
          ret || tlvs.length > 0
            ? srhForPath(rest, { tlvs, ...(ret ? { tag: ret.id, visited: [ret.sid] } : {}) })
            : rest.length > 1
              ? srhForPath(rest)
              : null,
        replySrh: null,
      };
      const reply = replySrh(step, path, i);
      if (reply) {
        accepted.replySrh = reply.srh;
        accepted.replyVia = formatAddress(reply.via);
      }
      const down = step?.own && downstreamFunction(step.own, locators, lookup);
      if (down && (down.functionId !== d.fn || down.argument !== d.arg)) accepted.downstream = down;
      return accepted;
    }
  }
  const text = path.map((b) => formatAddress(b));
  return { ok: false, code: 'FLOW_NOT_OURS', reason: `no segment of [${text.join(', ')}] is in this proxy's locators` };
}
