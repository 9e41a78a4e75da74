/**
 * `srv6pipes doctor`: does this kernel and host have what the proxy, the agents and MPTCP need?
 * One check per row of CHECKS (a descriptor table): each gives ok / warn / fail / skip, a detail and
 * a fix. Reading the host (sysctls, limits, `nft list`, `ip rule show`) happens where the doctor
 * runs; anything that must *create* something to find out — a seg6local route, an nft expression,
 * a transparent or MPTCP socket, an sk_lookup program — happens in a throwaway network namespace
 * the doctor makes and removes (`ip netns add srv6pipes-doctor-PID`), never in the host's.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { findLeftovers, SRV6PIPES_PROTO } from './leftovers.js';
import { confKey, ipv6ConfNames, plainKey, readSysctl } from './plan.js';
import { hasCommand, run } from './run.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  /** what to do about a warn or fail */
  fix?: string;
}

/** What the configuration in question needs (from a proxy config, or the defaults). */
export interface DoctorNeeds {
  /** where the needs come from: a config path, or 'defaults' */
  source: string;
  /** the proxy configures the host (netconf on) */
  netconf: boolean;
  intercept: 'tproxy' | 'sklookup';
  mark: number;
  table: number;
  /** the config uses MPTCP (an `mptcp` section): its checks fail instead of warn */
  mptcp: boolean;
  /** the MPTCP converter listener (exthdr rt missing) */
  converter: boolean;
  /** return hops (srh tag, dynamic sets, seg6 encap routes) */
  returnSteering: boolean;
  /** descriptors one proxy worker needs (limits.flows; src/proxy/rlimit.ts) */
  nofile: number;
}

/** The outcome of the probes in the throwaway namespace. */
export interface Probes {
  /** why there are none (not root, no `ip netns`) */
  unavailable?: string;
  /** probe name → 'ok' or the error */
  results: Record<string, string>;
}

interface Context {
  needs: DoctorNeeds;
  probes: Probes;
}

interface CheckSpec {
  name: string;
  run(ctx: Context): Promise<CheckResult[]> | CheckResult[];
}

const r = (check: string, status: CheckStatus, detail: string, fix?: string): CheckResult => ({ check, status, detail, ...(fix ? { fix } : {}) });

/** Effective capabilities of this process (from /proc/self/status). */
export function effectiveCaps(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

export const CAP = { NET_ADMIN: 12, NET_RAW: 13, SYS_ADMIN: 21, BPF: 39 } as const;
const hasCap = (caps: bigint, c: number): boolean => ((caps >> BigInt(c)) & 1n) === 1n;

/** RLIMIT_NOFILE of this process: [soft, hard] (-1: unlimited). */
export function nofileLimits(): [number, number] {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    const n = (s: string | undefined): number => (s === 'unlimited' ? -1 : Number(s));
    if (m) return [n(m[1]), n(m[2])];
  } catch {
    // below
  }
  return [-1, -1];
}

function probeCheck(ctx: Context, probe: string, check: string, needed: boolean, okDetail: string, fix: string): CheckResult {
  if (ctx.probes.unavailable) return r(check, 'skip', `not probed: ${ctx.probes.unavailable}`, 'run `srv6pipes doctor` as root to probe it in a throwaway network namespace');
  const got = ctx.probes.results[probe];
  if (got === 'ok') return r(check, 'ok', okDetail);
  return r(check, needed ? 'fail' : 'warn', `${got ?? 'not probed'}${needed ? '' : ' (not needed by this configuration)'}`, fix);
}

