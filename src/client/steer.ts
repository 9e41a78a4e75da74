/**
 * `srv6pipes steer`: an unmodified program's traffic to a name goes through the name's SR path. The
 * controller resolves the name (client.ts `resolve()`); for each address with a path, a host route
 * `ADDR/128 encap seg6 mode inline segs S1,S2,...` makes the kernel insert the SRH [ADDR, ..., S2, S1]
 * (storage order; travel order S1 → S2 → ... → ADDR) on every packet to ADDR.
 *
 * Inline mode wants the segments in travel order *without* the destination: iproute2 reserves
 * segments[0] and the kernel fills it with the packet's own destination (checked with tcpdump in the
 * Fig. 1 lab: `segs A,B` gives DA=A, SL=2, [0]=ADDR [1]=B [2]=A). A binding-SID answer gives `segs BSID`.
 *
 * The pure half (targets, route-get parsing, the `ip` argv, "is this route still ours") is apart from
 * the I/O half (`Steering`: a runner for `ip`, the resolver, the command, signals — all injected).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { SrError, errnoCode } from '../core/errors.js';
import { formatAddress, isAddress, parseAddress } from '../net/ip6.js';
import { parseController } from '../dns/query.js';
import { resolve, type ResolveOptions, type ResolveResult } from './resolve.js';
import { run, type RunResult } from '../sys/run.js';

// ---------------------------------------------------------------------------------------------- pure

/** One address of the name and what steers it: `segs` = the inline segment list ([] = not steered). */
export interface SteerTarget {
  destination: string;
  /** travel order, destination excluded: the function SIDs, or [bsid] */
  segs: string[];
  bsid?: string;
}

/** Where the first segment is reached from here (`ip -6 -j route get SEG1`). */
export interface NextHop {
  dev: string;
  gateway?: string;
}

export interface SteerRoute extends SteerTarget {
  dev: string;
  gateway?: string;
}

export interface SteerPlan {
  name: string;
  /** one host route per address with a path */
  routes: SteerRoute[];
  /** addresses without a path: no function applies, traffic to them is not steered */
  plain: string[];
  /** seconds until the answer expires (absent: the controller gave none) */
  ttl?: number;
}

const canon = (a: string): string => formatAddress(parseAddress(a));

/** The answer → what to steer. Fails on a non-NOERROR answer or one without an IPv6 address. */
export function steerTargets(r: Pick<ResolveResult, 'name' | 'rcode' | 'addresses' | 'paths'>): SteerTarget[] {
  if (r.rcode !== 'NOERROR') {
    throw new SrError('STEER_RESOLVE_FAILED', `${r.name}: the controller answered ${r.rcode}`, {
      hint:
        r.rcode === 'REFUSED'
          ? 'a policy denies this client or a requested function: check with `srv6pipes resolve NAME --functions …`'
          : 'check the name with `srv6pipes resolve NAME --controller …`',
    });
  }
  if (r.addresses.length === 0) throw new SrError('STEER_RESOLVE_FAILED', `${r.name}: no IPv6 address (AAAA) in the answer`, { hint: 'an IPv4-only name cannot carry an SRH; check the zone' });
  return r.addresses.map((a) => {
    const destination = canon(a);
    const path = r.paths.find((p) => canon(p.destination) === destination);
    if (!path) return { destination, segs: [] };
    if (path.bsid !== undefined) return { destination, segs: [canon(path.bsid)], bsid: canon(path.bsid) };
    return { destination, segs: path.segments.slice(0, -1).map(canon) };
  });
}

/** `ip -6 -j route get ADDR` output → the device and gateway. */
export function parseRouteGet(stdout: string, dst: string): NextHop {
  let rows: unknown;
  try {
    rows = JSON.parse(stdout);
  } catch {
    throw new SrError('COMMAND_FAILED', `\`ip -6 -j route get ${dst}\` printed no JSON: ${stdout.slice(0, 120)}`);
  }
  const row = (Array.isArray(rows) ? rows[0] : undefined) as { dev?: unknown; gateway?: unknown; type?: unknown } | undefined;
  if (!row || typeof row.dev !== 'string' || (typeof row.type === 'string' && row.type !== 'unicast')) {
    throw noRoute(dst, row && typeof row.type === 'string' ? row.type : 'no device');
  }
  return { dev: row.dev, ...(typeof row.gateway === 'string' ? { gateway: row.gateway } : {}) };
}

