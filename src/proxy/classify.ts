/**
 * The decision taken for each accepted flow, from the SYN's SRH alone (pure, no I/O):
 * find this proxy's segment (the first one, in travel order, inside one of its locators), decode its
 * function and argument, look the function up, and compute the SRH for the next connection (the
 * segments after ours; none when only the final destination remains).
 */
import type { ErrorCode } from '../errors.js';
import { isSrError } from '../errors.js';
import { decodeSrh, pathOf, srhForPath } from '../codec/srh.js';
import { findReturnPath } from '../codec/return-path.js';
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
  /** the binding SID the path came through (expanded with what the controller said) */
  bsid?: string;
}

export interface Rejected {
  ok: false;
  code: ErrorCode;
  reason: string;
  /** FLOW_NOT_OURS: the segments (before the destination) that could be binding SIDs */
  candidates?: string[];
}

/** The segments a binding SID stands for (travel order), when known. */
export type Expand = (segment: Buffer) => Buffer[] | undefined;

export type Decision<F> = Accepted<F> | Rejected;

export function classify<F>(
  srhBytes: Buffer | null,
  locators: readonly SidLayout[],
  lookup: (functionId: number) => F | undefined,
  expand?: Expand,
  /** this proxy's return id: the onward SRH carries it as its tag, even when only the destination remains */
  tag?: number,
): Decision<F> {
  if (!srhBytes) return { ok: false, code: 'FLOW_NO_SRH', reason: 'the SYN carried no routing header' };
  let path: Buffer[];
  try {
    const srh = decodeSrh(srhBytes);
    // a return-path TLV (type 6) must be well formed even before it is used: a bad one rejects the flow
    findReturnPath(srh.tlvs);
    path = pathOf(srh);
  } catch (e) {
    if (isSrError(e)) return { ok: false, code: e.code, reason: e.message };
    throw e;
  }
  const direct = place(path, locators, lookup, tag);
  if (direct.ok || direct.code !== 'FLOW_NOT_OURS' || !expand) return direct;
  // reached through a binding SID? the socket saw only [BSID, destination]
  for (let i = 0; i < path.length - 1; i++) {
    const inner = expand(path[i]!);
    if (!inner) continue;
    const expanded = [...path.slice(0, i), ...inner, ...path.slice(i + 1)];
    const d = place(expanded, locators, lookup, tag);
    if (d.ok) return { ...d, bsid: formatAddress(path[i]!) };
    if (d.code !== 'FLOW_NOT_OURS') return d;
    return { ok: false, code: 'FLOW_NOT_OURS', reason: `binding SID ${formatAddress(path[i]!)} stands for [${inner.map((b) => formatAddress(b)).join(', ')}]: no segment is in this proxy's locators`, candidates: [formatAddress(path[i]!)] };
  }
  return direct;
}

function place<F>(path: Buffer[], locators: readonly SidLayout[], lookup: (functionId: number) => F | undefined, tag?: number): Decision<F> {
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
      return {
        ok: true,
        entry,
        functionId: d.fn,
        argument: d.arg,
        sid: text[i]!,
        path: text,
        position: i,
        nextSrh: tag !== undefined ? srhForPath(rest, { tag }) : rest.length > 1 ? srhForPath(rest) : null,
      };
    }
  }
  const text = path.map((b) => formatAddress(b));
  return {
    ok: false,
    code: 'FLOW_NOT_OURS',
    reason: `no segment of [${text.join(', ')}] is in this proxy's locators`,
    candidates: text.slice(0, -1),
  };
}