/** The checks, in the order they print. */
export const CHECKS: readonly CheckSpec[] = [
  {
    name: 'privileges',
    run({ needs }) {
      const caps = effectiveCaps();
      const missing = (['NET_ADMIN', 'NET_RAW'] as const).filter((c) => !hasCap(caps, CAP[c]));
      const bpf = hasCap(caps, CAP.BPF) || hasCap(caps, CAP.SYS_ADMIN);
      if (needs.intercept === 'sklookup' && needs.netconf && !bpf) missing.push('BPF or SYS_ADMIN' as never);
      if (missing.length === 0) return [r('privileges', 'ok', `uid ${process.getuid?.()}, CAP_NET_ADMIN, CAP_NET_RAW${bpf ? ', CAP_BPF/CAP_SYS_ADMIN' : ''}`)];
      return [r('privileges', needs.netconf ? 'fail' : 'warn', `missing CAP_${missing.join(', CAP_')} (uid ${process.getuid?.()})`, 'run the proxy as root, or with CapabilityBoundingSet/AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW CAP_BPF (examples/systemd/), or --cap-add NET_ADMIN,NET_RAW,BPF in a container (docs/operations.md)')];
    },
  },
  {
    name: 'tools',
    run({ needs }) {
      const missing = ['nft', 'ip'].filter((t) => !hasCommand(t));
      if (missing.length === 0) return [r('tools', 'ok', 'nft and ip (iproute2) found')];
      return [r('tools', needs.netconf ? 'fail' : 'warn', `${missing.join(' and ')} not found on PATH`, 'apt-get install nftables iproute2')];
    },
  },
  {
    name: 'seg6',
    run({ needs }) {
      const all = readSysctl(confKey('all', 'seg6_enabled'));
      if (all === undefined) return [r('seg6.sysctl', 'fail', 'net.ipv6.conf.all.seg6_enabled does not exist: no SRv6 in this kernel (CONFIG_IPV6_SEG6_LWTUNNEL) or IPv6 is off', 'use a kernel with CONFIG_IPV6_SEG6_LWTUNNEL=y and IPv6 enabled')];
      const off = ipv6ConfNames().filter((n) => n !== 'all' && readSysctl(confKey(n, 'seg6_enabled')) === '0');
      if (all === '1' && off.length === 0) return [r('seg6.sysctl', 'ok', 'seg6_enabled=1 on all, default and every interface')];
      const what = `seg6_enabled=0 on ${[...(all === '0' ? ['all'] : []), ...off].join(', ')}: the kernel drops packets with an SRH there`;
      return [r('seg6.sysctl', needs.netconf ? 'ok' : 'warn', needs.netconf ? `${what}; the proxy (netconf: on) and the return agent set 1 while they run` : what, 'sysctl -w net.ipv6.conf.all.seg6_enabled=1 net.ipv6.conf.default.seg6_enabled=1 and for each interface (a VLAN eth0.10: net.ipv6.conf.eth0/10.seg6_enabled=1)')];
    },
  },
  {
    name: 'forwarding',
    run({ needs }) {
      const fwd = readSysctl(confKey('all', 'forwarding'));
      const ra1 = ipv6ConfNames().filter((n) => n !== 'all' && n !== 'lo' && readSysctl(confKey(n, 'accept_ra')) === '1');
      if (fwd === '1') {
        if (ra1.length === 0) return [r('forwarding', 'ok', 'net.ipv6.conf.all.forwarding=1')];
        return [r('forwarding', 'warn', `forwarding=1 while accept_ra=1 on ${ra1.join(', ')}: router advertisements are ignored there (a default route learnt from them is gone)`, `sysctl -w ${ra1.map((n) => `${confKey(n, 'accept_ra').key}=2`).join(' ')} where the default route comes from router advertisements`)];
      }
      const ra = ra1.length ? `; the proxy sets accept_ra=2 first on ${ra1.join(', ')} (accept_ra=1), so default routes from router advertisements stay` : '';
      return [r('forwarding', needs.netconf ? 'ok' : 'warn', `forwarding=0; ${needs.netconf ? 'the proxy turns it on while it runs' : 'with netconf: off, turn it on yourself'}${ra}`, needs.netconf ? undefined : 'sysctl -w net.ipv6.conf.all.forwarding=1 (accept_ra=2 first where accept_ra is 1)')];
    },
  },
  {
    name: 'seg6local',
    run: (ctx) => [
      probeCheck(ctx, 'route:encap', 'seg6.encap', ctx.needs.returnSteering, 'routes with encap seg6 (return steering, `steer`)', 'a kernel with CONFIG_IPV6_SEG6_LWTUNNEL=y'),
      probeCheck(ctx, 'route:End', 'seg6local.End', false, 'seg6local action End', 'a kernel with CONFIG_IPV6_SEG6_LWTUNNEL=y'),
      probeCheck(ctx, 'route:End.B6.Encaps', 'seg6local.End.B6.Encaps', false, 'seg6local action End.B6.Encaps (the access-router agent)', 'a kernel with CONFIG_IPV6_SEG6_LWTUNNEL=y (≥ 4.14) for the access-router agent'),
    ],
  },
  {
    name: 'nft',
    run: (ctx) => [
      probeCheck(ctx, 'nft:tproxy', 'nft.tproxy', ctx.needs.netconf && ctx.needs.intercept === 'tproxy', 'nft tproxy (netconf.intercept: tproxy)', 'a kernel with CONFIG_NFT_TPROXY and nftables ≥ 0.9.3'),
      probeCheck(ctx, 'nft:socket', 'nft.socket', ctx.needs.netconf, 'nft socket transparent, meta mark set meta mark | MARK', 'a kernel with CONFIG_NFT_SOCKET'),
      probeCheck(ctx, 'nft:wildcard', 'nft.socket-wildcard', ctx.needs.netconf && ctx.needs.intercept === 'sklookup', 'nft socket wildcard (netconf.intercept: sklookup)', 'Linux ≥ 5.10 and nftables ≥ 0.9.8, or netconf.intercept: tproxy'),
      probeCheck(ctx, 'nft:exthdr', 'nft.exthdr-rt', ctx.needs.converter, 'nft exthdr rt missing (the MPTCP converter port)', 'a kernel with CONFIG_NFT_EXTHDR'),
      probeCheck(ctx, 'nft:srh', 'nft.srh-sets', ctx.needs.returnSteering, 'nft srh tag, dynamic sets, tcp option maxseg set (return steering)', 'Linux ≥ 5.0 and nftables ≥ 0.9.1 (CONFIG_NFT_EXTHDR, CONFIG_NFT_DYNSET)'),
    ],
  },
  {
    name: 'sockets',
    run: (ctx) => [
      probeCheck(ctx, 'transparent', 'sockopt.IPV6_TRANSPARENT', ctx.needs.netconf, 'a transparent listener (IPV6_TRANSPARENT, IPV6_RECVRTHDR, TCP_SAVE_SYN)', 'CAP_NET_ADMIN or CAP_NET_RAW; a kernel with IPv6 transparent sockets'),
      probeCheck(ctx, 'sklookup', 'bpf.sk_lookup', ctx.needs.netconf && ctx.needs.intercept === 'sklookup', 'BPF sk_lookup program loaded and attached (netconf.intercept: sklookup)', 'Linux ≥ 5.9 with CONFIG_BPF_SYSCALL, CAP_BPF+CAP_NET_ADMIN (or CAP_SYS_ADMIN); or netconf.intercept: tproxy'),
    ],
  },
  {
    name: 'mptcp',
    run(ctx) {
      const enabled = readSysctl(plainKey('net.mptcp.enabled'));
      const out: CheckResult[] = [];
      if (enabled === undefined) out.push(r('mptcp.sysctl', ctx.needs.mptcp ? 'fail' : 'warn', 'no net.mptcp.enabled: this kernel has no MPTCP (CONFIG_MPTCP)', 'Linux ≥ 5.6 with CONFIG_MPTCP=y (and ≥ 5.19 for the userspace path manager)'));
      else out.push(r('mptcp.sysctl', enabled === '1' || ctx.needs.mptcp ? 'ok' : 'warn', `net.mptcp.enabled=${enabled}${enabled !== '1' && ctx.needs.mptcp ? ' (the proxy sets 1 while it runs)' : ''}`, enabled === '1' ? undefined : 'sysctl -w net.mptcp.enabled=1 (the proxy does it when its config has `mptcp`)'));
      out.push(probeCheck(ctx, 'mptcp', 'mptcp.socket', ctx.needs.mptcp, 'an MPTCP socket (IPPROTO_MPTCP)', 'Linux ≥ 5.6 with CONFIG_MPTCP=y'));
      return out;
    },
  },
  {
    name: 'nofile',
    run({ needs }) {
      const [soft, hard] = nofileLimits();
      const nrOpen = Number(readSysctl(plainKey('fs.nr_open')) ?? '1048576');
      const show = (n: number): string => (n < 0 ? 'unlimited' : String(n));
      const detail = `RLIMIT_NOFILE soft ${show(soft)}, hard ${show(hard)}; a worker needs ${needs.nofile} (limits.flows of ${needs.source})`;
      if (hard < 0 || hard >= needs.nofile) return [r('nofile', 'ok', `${detail}: the proxy raises its soft limit`)];
      if (process.getuid?.() === 0 && nrOpen >= needs.nofile) return [r('nofile', 'ok', `${detail}: as root the proxy raises the hard limit too (fs.nr_open ${nrOpen})`)];
      return [r('nofile', 'fail', `${detail}: flows beyond the limit are reset`, `LimitNOFILE=${needs.nofile} in the unit, ulimit -Hn ${needs.nofile}, or --ulimit nofile=${needs.nofile} in a container; or lower limits.flows`)];
    },
  },
  {
    name: 'mark',
    async run({ needs }) {
      if (!needs.netconf || !hasCommand('ip')) return [r('mark', 'skip', 'netconf: off (or no ip): the proxy sets no mark or table')];
      const rules = await run(['ip', '-6', 'rule', 'show']).catch(() => undefined);
      const routes = await run(['ip', '-6', 'route', 'show', 'table', String(needs.table)]).catch(() => undefined);
      const { clash, foreign } = markClashes(rules?.stdout ?? '', routes?.stdout ?? '', needs.mark, needs.table);
      const m = `0x${needs.mark.toString(16)}`;
      if (clash.length === 0 && foreign.length === 0) return [r('mark', 'ok', `mark ${m} and table ${needs.table} are free (no other rule uses the bit or the table)`)];
      return [r('mark', 'warn', `mark ${m} / table ${needs.table} in use: ${[...clash.map((l) => `rule "${l}"`), ...foreign.map((l) => `route "${l.trim()}" in table ${needs.table}`)].join('; ')}`, 'pick a free bit and table: netconf: { mark: 0x2000000, table: 7778 }')];
    },
  },
  {
    name: 'leftovers',
    async run() {
      const rep = await findLeftovers();
      const live = rep.live.length ? ` (in use by live srv6pipes process${rep.live.length > 1 ? 'es' : ''} ${rep.live.map((l) => l.pid).join(', ')})` : '';
      if (rep.found.length === 0) return [r('leftovers', 'ok', `no state left by a killed srv6pipes process${live}`)];
      return rep.found.map((f) => r('leftovers', 'fail', f.describe, 'srv6pipes cleanup (removes what killed srv6pipes processes left; never what a live one uses)'));
    },
  },
];

