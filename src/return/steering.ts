/**
 * Return steering for hops off the path, on a stock kernel — the SYN-ACK included
 * (docs/return-traffic.md). A proxy that needs the replies of its onward connection back marks that
 * connection's SRH with its *return id* (the SRH tag). The receiving host (the next proxy, or a
 * server running `srv6pipes return-agent`) knows each id's *return SID* (an address in that proxy's
 * locator) and installs, in its own namespace:
 *
 *   nft   table ip6 srv6pipes_return: every tagged packet puts its source address and port (the client,
 *         as every hop keeps it) into a dynamic set per id (`update @retID`, idle timeout 15 min); on
 *         output, a route chain marks the packets to an address and port in that set (the SYN-ACK
 *         too), so they are routed again with the mark. (Not conntrack: at a proxy, conntrack saw
 *         the SYN addressed to the proxy's SID, before the kernel consumed the SRH, so the replies,
 *         from the server's address, never match it.)
 *   ip    per id: `rule fwmark MARK lookup TABLE`, and in TABLE `default encap seg6 mode encap segs SID`
 *         plus `throw SID/128` (seg6 routes the outer packet with the same mark: without the throw
 *         route it would match the default again and be dropped).
 *
 * The SYN's MSS is clamped (RETURN_MSS) to leave room for the encapsulation.
 * At the proxy the encapsulated replies hit its usual rules: marked, decapsulated, delivered to its
 * transparent onward socket. MARK = 0x10000 + id, TABLE = 20000 + id.
 */
import { SrError } from '../core/errors.js';
import { formatAddress, isAddress, parseAddress } from '../net/ip6.js';
import type { Step } from '../sys/plan.js';
import { run, runOk } from '../sys/run.js';
import { SRV6PIPES_PROTO } from '../sys/leftovers.js';

export const RETURN_TABLE = 'srv6pipes_return';
export const RETURN_MARK_BASE = 0x10000;
export const RETURN_ROUTE_TABLE_BASE = 20000;

export interface ReturnHop {
  /** 1..65535: the SRH tag the hop's onward connections carry */
  id: number;
  /** where replies go: an address in that proxy's locator */
  sid: string;
}

export function checkReturnHops(hops: readonly ReturnHop[]): void {
  const seen = new Set<number>();
  for (const h of hops) {
    if (!Number.isInteger(h.id) || h.id < 1 || h.id > 0xffff) throw new SrError('BAD_ARGUMENT', `return id ${h.id} is not in 1..65535`, { hint: 'a return id is the 16-bit SRH tag' });
    if (!isAddress(h.sid)) throw new SrError('BAD_ARGUMENT', `return SID "${h.sid}" is not an IPv6 address`);
    if (seen.has(h.id)) throw new SrError('BAD_ARGUMENT', `return id ${h.id} is given twice`);
    seen.add(h.id);
  }
}

/** "17=fc00:a::ffff" → { id: 17, sid } */
export function parseReturnHop(text: string): ReturnHop {
  const m = /^(\d+)=(\S+)$/.exec(text.trim());
  if (!m) throw new SrError('BAD_ARGUMENT', `bad return hop "${text}"`, { hint: 'write ID=SID, e.g. 17=fc00:a::ffff' });
  const hop = { id: Number(m[1]), sid: m[2]! };
  checkReturnHops([hop]);
  return { id: hop.id, sid: formatAddress(parseAddress(hop.sid)) };
}

export const markOf = (id: number): number => RETURN_MARK_BASE + id;
export const tableOf = (id: number): number => RETURN_ROUTE_TABLE_BASE + id;

/**
 * The encapsulation adds 40 + 8 + 16 bytes to every reply, and the replying socket's path MTU does not
 * know it (the SYN-ACK was routed without the mark): the SYN's MSS option is clamped so that full-size
 * replies still fit a 1500-byte link (1500 − 40 − 20 − 64 = 1376, rounded down).
 */
export const RETURN_MSS = 1360;
/** how long a flow's return entry outlives its last tagged packet */
export const RETURN_IDLE = '15m';

