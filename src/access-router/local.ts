/**
 * The access-router agent that does the work: it runs `ip` and `nft` on this host (or, with
 * `namespace`, inside that network namespace through `ip netns exec`). `start()` loads the filter
 * table (rules.ts), sets the encapsulation source and removes BSID routes a crashed agent left
 * behind; `stop()` removes every BSID route and the table and restores the source. BSIDs also expire
 * here, so a controller that dies cannot leave a path open forever. Changes queue and go to the
 * kernel in batches (one `ip -batch` and one nft transaction for all that arrived meanwhile):
 * about 50 installs/s one process at a time, thousands batched (docs/scaling.md).
 */
import type { Logger } from 'pino';
import { SrError } from '../core/errors.js';
import { formatAddress, formatPrefix, parseAddress, prefixContains, type Prefix6 } from '../net/ip6.js';
import { run } from '../sys/run.js';
import { journal, type Leftover } from '../sys/journal.js';
import type { AccessRouterAgent, AccessRouterCounters, BsidPolicy } from './api.js';
import { checkPolicy, DEFAULT_AGENT_LIMITS, Gate, type AgentLimits } from './limits.js';
import { AR_TABLE, arRuleset, bsidRouteArgs, elementScript, parseCounters, staleBsidRoutes, type ElementChange } from './rules.js';
import { fail, ipBatchFailures, ipBatchScript, queued, runsOf, succeed, type InstallOp, type QueuedOp } from './batch.js';

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
  /** changes waiting for the next flush (batch.ts) */
  private readonly queue: QueuedOp[] = [];
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
    const stale = staleBsidRoutes(await this.cmd(['ip', '-6', '-j', 'route', 'show']), (a) => this.inPrefix(a));
    const failed = await this.ipLines(stale.map((bsid) => ['ip', '-6', 'route', 'del', `${bsid}/128`]));
    if (failed.size > 0) throw [...failed.values()][0]!;
    for (const bsid of stale) this.o.log.warn({ bsid }, 'removed a BSID route left behind');
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
      await this.ipLines([...this.installed.keys()].map((bsid) => ['ip', '-6', 'route', 'del', `${bsid}/128`]));
      this.installed.clear();
      await this.cmd(['nft', 'delete', 'table', 'ip6', AR_TABLE]).catch(() => undefined);
      if (this.journaled) journal().remove(AR_JOURNAL);
      if (this.previousTunsrc !== undefined) await this.cmd(['ip', 'sr', 'tunsrc', 'set', this.previousTunsrc]).catch(() => undefined);
    }, true);
  }

  /** Removes what has expired. */
  async sweep(): Promise<void> {
    const now = this.now();
    // queued together: one batch for all that expired at once
    const expired = [...this.installed.values()].filter((p) => p.expiresAt <= now);
    await Promise.all(
      expired.map((p) =>
        this.removeNow(p.bsid, true).then(
          () => this.o.log.info({ bsid: p.bsid }, 'BSID expired'),
          (e: unknown) => this.o.log.error({ bsid: p.bsid, err: (e as Error).message }, 'expiry failed'),
        ),
      ),
    );
  }

  install(request: BsidPolicy): Promise<void> {
    let policy: BsidPolicy;
    try {
      policy = checkPolicy(request, { bsidPrefix: this.o.bsidPrefix, limits: this.limits, now: this.now() });
    } catch (e) {
      return Promise.reject(e);
    }
    return this.enqueue(queued({ kind: 'install' as const, bsid: policy.bsid, policy }), false);
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
    return this.enqueue(queued({ kind: 'remove' as const, bsid }), internal);
  }

  /**
   * Queues a change and takes its turn at the gate: the first turn runs every change queued by then
   * (batch.ts: one `ip -batch` and one nft transaction per run of installs or of removes, in order),
   * so that a burst costs a few processes, not three per BSID; later turns find theirs done.
   */
  private enqueue(op: QueuedOp, internal: boolean): Promise<void> {
    // a full gate refuses before anything is queued (AGENT_BUSY)
    if (!internal && this.gate.inFlight >= this.limits.maxInFlight) return this.gate.run(() => op.done);
    this.queue.push(op);
    return this.gate.run(async () => {
      if (!op.settled) await this.flush();
      return op.done;
    }, internal);
  }

  private async flush(): Promise<void> {
    const ops = this.queue.splice(0);
    for (const group of runsOf(ops)) {
      try {
        if (group[0]!.kind === 'install') await this.installRun(group as InstallOp[]);
        else await this.removeRun(group);
      } catch (e) {
        // a command that could not run at all (no `ip`): every change of the run fails with it
        for (const op of group) if (!op.settled) fail(op, e as Error);
      }
    }
  }

  /** Routes first (an `ip -batch` whose failed lines fail their BSID alone), then the filter entries. */
  private async installRun(ops: InstallOp[]): Promise<void> {
    let size = this.installed.size;
    const live: InstallOp[] = [];
    for (const op of ops) {
      if (this.installed.has(op.bsid)) live.push(op);
      else if (size >= this.limits.maxBsids) fail(op, new SrError('AGENT_FULL', `${size} BSIDs installed (--max-bsids ${this.limits.maxBsids})`));
      else {
        size++;
        live.push(op);
      }
    }
    // the device towards each distinct first segment (a few: the proxies' locators)
    const devs = new Map<string, string | Error>();
    for (const first of new Set(live.map((op) => op.policy.segments[0]!))) {
      try {
        const route = JSON.parse((await this.cmd(['ip', '-6', '-j', 'route', 'get', first])) || '[]') as { dev?: string }[];
        const dev = route[0]?.dev;
        devs.set(first, dev ? dev : new SrError('COMMAND_FAILED', `no route to the first segment ${first}`, { hint: 'the access router needs a route to every proxy locator' }));
      } catch (e) {
        devs.set(first, e as Error);
      }
    }
    const routed: InstallOp[] = [];
    const lines: string[][] = [];
    for (const op of live) {
      const dev = devs.get(op.policy.segments[0]!)!;
      if (dev instanceof Error) fail(op, dev);
      else {
        routed.push(op);
        lines.push(bsidRouteArgs(op.bsid, op.policy.segments, dev));
      }
    }
    const failed = await this.ipLines(lines);
    const changes: { op: InstallOp; add: ElementChange[]; del: ElementChange[] }[] = [];
    routed.forEach((op, i) => {
      const err = failed.get(i);
      if (err) return fail(op, err);
      const old = this.installed.get(op.bsid);
      const source = `${op.policy.source.prefix}/${op.policy.source.length}`;
      const oldSource = old ? `${old.source.prefix}/${old.source.length}` : undefined;
      changes.push({ op, add: oldSource === source ? [] : [{ bsid: op.bsid, source }], del: old && oldSource !== source ? [{ bsid: op.bsid, source: oldSource! }] : [] });
    });
    for (const { op, error } of await this.elements(changes)) {
      if (error) {
        fail(op, error);
        continue;
      }
      const old = this.installed.get(op.bsid);
      this.installed.set(op.bsid, op.policy);
      this.o.log.info({ bsid: op.bsid, segments: op.policy.segments, source: `${op.policy.source.prefix}/${op.policy.source.length}`, replaced: old !== undefined }, 'BSID installed');
      succeed(op);
    }
  }

  /** Filter entries first (traffic stops at once), then the routes. */
  private async removeRun(ops: QueuedOp[]): Promise<void> {
    const changes: { op: QueuedOp; add: ElementChange[]; del: ElementChange[] }[] = [];
    for (const op of ops) {
      const old = this.installed.get(op.bsid);
      if (!old) succeed(op);
      else changes.push({ op, add: [], del: [{ bsid: op.bsid, source: `${old.source.prefix}/${old.source.length}` }] });
    }
    const done: QueuedOp[] = [];
    for (const { op, error } of await this.elements(changes)) {
      if (error) fail(op, error);
      else done.push(op);
    }
    await this.ipLines(done.map((op) => ['ip', '-6', 'route', 'del', `${op.bsid}/128`]));
    for (const op of done) {
      this.installed.delete(op.bsid);
      this.o.log.info({ bsid: op.bsid }, 'BSID removed');
      succeed(op);
    }
  }

  /**
   * `ip` commands: one alone runs as itself; several as one `ip -force -batch -` (each line on its
   * own: a failed one does not stop the others; every line is `ip -6 …`). Resolves with the failed ones, by index.
   */
  private async ipLines(lines: string[][]): Promise<Map<number, Error>> {
    const failed = new Map<number, Error>();
    if (lines.length === 1) {
      await this.cmd(lines[0]!).catch((e: unknown) => failed.set(0, e as Error));
      return failed;
    }
    if (lines.length === 0) return failed;
    const full = ['ip', '-6', '-force', '-batch', '-'];
    const r = await this.runner(this.o.namespace ? ['ip', 'netns', 'exec', this.o.namespace, ...full] : full, ipBatchScript(lines));
    if (r.code === 0) return failed;
    const byLine = ipBatchFailures(r.stderr);
    if (byLine.size === 0) {
      // ip itself failed: every line fails with its message
      const err = new SrError('COMMAND_FAILED', `\`ip -batch\` failed: ${r.stderr.trim().split('\n')[0] ?? ''}`);
      lines.forEach((_, i) => failed.set(i, err));
      return failed;
    }
    for (const [line, message] of byLine) if (line >= 1 && line <= lines.length) failed.set(line - 1, new SrError('COMMAND_FAILED', `\`${lines[line - 1]!.join(' ')}\` failed: ${message}`));
    return failed;
  }

  /** One nft transaction for every change; if it fails, each change alone (so that one bad entry fails alone). */
  private async elements<T>(changes: { op: T; add: ElementChange[]; del: ElementChange[] }[]): Promise<{ op: T; error?: Error }[]> {
    const effective = changes.filter((c) => c.add.length + c.del.length > 0);
    const script = elementScript(effective.flatMap((c) => c.add), effective.flatMap((c) => c.del));
    if (!script) return changes.map(({ op }) => ({ op }));
    try {
      await this.cmd(['nft', '-f', '-'], script);
      return changes.map(({ op }) => ({ op }));
    } catch (e) {
      if (effective.length === 1) return changes.map(({ op, add, del }) => (add.length + del.length > 0 ? { op, error: e as Error } : { op }));
    }
    const out: { op: T; error?: Error }[] = [];
    for (const c of changes) {
      if (c.add.length + c.del.length === 0) {
        out.push({ op: c.op });
        continue;
      }
      try {
        await this.cmd(['nft', '-f', '-'], elementScript(c.add, c.del));
        out.push({ op: c.op });
      } catch (e) {
        out.push({ op: c.op, error: e as Error });
      }
    }
    return out;
  }

  list(): Promise<BsidPolicy[]> {
    return Promise.resolve([...this.installed.values()]);
  }

  async counters(): Promise<AccessRouterCounters> {
    return parseCounters(await this.gate.run(() => this.cmd(['nft', '-j', 'list', 'counters', 'table', 'ip6', AR_TABLE])));
  }
}
