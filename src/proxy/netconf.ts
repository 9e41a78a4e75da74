/**
 * Host configuration for interception on a stock kernel (see docs/architecture.md):
 *  - sysctls: forwarding=1 (accept_ra 1 → 2 first where forwarding was off, so that a default route
 *    learnt from router advertisements stays), seg6_enabled=1 on all/default/every interface, VLANs
 *    such as eth0.10 included (old values restored on stop);
 *  - one nftables table `ip6 srv6pipes`: mark packets to our locators, TPROXY their SYNs to the
 *    listener (`intercept: sklookup`: no such rule, a BPF program assigns the listener, sklookup.ts),
 *    accept the rest of intercepted flows, mark the return traffic of our transparent sockets;
 *  - policy routing: `fwmark MARK/MARK lookup TABLE` and `local ::/0 dev lo table TABLE`, both with
 *    `protocol 177` (SRV6PIPES_PROTO: the doctor and `cleanup` tell ours from anybody else's).
 * The mark is a bit (or bits) ORed into the packet mark and matched under its own mask, so marks that
 * other software sets (kube-proxy, Cilium, WireGuard, a TPROXY setup of its own) survive; MARK and
 * TABLE are `netconf.mark`/`netconf.table` (defaults DEFAULT_MARK/DEFAULT_TABLE: not mark 1/table
 * 100, which common TPROXY recipes use).
 * Everything happens in the network namespace the proxy runs in. A plan is a list of reversible
 * steps: `--dry-run` prints it, start applies it (idempotently), stop reverts it in reverse order.
 *
 * Two phases (netconfPhases): the host settings (sysctls, MPTCP) come before the workers listen; the
 * interception (nft table, fwmark rule, local route) only once every worker listens, so no SYN is
 * steered to a port nobody listens on (the kernel would answer it with a RST). On stop the workers
 * close their listeners first (new SYNs are refused by RST, never forwarded around the function), the
 * flows in flight drain through the interception that is still in place, then it is removed.
 */
import { SrError } from '../core/errors.js';
import { formatPrefix } from '../net/ip6.js';
import { run, runOk } from '../sys/run.js';
import { SRV6PIPES_PROTO } from '../sys/leftovers.js';
import { DEFAULT_MARK, DEFAULT_TABLE } from './netconf-defaults.js';
import { forwardingStep, ipv6ConfNames, seg6AcceptSteps, sysctlStep, type Step } from '../sys/plan.js';
import type { SidLayout } from '../codec/sid.js';
import { returnSteeringPlan, type ReturnHop } from '../return/steering.js';
import type { MptcpConfig } from './config.js';

export const NFT_TABLE = 'srv6pipes';
export { DEFAULT_MARK, DEFAULT_TABLE };
export { SRV6PIPES_PROTO };

/** `meta mark set meta mark | MARK` / `meta mark & MARK == MARK`: the mark's bits, the others kept. */
export function markExpressions(mark: number): { set: string; match: string; rule: string } {
  const m = `0x${mark.toString(16)}`;
  return { set: `meta mark set meta mark | ${m}`, match: `meta mark & ${m} == ${m}`, rule: `${m}/${m}` };
}

export interface NetconfParams {
  locators: SidLayout[];
  port: number;
  mark: number;
  table: number;
  /** tproxy (default): an nft tproxy rule for SYNs; sklookup: none, a BPF program assigns the listener (sklookup.ts) */
  intercept?: 'tproxy' | 'sklookup';
  /** previous hops whose replies this host steers back (src/return/steering.ts) */
  returnHops?: readonly ReturnHop[];
  /** Multipath TCP: path manager, subflow limit, the converter listener's port (docs/mptcp.md) */
  mptcp?: MptcpConfig | null;
}