/**
 * Rules of other software (not protocol 177) that use a bit of `mark` or look up `table`, and routes
 * of other software in `table`: `ip -6 rule show` and `ip -6 route show table TABLE` output.
 */
export function markClashes(rules: string, routes: string, mark: number, table: number): { clash: string[]; foreign: string[] } {
  const ours = new RegExp(`\\bproto(col)? ${SRV6PIPES_PROTO}\\b`);
  const clash: string[] = [];
  for (const line of rules.split('\n')) {
    if (!line.trim() || ours.test(line)) continue;
    const fw = /fwmark (0x[0-9a-f]+|\d+)(?:\/(0x[0-9a-f]+|\d+))?/.exec(line);
    const value = fw ? Number(fw[1]) : undefined;
    const mask = fw?.[2] !== undefined ? Number(fw[2]) : 0xffffffff;
    const markClash = value !== undefined && (value & mask & mark) !== 0;
    const tableClash = new RegExp(`\\blookup ${table}\\b`).test(line);
    if (markClash || tableClash) clash.push(line.trim());
  }
  // `ip route show table T` leaves the table out of its lines, and shows proto 177 as such
  const foreign = routes.split('\n').filter((l) => l.trim() && !ours.test(l)).map((l) => l.trim());
  return { clash, foreign };
}