export function noRoute(dst: string, why: string): SrError {
  return new SrError('STEER_NO_ROUTE', `no route to the first segment ${dst} (${why})`, { hint: 'the path’s first segment (a proxy’s locator or the BSID) must be routable from this namespace: check `ip -6 route`' });
}

/** The pure core: an answer and the next hop of each first segment → the routes to install. */
export function planSteering(r: Pick<ResolveResult, 'name' | 'rcode' | 'addresses' | 'paths' | 'ttl'>, nextHop: (seg: string) => NextHop): SteerPlan {
  const targets = steerTargets(r);
  const routes = targets.filter((t) => t.segs.length > 0).map((t) => ({ ...t, ...nextHop(t.segs[0]!) }));
  const plain = targets.filter((t) => t.segs.length === 0).map((t) => t.destination);
  return { name: r.name, routes, plain, ...(r.ttl !== undefined ? { ttl: r.ttl } : {}) };
}

/** The first segments whose next hop `planSteering` needs. */
export function firstSegments(r: Pick<ResolveResult, 'name' | 'rcode' | 'addresses' | 'paths'>): string[] {
  return [...new Set(steerTargets(r).flatMap((t) => t.segs.slice(0, 1)))];
}

export function installArgv(route: SteerRoute): string[] {
  return ['ip', '-6', 'route', 'replace', `${route.destination}/128`, 'encap', 'seg6', 'mode', 'inline', 'segs', route.segs.join(','), 'dev', route.dev, ...(route.gateway ? ['via', route.gateway] : [])];
}

export function removeArgv(route: Pick<SteerRoute, 'destination' | 'dev'>): string[] {
  return ['ip', '-6', 'route', 'del', `${route.destination}/128`, 'dev', route.dev];
}

export function showArgv(destination: string): string[] {
  return ['ip', '-6', '-j', 'route', 'show', 'exact', `${destination}/128`];
}

/** One row of `ip -6 -j route show` (the fields we read). */
export interface ShownRoute {
  dst?: string;
  type?: string;
  dev?: string;
  gateway?: string;
  metric?: number;
  encap?: string;
  mode?: string;
  segs?: string[];
}

export function parseShown(stdout: string): ShownRoute[] {
  const t = stdout.trim();
  if (t === '') return [];
  const rows = JSON.parse(t) as unknown;
  return Array.isArray(rows) ? (rows as ShownRoute[]) : [];
}

/** The inline segments of a shown route, travel order, without iproute2's trailing `::` slot. */
function shownSegs(s: ShownRoute): string[] {
  const segs = (s.segs ?? []).map(canon);
  return s.mode === 'inline' && segs[segs.length - 1] === '::' ? segs.slice(0, -1) : segs;
}

/** Is this shown route the one we installed (same encap, segments and device)? */
export function isOurs(s: ShownRoute, route: SteerRoute): boolean {
  return s.encap === 'seg6' && s.mode === 'inline' && s.dev === route.dev && shownSegs(s).join(',') === route.segs.join(',');
}

/** The argv that puts a route we replaced (`--replace`) back, or null when we cannot rebuild it. */
export function restoreArgv(s: ShownRoute, destination: string): string[] | null {
  if ((s.type !== undefined && s.type !== 'unicast') || typeof s.dev !== 'string') return null;
  const encap = s.encap === undefined ? [] : s.encap === 'seg6' && (s.mode === 'inline' || s.mode === 'encap') && shownSegs(s).length > 0 ? ['encap', 'seg6', 'mode', s.mode, 'segs', shownSegs(s).join(',')] : null;
  if (encap === null) return null;
  return ['ip', '-6', 'route', 'replace', `${destination}/128`, ...encap, 'dev', s.dev, ...(s.gateway ? ['via', s.gateway] : []), ...(s.metric !== undefined ? ['metric', String(s.metric)] : [])];
}

/** A shown route in a few words, e.g. `encap seg6 inline fc00:a::1:0:0 via fc00:1::1 dev eth0`. */
export function describeShown(s: ShownRoute): string {
  const encap = s.encap === 'seg6' ? `encap seg6 ${s.mode ?? ''} ${shownSegs(s).join(',')} ` : s.encap ? `encap ${s.encap} ` : '';
  return `${s.type && s.type !== 'unicast' ? `${s.type} ` : ''}${encap}${s.gateway ? `via ${s.gateway} ` : ''}${s.dev ? `dev ${s.dev}` : ''}`.replace(/ +/g, ' ').trim();
}