export function nftRuleset(p: NetconfParams): string {
  const locs = p.locators.map((l) => formatPrefix(l.locator)).join(', ');
  const mark = markExpressions(p.mark);
  // `table …` + `delete table …` first makes the load idempotent and atomic (one transaction).
  return [
    `table ip6 ${NFT_TABLE}`,
    `delete table ip6 ${NFT_TABLE}`,
    `table ip6 ${NFT_TABLE} {`,
    `  chain prerouting {`,
    `    type filter hook prerouting priority mangle; policy accept;`,
    `    ip6 daddr { ${locs} } ${mark.set}`,
    // converted MPTCP flows (no routing header) to the converter port: delivered locally, not TPROXYed
    ...(p.mptcp?.converterPort ? [`    ${mark.match} exthdr rt missing tcp dport ${p.mptcp.converterPort} accept`] : []),
    // sklookup: no tproxy rule; the SYN is delivered locally and TCP's lookup runs (sklookup.ts)
    ...(p.intercept === 'sklookup' ? [] : [`    ${mark.match} tcp flags & (syn | ack) == syn tproxy to :${p.port} accept`]),
    `    ${mark.match} accept`,
    // sklookup: the socket lookup of this rule runs the BPF program too, which names the (wildcard)
    // listener for every forwarded packet; only the outbound sockets, bound to a client's address, count
    `    meta l4proto tcp socket transparent 1${p.intercept === 'sklookup' ? ' socket wildcard 0' : ''} ${mark.set} accept`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

export function netconfPlan(p: NetconfParams, confNames = ipv6ConfNames()): Step[] {
  const steps: Step[] = [forwardingStep(() => confNames), ...seg6AcceptSteps(confNames)];
  const rules = nftRuleset(p);
  steps.push({
    describe: `nft -f - <<EOF\n${rules}EOF`,
    phase: 'interception',
    apply: async () => void (await runOk(['nft', '-f', '-'], rules)),
    revert: async () => void (await run(['nft', 'delete', 'table', 'ip6', NFT_TABLE])),
    leftovers: () => [{ kind: 'nft', family: 'ip6', table: NFT_TABLE }],
  });
  const ruleArgs = ['fwmark', markExpressions(p.mark).rule, 'lookup', String(p.table)];
  const proto = ['protocol', String(SRV6PIPES_PROTO)];
  steps.push({
    describe: `ip -6 rule add ${[...ruleArgs, ...proto].join(' ')}`,
    phase: 'interception',
    async apply() {
      const existing = await runOk(['ip', '-6', 'rule', 'show', ...ruleArgs]);
      if (!existing.trim()) await runOk(['ip', '-6', 'rule', 'add', ...ruleArgs, ...proto]);
    },
    async revert() {
      // delete every copy (an earlier crashed run may have left one)
      for (let i = 0; i < 8; i++) {
        if ((await run(['ip', '-6', 'rule', 'del', ...ruleArgs])).code !== 0) break;
      }
    },
    leftovers: () => [{ kind: 'rule', args: [...ruleArgs, ...proto] }],
  });
  const routeArgs = ['local', '::/0', 'dev', 'lo', 'table', String(p.table), 'proto', String(SRV6PIPES_PROTO)];
  steps.push({
    describe: `ip -6 route replace ${routeArgs.join(' ')}`,
    phase: 'interception',
    apply: async () => void (await runOk(['ip', '-6', 'route', 'replace', ...routeArgs])),
    revert: async () => void (await run(['ip', '-6', 'route', 'del', ...routeArgs])),
    leftovers: () => [{ kind: 'table', table: p.table, proto: SRV6PIPES_PROTO }],
  });
  steps.push(...returnSteeringPlan(p.returnHops ?? []));
  if (p.mptcp) steps.push(...mptcpPlan(p.mptcp));
  return steps;
}

/** The plan in the order the proxy applies it: host settings (before listening), then interception. */
export function netconfPhases(plan: Step[]): { host: Step[]; interception: Step[] } {
  return { host: plan.filter((s) => s.phase !== 'interception'), interception: plan.filter((s) => s.phase === 'interception') };
}

/**
 * MPTCP on this host: enabled, the path manager (userspace: per-connection subflows), and the limit
 * of extra subflows per connection (`ip mptcp limits`; the old limits come back on stop).
 */
export function mptcpPlan(m: MptcpConfig): Step[] {
  const limits = ['subflows', String(m.subflows), 'add_addr_accepted', '0'];
  let previous: string[] | undefined;
  return [
    sysctlStep('net.mptcp.enabled', '1'),
    sysctlStep('net.mptcp.pm_type', m.pathManager === 'userspace' ? '1' : '0'),
    {
      describe: `ip mptcp limits set ${limits.join(' ')}`,
      async apply() {
        // "add_addr_accepted 0 subflows 2" → the same words, to set them back on stop
        previous = (await runOk(['ip', 'mptcp', 'limits', 'show'])).trim().split(/\s+/).filter(Boolean);
        await runOk(['ip', 'mptcp', 'limits', 'set', ...limits]);
      },
      async revert() {
        if (previous?.length) await run(['ip', 'mptcp', 'limits', 'set', ...previous]);
      },
    },
  ];
}

