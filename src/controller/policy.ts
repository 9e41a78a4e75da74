/**
 * Policy decisions (pure): which functions a flow from a client to a destination must traverse.
 * Policies are tried in file order; the first one whose clients, destination and port match decides:
 *   deny → refused;
 *   otherwise the chain is `require` (in order) followed by the requested functions (in the client's
 *   order), each of which must be named in `allow` (its argument comes from there); a requested
 *   function that `require` already applies is not added again.
 * With no matching policy, a request without functions gets a plain answer and one with functions is
 * refused — or every such query is refused with `unmatched: refuse`.
 */
import { parseAddress, prefixContains } from '../net/ip6.js';
import type { FunctionRef, Policy } from './config.js';

export interface FlowRequest {
  /** the client's address (the DNS query's source) */
  client: string;
  /** the queried name, normalized (lower case, no trailing dot) */
  name: string;
  /** one of the name's addresses */
  destination: string;
  /** destination port, when the client sent one (EDNS0 option 65005) */
  port?: number;
  /** function names the client asks for, in order */
  requested: readonly string[];
}

export type Decision =
  | { kind: 'deny'; reason: string; policy?: number }
  | { kind: 'chain'; functions: FunctionRef[]; policy?: number };

function v6(text: string): Buffer | undefined {
  try {
    return parseAddress(text);
  } catch {
    return undefined;
  }
}

export function matches(p: Policy, req: FlowRequest, client: Buffer | undefined, dest: Buffer | undefined): boolean {
  if (!client || !p.clients.some((c) => prefixContains(c, client))) return false;
  if (p.port !== undefined && p.port !== req.port) return false;
  switch (p.destination.kind) {
    case 'any':
      return true;
    case 'name':
      return p.destination.name === req.name;
    case 'prefix':
      return dest !== undefined && prefixContains(p.destination.prefix, dest);
  }
}

export function decide(policies: readonly Policy[], req: FlowRequest, unmatched: 'plain' | 'refuse' = 'plain'): Decision {
  const client = v6(req.client);
  const dest = v6(req.destination);
  const p = policies.find((x) => matches(x, req, client, dest));
  if (!p) {
    if (unmatched === 'refuse') return { kind: 'deny', reason: `no policy matches client ${req.client} to ${req.name} (unmatched: refuse)` };
    if (req.requested.length === 0) return { kind: 'chain', functions: [] };
    return { kind: 'deny', reason: `no policy allows functions for client ${req.client} to ${req.name}` };
  }
  const where = `policies[${p.index}]`;
  if (p.deny) return { kind: 'deny', reason: `${where} denies client ${req.client} to ${req.name}`, policy: p.index };
  const functions = [...p.require];
  const required = new Set(p.require.map((f) => f.name));
  for (const name of req.requested) {
    if (required.has(name)) continue;
    const allowed = p.allow.find((f) => f.name === name);
    if (!allowed) return { kind: 'deny', reason: `${where} does not allow function "${name}"`, policy: p.index };
    functions.push(allowed);
  }
  return { kind: 'chain', functions, policy: p.index };
}