export function sameRoutes(a: SteerPlan, b: SteerPlan): boolean {
  const key = (p: SteerPlan): string => JSON.stringify([p.routes.map((r) => installArgv(r)), p.plain]);
  return key(a) === key(b);
}

/** One human line per route or plain address. */
export function describePlan(p: SteerPlan): string[] {
  const lines = p.routes.map((r) => {
    const via = r.bsid !== undefined ? `binding SID ${r.bsid}` : r.segs.join(' → ');
    return `${p.name} → ${r.destination} through ${via} (dev ${r.dev}${r.gateway ? ` via ${r.gateway}` : ''})`;
  });
  for (const a of p.plain) lines.push(`${p.name} → ${a}: no function applies, not steered (plain route)`);
  return lines;
}

export function planJson(p: SteerPlan): Record<string, unknown> {
  return {
    name: p.name,
    routes: p.routes.map((r) => ({ destination: r.destination, segments: r.segs, ...(r.bsid !== undefined ? { bsid: r.bsid } : {}), dev: r.dev, ...(r.gateway ? { gateway: r.gateway } : {}), command: installArgv(r).join(' ') })),
    plain: p.plain,
    ...(p.ttl !== undefined ? { ttl: p.ttl } : {}),
  };
}

// ------------------------------------------------------------------------------------------------ I/O

export type Runner = (argv: string[]) => Promise<RunResult>;

export interface RunningCommand {
  /** the exit code (128 + signal number when killed) */
  exited: Promise<number>;
  kill(signal: NodeJS.Signals): void;
}

export interface SteerDeps {
  run: Runner;
  resolve: (o: ResolveOptions) => Promise<ResolveResult>;
  /** starts the command with inherited stdio */
  spawnCommand: (argv: string[]) => RunningCommand;
  /** steer's own output lines (stdout without a command, stderr with one) */
  print: (line: string) => void;
  /** warnings and errors that do not stop steering */
  warn: (line: string) => void;
  /** subscribes to stop signals; returns the unsubscribe function */
  onSignal: (handler: (sig: NodeJS.Signals) => void) => () => void;
  /** the shortest re-resolution interval (default 1000 ms; tests make it small) */
  minRefreshMs?: number;
  /** without a TTL in the answer (default 60 s) */
  defaultRefreshMs?: number;
  /** forward SIGINT to the command (default: only when stdin is not a TTY, where Ctrl-C reaches both) */
  forwardSigint?: boolean;
}

export interface SteerOptions {
  name: string;
  functions?: string[];
  controller?: string;
  port?: number;
  tcp?: boolean;
  /** argv after `--`; absent: hold until SIGINT/SIGTERM */
  command?: string[];
  json?: boolean;
  dryRun?: boolean;
  /** take over an existing route to an address (put back on exit) */
  replace?: boolean;
}

function failed(argv: string[], r: RunResult): SrError {
  const msg = r.stderr.trim().split('\n')[0] ?? '';
  if (/Operation not permitted/i.test(msg)) return new SrError('NOT_ROOT', `\`${argv.join(' ')}\`: ${msg}`, { hint: 'steer changes routes: run it as root (CAP_NET_ADMIN), in the namespace of the program to steer' });
  return new SrError('COMMAND_FAILED', `\`${argv.join(' ')}\` failed: ${msg}`);
}

/** The routes of one steering session: installs, updates and removes only its own. */
export class Steering {
  /** destination → the route we installed */
  private readonly installed = new Map<string, SteerRoute>();
  /** destination → the route that was there before (`--replace`) */
  private readonly previous = new Map<string, ShownRoute>();

  constructor(private readonly deps: Pick<SteerDeps, 'run' | 'resolve' | 'warn'>) {}

  get routes(): SteerRoute[] {
    return [...this.installed.values()];
  }

  /** Asks the controller and looks up the next hop of each first segment (read-only). */
  async plan(o: SteerOptions): Promise<SteerPlan> {
    let r: ResolveResult;
    try {
      r = await this.deps.resolve({ name: o.name, ...(o.functions ? { functions: o.functions } : {}), ...(o.controller ? { controller: o.controller } : {}), ...(o.port !== undefined ? { port: o.port } : {}), ...(o.tcp ? { tcp: true } : {}) });
    } catch (e) {
      if (e instanceof SrError) throw e;
      throw new SrError('STEER_RESOLVE_FAILED', `${o.name}: no answer from the controller ${o.controller ?? '[::1]:53'}: ${errnoCode(e) ?? ''} ${(e as Error).message}`.replace(/ +/g, ' '), {
        hint: 'is the controller running and reachable? check --controller (ADDR or [ADDR]:PORT)',
        cause: e,
      });
    }
    const hops = new Map<string, NextHop>();
    for (const seg of firstSegments(r)) {
      const argv = ['ip', '-6', '-j', 'route', 'get', seg];
      const out = await this.deps.run(argv);
      if (out.code !== 0) {
        const msg = out.stderr.trim().split('\n')[0] ?? '';
        throw /unreachable|No route|Network is down|Invalid argument/i.test(msg) ? noRoute(seg, msg) : failed(argv, out);
      }
      hops.set(seg, parseRouteGet(out.stdout, seg));
    }
    return planSteering(r, (seg) => hops.get(seg)!);
  }