export function returnRuleset(hops: readonly ReturnHop[], mss = RETURN_MSS): string {
  const lines = [
    `table ip6 ${RETURN_TABLE}`,
    `delete table ip6 ${RETURN_TABLE}`,
    `table ip6 ${RETURN_TABLE} {`,
    ...hops.map((h) => `  set ret${h.id} { type ipv6_addr . inet_service; flags dynamic, timeout; timeout ${RETURN_IDLE}; size 65536; }`),
    '  chain prerouting {',
    '    type filter hook prerouting priority -140; policy accept;',
    ...hops.flatMap((h) => [
      `    srh tag ${h.id} tcp flags & (syn | ack) == syn tcp option maxseg size > ${mss} tcp option maxseg size set ${mss}`,
      `    srh tag ${h.id} meta l4proto tcp update @ret${h.id} { ip6 saddr . tcp sport } counter`,
    ]),
    '  }',
    '  chain output {',
    '    type route hook output priority -150; policy accept;',
    ...hops.map((h) => `    meta l4proto tcp ip6 daddr . tcp dport @ret${h.id} meta mark set 0x${markOf(h.id).toString(16)} counter`),
    '  }',
    '}',
    '',
  ];
  return lines.join('\n');
}

/** The reversible steps (see Step in proxy/netconf.ts). `ip route get SID` picks dev and gateway at apply time. */
export function returnSteeringPlan(hops: readonly ReturnHop[]): Step[] {
  checkReturnHops(hops);
  if (hops.length === 0) return [];
  const rules = returnRuleset(hops);
  const steps: Step[] = [
    {
      describe: `nft -f - <<EOF\n${rules}EOF`,
      apply: async () => void (await runOk(['nft', '-f', '-'], rules)),
      revert: async () => void (await run(['nft', 'delete', 'table', 'ip6', RETURN_TABLE])),
      leftovers: () => [{ kind: 'nft', family: 'ip6', table: RETURN_TABLE }],
    },
  ];
  for (const h of hops) {
    const table = String(tableOf(h.id));
    const ruleArgs = ['fwmark', String(markOf(h.id)), 'lookup', table];
    steps.push({
      describe: `ip -6 rule add ${ruleArgs.join(' ')}; ip -6 route replace default encap seg6 mode encap segs ${h.sid} [via GW] dev DEV table ${table}; ip -6 route replace throw ${h.sid}/128 table ${table}`,
      async apply() {
        const got = JSON.parse((await runOk(['ip', '-6', '-j', 'route', 'get', h.sid])) || '[]') as { dev?: string; gateway?: string }[];
        const dev = got[0]?.dev;
        if (!dev) throw new SrError('COMMAND_FAILED', `no route to return SID ${h.sid}`, { hint: 'this host needs a route to every return hop’s locator' });
        const via = got[0]?.gateway ? ['via', got[0].gateway] : [];
        // proto/protocol 177: `srv6pipes doctor` and `cleanup` tell ours from anybody else's (sys/leftovers.ts)
        const proto = String(SRV6PIPES_PROTO);
        await runOk(['ip', '-6', 'route', 'replace', 'default', 'encap', 'seg6', 'mode', 'encap', 'segs', h.sid, ...via, 'dev', dev, 'table', table, 'proto', proto]);
        await runOk(['ip', '-6', 'route', 'replace', 'throw', `${h.sid}/128`, 'table', table, 'proto', proto]);
        if (!(await runOk(['ip', '-6', 'rule', 'show', ...ruleArgs])).trim()) await runOk(['ip', '-6', 'rule', 'add', ...ruleArgs, 'protocol', proto]);
      },
      async revert() {
        for (let i = 0; i < 8; i++) if ((await run(['ip', '-6', 'rule', 'del', ...ruleArgs])).code !== 0) break;
        await run(['ip', '-6', 'route', 'flush', 'table', table]);
      },
      leftovers: () => [{ kind: 'table', table: tableOf(h.id) }, { kind: 'rule', args: ruleArgs }],
    });
  }
  return steps;
}

/** The packets each id's rule has marked (for tests and `return-agent` logs). */
export async function returnCounters(): Promise<Record<number, number>> {
  const r = await run(['nft', '-j', 'list', 'table', 'ip6', RETURN_TABLE]);
  const out: Record<number, number> = {};
  if (r.code !== 0) return out;
  const doc = JSON.parse(r.stdout) as { nftables: { rule?: { chain: string; expr: unknown[] } }[] };
  for (const item of doc.nftables) {
    const rule = item.rule;
    if (!rule || rule.chain !== 'prerouting') continue;
    const text = JSON.stringify(rule.expr);
    const tag = /"field":"tag"\}\},"right":(\d+)/.exec(text)?.[1];
    const packets = /"counter":\{"packets":(\d+)/.exec(text)?.[1];
    if (tag !== undefined && packets !== undefined) out[Number(tag)] = Number(packets);
  }
  return out;
}
