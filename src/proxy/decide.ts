/**
 * A SYN's decision, the steps in the order they run:
 *  1. the decoded path (classify.ts: `synPath` from the SYN's SRH, `convertedPath` from a converter header);
 *  2. when no segment of it is this proxy's and binding SIDs are on: the binding-SID expansion
 *     (bindings.ts `expandBindingSid`) — the one asynchronous step, explicit, taken before classifying;
 *  3. `classify`, once, on the path as expanded.
 * Synchronous unless step 2 runs.
 */
import { findOwnSegment, type SidLayout } from '../codec/sid.js';
import { isSrError } from '../core/errors.js';
import { formatAddress } from '../net/ip6.js';
import { expandBindingSid, type BindingSids } from './bindings.js';
import { classify, type Decision, type ReturnHop, type SynPath } from './classify.js';

export interface DecideOptions<F> {
  locators: readonly SidLayout[];
  lookup(functionId: number): F | undefined;
  returnHop?: ReturnHop;
  /** binding SIDs (the `bindingSids` section), when configured */
  bindings?: BindingSids;
}

const list = (p: readonly Buffer[]): string => p.map((b) => formatAddress(b)).join(', ');

export function decide<F>(syn: SynPath, o: DecideOptions<F>): Decision<F> | Promise<Decision<F>> {
  const { bindings, ...rest } = o;
  if (!bindings || findOwnSegment(syn.path, o.locators)) return classify({ syn, ...rest });
  return throughBindingSid(syn, bindings, rest);
}

async function throughBindingSid<F>(syn: SynPath, bindings: BindingSids, o: Omit<DecideOptions<F>, 'bindings'>): Promise<Decision<F>> {
  let x;
  try {
    x = await expandBindingSid(syn.path, bindings);
  } catch (e) {
    return { ok: false, code: isSrError(e) ? e.code : 'BSID_LOOKUP_FAILED', reason: (e as Error).message };
  }
  if (x.kind === 'none') return classify({ syn, ...o });
  if (x.kind === 'unknown') {
    for (const c of x.candidates) bindings.invalidate(c);
    return { ok: false, code: 'FLOW_UNKNOWN_BSID', reason: `no segment of [${list(syn.path)}] is in this proxy's locators (binding SIDs looked up: ${x.candidates.join(', ')})` };
  }
  const d = classify({ syn: { ...syn, path: x.path, bsid: x.bsid }, ...o });
  if (d.ok || d.code !== 'FLOW_NOT_OURS') return d;
  // a cached answer without us in it may be stale: ask afresh next time
  bindings.invalidate(x.bsid);
  return { ok: false, code: 'FLOW_UNKNOWN_BSID', reason: `binding SID ${x.bsid} stands for [${list(x.stands)}]: no segment is in this proxy's locators` };
}