  private async shown(destination: string): Promise<ShownRoute[]> {
    const argv = showArgv(destination);
    const r = await this.deps.run(argv);
    if (r.code !== 0) throw failed(argv, r);
    return parseShown(r.stdout);
  }

  /** Installs the plan's routes; removes ours to addresses it no longer has. */
  async apply(plan: SteerPlan, replace = false): Promise<void> {
    const wanted = new Map(plan.routes.map((r) => [r.destination, r]));
    for (const [dst, route] of [...this.installed]) if (!wanted.has(dst)) await this.removeOne(route);
    for (const route of plan.routes) {
      if (!this.installed.has(route.destination)) {
        const existing = await this.shown(route.destination);
        if (existing.length > 0) {
          if (!replace) {
            throw new SrError('STEER_ROUTE_EXISTS', `a route to ${route.destination}/128 exists already (${describeShown(existing[0]!)})`, {
              hint: `another steer (or someone) owns it: remove it (ip -6 route del ${route.destination}/128) or pass --replace to take it over (it is put back on exit)`,
            });
          }
          this.previous.set(route.destination, existing[0]!);
        }
      }
      const argv = installArgv(route);
      const r = await this.deps.run(argv);
      if (r.code !== 0) throw failed(argv, r);
      this.installed.set(route.destination, route);
    }
  }

  private async removeOne(route: SteerRoute): Promise<void> {
    this.installed.delete(route.destination);
    const now = await this.shown(route.destination);
    if (!now.some((s) => isOurs(s, route))) {
      this.deps.warn(`the route to ${route.destination}/128 was changed by someone else: left as it is`);
      return;
    }
    const argv = removeArgv(route);
    const r = await this.deps.run(argv);
    if (r.code !== 0) throw failed(argv, r);
    const prev = this.previous.get(route.destination);
    this.previous.delete(route.destination);
    if (prev) {
      const back = restoreArgv(prev, route.destination);
      const rr = back ? await this.deps.run(back) : undefined;
      if (!back || rr?.code !== 0) this.deps.warn(`could not put back the previous route to ${route.destination}/128: ${JSON.stringify(prev)}${rr ? ` (${rr.stderr.trim()})` : ''}`);
    }
  }

  /** Removes every route this session installed (and only those): the destinations whose route is
   *  gone. Tries them all; the first failure is rethrown at the end. */
  async removeAll(): Promise<string[]> {
    let first: unknown;
    const removed: string[] = [];
    for (const route of [...this.installed.values()]) {
      try {
        await this.removeOne(route);
        removed.push(route.destination);
      } catch (e) {
        first ??= e;
        this.deps.warn(`removing the route to ${route.destination}/128: ${(e as Error).message}`);
      }
    }
    if (first !== undefined) throw first;
    return removed;
  }
}

function output(o: SteerOptions, deps: SteerDeps, event: 'steering' | 'changed', plan: SteerPlan, extra = ''): void {
  if (o.json) deps.print(JSON.stringify({ event, ...planJson(plan) }));
  else for (const l of describePlan(plan)) deps.print(`steer: ${event === 'changed' ? 'path changed: ' : ''}${l}${extra}`);
}

/** Is the controller one of the steered addresses? (its DNS traffic would then follow the path) */
function controllerSteered(o: SteerOptions, plan: SteerPlan): boolean {
  let ctl: string;
  try {
    ctl = parseController(o.controller).address;
  } catch {
    return false;
  }
  return isAddress(ctl) && plan.routes.some((r) => r.destination === canon(ctl));
}