/** Commands that probe a throwaway namespace: name → argv run in it (`ip netns exec NS …`). */
function nftProbe(body: string, sets = ''): string {
  return `table ip6 srv6pipes_doctor {\n${sets}  chain p {\n    type filter hook prerouting priority mangle; policy accept;\n    ${body}\n  }\n}\n`;
}

const NFT_PROBES: Record<string, string> = {
  'nft:tproxy': nftProbe('meta l4proto tcp tcp flags & (syn | ack) == syn tproxy to :7777 accept'),
  'nft:socket': nftProbe('meta l4proto tcp socket transparent 1 meta mark set meta mark | 0x1000000 accept'),
  'nft:wildcard': nftProbe('meta l4proto tcp socket transparent 1 socket wildcard 0 accept'),
  'nft:exthdr': nftProbe('meta mark & 0x1000000 == 0x1000000 exthdr rt missing tcp dport 7780 accept'),
  'nft:srh': nftProbe(
    'srh tag 17 tcp flags & (syn | ack) == syn tcp option maxseg size > 1360 tcp option maxseg size set 1360\n    srh tag 17 meta l4proto tcp update @r { ip6 saddr . tcp sport } counter',
    '  set r { type ipv6_addr . inet_service; flags dynamic, timeout; timeout 15m; size 65536; }\n',
  ),
};

