/**
 * The access router's filter and routes, as text (pure). The agent loads the table once and then
 * only adds and deletes set elements, so installing a BSID is one small atomic `nft -f` transaction.
 *
 *   installed  the BSIDs with a route (ipv6_addr)
 *   allowed    BSID . client prefix pairs (a concatenated interval set)
 *
 * Drops, each with its own named counter:
 *   unknown_bsid  destination inside the BSID prefix but no installed BSID
 *   unauthorised  an installed BSID, from a source it was not installed for
 *   not_bsid      (with client interfaces) an SR packet from a client interface whose active segment
 *                 is not an installed BSID: clients cannot bypass the controller with their own SRH
 */
import { formatPrefix, type Prefix6 } from '../net/ip6.js';

export const AR_TABLE = 'srv6pipes_ar';

export interface ArRulesParams {
  bsidPrefix: Prefix6;
  /** interfaces that face clients (empty: no not_bsid rule) */
  clientInterfaces: readonly string[];
}

const quote = (s: string): string => `"${s.replace(/["\\]/g, '')}"`;

export function arRuleset(p: ArRulesParams): string {
  const prefix = formatPrefix(p.bsidPrefix);
  const lines = [
    `table ip6 ${AR_TABLE} {`,
    '  set installed { type ipv6_addr; }',
    '  set allowed { type ipv6_addr . ipv6_addr; flags interval; }',
    '  counter unknown_bsid { }',
    '  counter unauthorised { }',
    '  counter not_bsid { }',
    '  chain prerouting {',
    '    type filter hook prerouting priority -150; policy accept;',
    `    ip6 daddr ${prefix} ip6 daddr != @installed counter name "unknown_bsid" drop`,
    `    ip6 daddr ${prefix} ip6 daddr . ip6 saddr != @allowed counter name "unauthorised" drop`,
  ];
  if (p.clientInterfaces.length > 0) {
    lines.push(`    iifname { ${p.clientInterfaces.map(quote).join(', ')} } rt type 4 ip6 daddr != @installed counter name "not_bsid" drop`);
  }
  lines.push('  }', '}', '');
  return lines.join('\n');
}

export interface ElementChange {
  bsid: string;
  source: string;
}

/** One nft transaction: delete the old pairs, add the new ones (`flush`-free, so other BSIDs are untouched). */
export function elementScript(add: readonly ElementChange[], del: readonly ElementChange[]): string {
  const out: string[] = [];
  for (const d of del) {
    out.push(`delete element ip6 ${AR_TABLE} allowed { ${d.bsid} . ${d.source} }`);
    out.push(`delete element ip6 ${AR_TABLE} installed { ${d.bsid} }`);
  }
  for (const a of add) {
    out.push(`add element ip6 ${AR_TABLE} installed { ${a.bsid} }`);
    out.push(`add element ip6 ${AR_TABLE} allowed { ${a.bsid} . ${a.source} }`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** The `ip -6 route replace` argv for a BSID. */
export function bsidRouteArgs(bsid: string, segments: readonly string[], dev: string): string[] {
  return ['ip', '-6', 'route', 'replace', `${bsid}/128`, 'encap', 'seg6local', 'action', 'End.B6.Encaps', 'srh', 'segs', segments.join(','), 'dev', dev];
}

/** Reads the three counters from `nft -j list counters table ip6 srv6pipes_ar`. */
export function parseCounters(json: string): { unknownBsid: number; unauthorised: number; notBsid: number } {
  const out = { unknownBsid: 0, unauthorised: 0, notBsid: 0 };
  const doc = JSON.parse(json) as { nftables?: { counter?: { name: string; packets: number } }[] };
  for (const item of doc.nftables ?? []) {
    const c = item.counter;
    if (!c) continue;
    if (c.name === 'unknown_bsid') out.unknownBsid = c.packets;
    else if (c.name === 'unauthorised') out.unauthorised = c.packets;
    else if (c.name === 'not_bsid') out.notBsid = c.packets;
  }
  return out;
}

/** `ip -6 -j route show` → the seg6local routes inside the prefix (left behind by a crashed agent). */
export function staleBsidRoutes(json: string, inPrefix: (addr: string) => boolean): string[] {
  const routes = JSON.parse(json || '[]') as { dst?: string; encap?: string }[];
  return routes.filter((r) => r.encap === 'seg6local' && r.dst !== undefined && inPrefix(r.dst.replace(/\/128$/, ''))).map((r) => r.dst!.replace(/\/128$/, ''));
}