/** `srv6pipes steer`: resolves, installs, runs the command or holds, and always removes its routes. */
export async function runSteer(o: SteerOptions, deps: SteerDeps): Promise<number> {
  const steering = new Steering(deps);
  const plan = await steering.plan(o);
  if (o.dryRun) {
    if (o.json) deps.print(JSON.stringify({ event: 'dry-run', ...planJson(plan), ...(o.command ? { command: o.command } : {}) }));
    else {
      for (const r of plan.routes) deps.print(installArgv(r).join(' '));
      for (const a of plan.plain) deps.print(`# ${plan.name} → ${a}: no function applies, nothing to install`);
      if (o.command) deps.print(`# then: ${o.command.join(' ')}`);
    }
    return 0;
  }
  let stopping: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  let child: RunningCommand | undefined;
  const forwardSigint = deps.forwardSigint ?? !process.stdin.isTTY;
  const unsubscribe = deps.onSignal((sig) => {
    if (child) {
      // with a command, signals go to it; steer cleans up when it exits
      if (sig !== 'SIGINT' || forwardSigint) child.kill(sig);
      return;
    }
    if (stopping) {
      deps.warn(`${sig}: already stopping`);
      return;
    }
    if (sig !== 'SIGHUP') stopping = sig; // SIGHUP: re-resolve now
    wake?.();
  });
  try {
    await steering.apply(plan, o.replace === true);
    if (o.command) {
      output(o, deps, 'steering', plan);
      if (stopping) return 128 + (constants.signals[stopping] ?? 0);
      child = deps.spawnCommand(o.command);
      return await child.exited;
    }
    output(o, deps, 'steering', plan, '; until SIGINT/SIGTERM');
    if (plan.routes.length === 0 && !o.json) deps.print(`steer: nothing installed for now; re-resolving ${o.name} when the answer expires, until SIGINT/SIGTERM`);
    if (controllerSteered(o, plan)) deps.warn('the controller’s address is steered too: DNS queries to it now follow the path, so re-resolution will likely fail (the routes then stay as they are)');
    let current = plan;
    let failures = 0;
    while (!stopping) {
      const ttlMs = current.ttl !== undefined ? current.ttl * 1000 : (deps.defaultRefreshMs ?? 60000);
      // after a failure: ask again after 5 s, 10 s, 20 s, ... (at most 5 min)
      const waitMs = failures > 0 ? Math.min(5000 * 2 ** (failures - 1), 300000) : ttlMs;
      const ac = new AbortController();
      wake = () => ac.abort();
      await sleep(Math.max(waitMs, deps.minRefreshMs ?? 1000), undefined, { signal: ac.signal }).catch(() => undefined);
      wake = undefined;
      if (stopping) break;
      let next: SteerPlan;
      try {
        next = await steering.plan(o);
        failures = 0;
      } catch (e) {
        // no answer, a refusal, no route: keep the last good routes and ask again
        failures++;
        deps.warn(`re-resolving ${o.name}: ${(e as Error).message}; keeping the current routes`);
        continue;
      }
      if (!sameRoutes(current, next)) {
        await steering.apply(next, o.replace === true);
        output(o, deps, 'changed', next);
      }
      current = next;
    }
    return 0;
  } finally {
    try {
      const removed = await steering.removeAll();
      if (o.json) deps.print(JSON.stringify({ event: 'removed', name: o.name, destinations: removed }));
      else if (!o.command) for (const d of removed) deps.print(`steer: removed the route to ${d}/128`);
    } finally {
      unsubscribe();
    }
  }
}

/** The real dependencies: `ip` through sys/run.ts, the controller client, process signals. */
export function defaultDeps(toStderr: boolean): SteerDeps {
  return {
    run,
    resolve,
    spawnCommand(argv) {
      const c = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
      return {
        exited: new Promise<number>((res, rej) => {
          c.once('error', (e) =>
            rej(
              errnoCode(e) === 'ENOENT'
                ? new SrError('STEER_EXEC_FAILED', `cannot run "${argv[0]}": not found`, { hint: 'give the command after `--` with its path or on PATH' })
                : new SrError('STEER_EXEC_FAILED', `cannot run "${argv[0]}": ${(e as Error).message}`),
            ),
          );
          c.once('exit', (code, sig) => res(code ?? 128 + (sig ? constants.signals[sig] : 0)));
        }),
        kill: (sig) => void c.kill(sig),
      };
    },
    print: (line) => void (toStderr ? process.stderr : process.stdout).write(`${line}\n`),
    warn: (line) => void process.stderr.write(`srv6pipes steer: ${line}\n`),
    onSignal(handler) {
      const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
      for (const s of sigs) process.on(s, handler);
      return () => {
        for (const s of sigs) process.off(s, handler);
      };
    },
  };
}
