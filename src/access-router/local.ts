/**
 * The access-router agent that does the work: it runs `ip` and `nft` on this host (or, with
 * `namespace`, inside that network namespace through `ip netns exec`). `start()` loads the filter
 * table (rules.ts), sets the encapsulation source and removes BSID routes a crashed agent left
 * behind; `stop()` removes every BSID route and the table and restores the source. BSIDs also expire
 * here, so a controller that dies cannot leave a path open forever.
 */
import type { Logger } from 'pino';
import { SrError } from '../core/errors.js';
import { formatAddress, formatPrefix, parseAddress, prefixContains, type Prefix6 } from '../net/ip6.js';
import { run } from '../sys/run.js';
import { journal, type Leftover } from '../sys/journal.js';
import type { AccessRouterAgent, AccessRouterCounters, BsidPolicy } from './api.js';
import { checkPolicy, DEFAULT_AGENT_LIMITS, Gate, type AgentLimits } from './limits.js';
import { AR_TABLE, arRuleset, bsidRouteArgs, elementScript, parseCounters, staleBsidRoutes } from './rules.js';

const AR_JOURNAL: Leftover[] = [{ kind: 'nft', family: 'ip6', table: AR_TABLE }];

/** Runs argv (with stdin), resolving with stdout; fails with COMMAND_FAILED. */
export type Runner = (argv: string[], input?: string) => Promise<{ stdout: string; stderr: string; code: number }>;

export interface LocalAccessRouterOptions {
  name: string;
  bsidPrefix: Prefix6;
  /** the outer source address of encapsulated packets (`ip sr tunsrc`); unset: left as it is */
  tunnelSource?: string;
  /** interfaces facing clients: SR traffic from them must target an installed BSID */
  clientInterfaces?: readonly string[];
  /** run every command inside this network namespace */
  namespace?: string;
  log: Logger;
  runner?: Runner;
  /** what an install may ask for and how much is accepted (limits.ts; default DEFAULT_AGENT_LIMITS) */
  limits?: Partial<AgentLimits>;
  /** expiry sweep period (default 1 s) */
  sweepMs?: number;
  now?: () => number;
}

export class LocalAccessRouter implements AccessRouterAgent {
  readonly name: string;
  private readonly installed = new Map<string, BsidPolicy>();
  private readonly runner: Runner;
  private previousTunsrc: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** serialises changes (one nft transaction and route change at a time) and bounds those waiting */
  private readonly gate: Gate;
  private readonly now: () => number;
  readonly limits: AgentLimits;

  constructor(private readonly o: LocalAccessRouterOptions) {
    this.name = o.name;
    this.runner = o.runner ?? run;
    this.now = o.now ?? Date.now;
    this.limits = { ...DEFAULT_AGENT_LIMITS, ...o.limits };
    this.gate = new Gate(this.limits.maxInFlight);
  }

  /** BSIDs installed, and requests queued or running. */
  stats(): { installed: number; inFlight: number } {
    return { installed: this.installed.size, inFlight: this.gate.inFlight };
  }

  /** the table is in this process's namespace, made by the real commands (not a test's runner) */
  private get journaled(): boolean {
    return !this.o.namespace && !this.o.runner;
  }

  private async cmd(argv: string[], input?: string): Promise<string> {
    const full = this.o.namespace ? ['ip', 'netns', 'exec', this.o.namespace, ...argv] : argv;
    const r = await this.runner(full, input);
    if (r.code !== 0) throw new SrError('COMMAND_FAILED', `\`${argv.join(' ')}\` failed: ${r.stderr.trim().split('\n')[0] ?? ''}`);
    return r.stdout;
  }

  private inPrefix(addr: string): boolean {
    try {
      return prefixContains(this.o.bsidPrefix, parseAddress(addr));
    } catch {
      return false;
    }
  }