const ROUTE_PROBES: Record<string, string[]> = {
  'route:encap': ['ip', '-6', 'route', 'add', 'fc00:fffe::/64', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00:ffff::9', 'dev', 'lo'],
  'route:End': ['ip', '-6', 'route', 'add', 'fc00:ffff::1/128', 'encap', 'seg6local', 'action', 'End', 'dev', 'lo'],
  'route:End.B6.Encaps': ['ip', '-6', 'route', 'add', 'fc00:ffff::2/128', 'encap', 'seg6local', 'action', 'End.B6.Encaps', 'srh', 'segs', 'fc00:ffff::9', 'dev', 'lo'],
};

/** The name of the doctor's throwaway namespace. */
export function probeNamespace(pid = process.pid): string {
  return `srv6pipes-doctor-${pid}`;
}

/**
 * Runs the probes in a namespace made for them (and removed, whatever happens). Without root or
 * `ip netns` there are none (the checks that need them say `skip`).
 */
export async function runProbes(): Promise<Probes> {
  if (process.getuid?.() !== 0) return { unavailable: 'not root', results: {} };
  if (!hasCommand('ip')) return { unavailable: 'no ip (iproute2)', results: {} };
  const ns = probeNamespace();
  const add = await run(['ip', 'netns', 'add', ns]);
  if (add.code !== 0) return { unavailable: `ip netns add failed: ${add.stderr.trim()}`, results: {} };
  const results: Record<string, string> = {};
  try {
    const inNs = (argv: string[], input?: string) => run(['ip', 'netns', 'exec', ns, ...argv], input);
    await inNs(['ip', 'link', 'set', 'lo', 'up']);
    for (const [name, argv] of Object.entries(ROUTE_PROBES)) {
      const res = await inNs(argv);
      results[name] = res.code === 0 ? 'ok' : `\`${argv.join(' ')}\`: ${res.stderr.trim().split('\n')[0]}`;
    }
    for (const [name, rules] of Object.entries(NFT_PROBES)) {
      const res = hasCommand('nft') ? await inNs(['nft', '-f', '-'], rules) : { code: 1, stderr: 'nft is not installed' };
      results[name] = res.code === 0 ? 'ok' : `nft refused it: ${res.stderr.trim().split('\n')[0]}`;
      await inNs(['nft', 'delete', 'table', 'ip6', 'srv6pipes_doctor']).catch(() => undefined);
    }
    const script = fileURLToPath(new URL('./doctor-probe.js', import.meta.url));
    const res = await inNs([process.execPath, script]);
    try {
      Object.assign(results, JSON.parse(res.stdout.trim().split('\n').pop() ?? '') as Record<string, string>);
    } catch {
      for (const p of ['transparent', 'mptcp', 'sklookup']) results[p] = `the probe process failed (exit ${res.code}): ${res.stderr.trim().split('\n')[0]}`;
    }
  } finally {
    const del = spawnSync('ip', ['netns', 'del', ns]);
    if (del.status !== 0) results['cleanup'] = `ip netns del ${ns} failed: ${String(del.stderr).trim()}`;
  }
  return { results };
}

export interface DoctorReport {
  kernel: string;
  needs: DoctorNeeds;
  checks: CheckResult[];
  /** some needed thing fails */
  ok: boolean;
}

export async function runDoctor(needs: DoctorNeeds, probes?: Probes): Promise<DoctorReport> {
  const ctx: Context = { needs, probes: probes ?? (await runProbes()) };
  const checks: CheckResult[] = [];
  for (const c of CHECKS) checks.push(...(await c.run(ctx)));
  if (ctx.probes.results['cleanup']) checks.push(r('doctor', 'fail', ctx.probes.results['cleanup'], `ip netns del ${probeNamespace()}`));
  return { kernel: os.release(), needs, checks, ok: !checks.some((c) => c.status === 'fail') };
}

/** One line per check: `ok    seg6.sysctl   …` plus `      fix: …` under a warn or fail. */
export function formatReport(rep: DoctorReport): string {
  const width = Math.max(...rep.checks.map((c) => c.check.length));
  const lines = [`srv6pipes doctor: Linux ${rep.kernel}; needs of ${rep.needs.source}`];
  for (const c of rep.checks) {
    lines.push(`${c.status.padEnd(5)} ${c.check.padEnd(width)}  ${c.detail}`);
    if (c.fix && (c.status === 'warn' || c.status === 'fail')) lines.push(`${' '.repeat(width + 8)}fix: ${c.fix}`);
  }
  const count = (s: CheckStatus): number => rep.checks.filter((c) => c.status === s).length;
  lines.push(`${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail, ${count('skip')} skipped`);
  return `${lines.join('\n')}\n`;
}