  async start(): Promise<void> {
    await this.cmd(['nft', 'delete', 'table', 'ip6', AR_TABLE]).catch(() => undefined);
    await this.cmd(['nft', '-f', '-'], arRuleset({ bsidPrefix: this.o.bsidPrefix, clientInterfaces: this.o.clientInterfaces ?? [] }));
    // journaled (in this process's namespace only): `srv6pipes cleanup` leaves a live agent's table alone and removes a killed one's
    if (this.journaled) journal().add(AR_JOURNAL);
    for (const bsid of staleBsidRoutes(await this.cmd(['ip', '-6', '-j', 'route', 'show']), (a) => this.inPrefix(a))) {
      await this.cmd(['ip', '-6', 'route', 'del', `${bsid}/128`]);
      this.o.log.warn({ bsid }, 'removed a BSID route left behind');
    }
    if (this.o.tunnelSource) {
      this.previousTunsrc = /tunsrc addr (\S+)/.exec(await this.cmd(['ip', 'sr', 'tunsrc', 'show']))?.[1];
      await this.cmd(['ip', 'sr', 'tunsrc', 'set', this.o.tunnelSource]);
    }
    this.timer = setInterval(() => void this.sweep(), this.o.sweepMs ?? 1000);
    this.timer.unref();
    this.o.log.info({ router: this.name, bsidPrefix: formatPrefix(this.o.bsidPrefix), namespace: this.o.namespace }, 'access router ready');
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.gate.run(async () => {
      for (const bsid of [...this.installed.keys()]) await this.cmd(['ip', '-6', 'route', 'del', `${bsid}/128`]).catch(() => undefined);
      this.installed.clear();
      await this.cmd(['nft', 'delete', 'table', 'ip6', AR_TABLE]).catch(() => undefined);
      if (this.journaled) journal().remove(AR_JOURNAL);
      if (this.previousTunsrc !== undefined) await this.cmd(['ip', 'sr', 'tunsrc', 'set', this.previousTunsrc]).catch(() => undefined);
    }, true);
  }

  /** Removes what has expired. */
  async sweep(): Promise<void> {
    const now = this.now();
    for (const p of [...this.installed.values()]) {
      if (p.expiresAt <= now) {
        await this.removeNow(p.bsid, true).catch((e: unknown) => this.o.log.error({ bsid: p.bsid, err: (e as Error).message }, 'expiry failed'));
        this.o.log.info({ bsid: p.bsid }, 'BSID expired');
      }
    }
  }

  install(request: BsidPolicy): Promise<void> {
    let policy: BsidPolicy;
    try {
      policy = checkPolicy(request, { bsidPrefix: this.o.bsidPrefix, limits: this.limits, now: this.now() });
    } catch (e) {
      return Promise.reject(e);
    }
    const { bsid, segments } = policy;
    const source = `${policy.source.prefix}/${policy.source.length}`;
    return this.gate.run(async () => {
      const old = this.installed.get(bsid);
      if (!old && this.installed.size >= this.limits.maxBsids) throw new SrError('AGENT_FULL', `${this.installed.size} BSIDs installed (--max-bsids ${this.limits.maxBsids})`);
      const route = JSON.parse((await this.cmd(['ip', '-6', '-j', 'route', 'get', segments[0]!])) || '[]') as { dev?: string }[];
      const dev = route[0]?.dev;
      if (!dev) throw new SrError('COMMAND_FAILED', `no route to the first segment ${segments[0]}`, { hint: 'the access router needs a route to every proxy locator' });
      await this.cmd(bsidRouteArgs(bsid, segments, dev));
      const oldSource = old ? `${old.source.prefix}/${old.source.length}` : undefined;
      if (oldSource !== source) {
        await this.cmd(['nft', '-f', '-'], elementScript([{ bsid, source }], old ? [{ bsid, source: oldSource! }] : []));
      }
      this.installed.set(bsid, policy);
      this.o.log.info({ bsid, segments, source, dev, replaced: old !== undefined }, 'BSID installed');
    });
  }

  remove(bsidText: string): Promise<void> {
    return this.removeNow(bsidText, false);
  }

  private removeNow(bsidText: string, internal: boolean): Promise<void> {
    let bsid: string;
    try {
      bsid = formatAddress(parseAddress(bsidText));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.gate.run(async () => {
      const old = this.installed.get(bsid);
      if (!old) return;
      const source = `${old.source.prefix}/${old.source.length}`;
      await this.cmd(['nft', '-f', '-'], elementScript([], [{ bsid, source }]));
      await this.cmd(['ip', '-6', 'route', 'del', `${bsid}/128`]).catch(() => undefined);
      this.installed.delete(bsid);
      this.o.log.info({ bsid }, 'BSID removed');
    }, internal);
  }

  list(): Promise<BsidPolicy[]> {
    return Promise.resolve([...this.installed.values()]);
  }

  async counters(): Promise<AccessRouterCounters> {
    return parseCounters(await this.gate.run(() => this.cmd(['nft', '-j', 'list', 'counters', 'table', 'ip6', AR_TABLE])));
  }
}
