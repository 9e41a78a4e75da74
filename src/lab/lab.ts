/**
 * A running lab: one network namespace per topology host (`s6p-<lab>-<host>`), veth links, routes,
 * services. `Lab.up` builds it from a Topology in batched phases (see plan.ts) and records it in a
 * state file; `Lab.down` removes everything of a lab, with or without that file.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { constants } from 'node:os';
import { rmSync } from 'node:fs';
import { SrError } from '../core/errors.js';
import { namespaceInode, removeJournalsOf } from '../sys/journal.js';
import { run } from '../sys/run.js';
import { linkStatus, startEmulators, type LinkStatus } from './links.js';
import { deleteNamespaces, ipBatch, killAll, listNamespaces, notReady, sysctls, tcBatch } from './netns.js';
import { labOfNamespace, NS_PREFIX, planLab } from './plan.js';
import { LAB_NAME, LAB_NAME_RULE } from './schema.js';
import { startServices } from './services.js';
import { claimState, logDir, readState, removeState, stateNames, statePath, writeState, type LabState } from './state.js';
import { hostAddress, hostAddresses, type Topology } from './topology.js';

export interface LabUpOptions {
  /** the lab's name (default: the topology's) */
  name?: string;
  /** progress lines */
  log?: (line: string) => void;
  /** how long to wait for interfaces and addresses to be usable (default 5000 ms) */
  readyTimeoutMs?: number;
}

export interface ExecOptions {
  input?: string | Buffer;
  /** kill the command (SIGKILL) after this long; the result then has code 137 */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export function checkLabName(name: string): void {
  if (!LAB_NAME.test(name)) throw new SrError('BAD_ARGUMENT', `bad lab name "${name}": ${LAB_NAME_RULE}`);
}

/** Namespaces named like this lab's (s6p-<name>-<host>), whatever the state file says. */
function namespacesOf(name: string): string[] {
  return listNamespaces().filter((ns) => labOfNamespace(ns) === name);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function nftLoad(ns: string, ruleset: string): Promise<void> {
  const r = await run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], ruleset);
  if (r.code !== 0) throw new SrError('COMMAND_FAILED', `${ns}: nft -f - (loss rules) failed: ${r.stderr.trim()}`);
}

async function waitReady(lab: string, topo: Topology, namespaces: Record<string, string>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const problems = await Promise.all(
      Object.values(topo.hosts).map((h) =>
        notReady(namespaces[h.name]!, h.interfaces.map((i) => ({ iface: i.name, address: i.address }))),
      ),
    );
    const problem = problems.find((p) => p !== undefined);
    if (problem === undefined) return;
    if (Date.now() > deadline) throw new SrError('LAB_UP_FAILED', `lab ${lab}: not ready after ${timeoutMs} ms: ${problem}`);
    await sleep(10);
  }
}

export class Lab {
  private readonly children = new Set<ChildProcess>();

  private constructor(
    readonly name: string,
    readonly topology: Topology,
    private readonly namespaces: Record<string, string>,
  ) {}

  /** Builds the lab. LAB_EXISTS when a lab of that name is up (or left over: take it down first). */
  static async up(topo: Topology, opts: LabUpOptions = {}): Promise<Lab> {
    const name = opts.name ?? topo.name;
    checkLabName(name);
    const log = opts.log ?? (() => undefined);
    const t0 = Date.now();
    const step = (what: string) => log(`${what} (${Date.now() - t0} ms)`);
    const plans = planLab(name, topo);
    const namespaces = Object.fromEntries(plans.map((p) => [p.host, p.ns]));
    const state: LabState = {
      version: 1,
      name,
      status: 'starting',
      createdAt: new Date().toISOString(),
      ownerPid: process.pid,
      topology: topo,
      namespaces,
      logDir: logDir(name),
      services: [],
    };
    if (!claimState(state)) throw new SrError('LAB_EXISTS', `lab ${name} is up already (${statePath(name)})`);
    const leftovers = namespacesOf(name);
    if (leftovers.length > 0) {
      rmSync(statePath(name), { force: true });
      throw new SrError('LAB_EXISTS', `namespaces of a lab ${name} are left over: ${leftovers.join(', ')}`, {
        hint: `remove them with: srv6pipes lab down --name ${name}`,
      });
    }
    try {
      await ipBatch(plans.map((p) => `netns add ${p.ns}`));
      step('namespaces');
      await Promise.all(plans.map((p) => sysctls(p.ns, p.sysctls)));
      step('sysctls');
      await Promise.all(plans.map((p) => ipBatch(p.veths, { ns: p.ns })));
      step('veths');
      await Promise.all(plans.map(async (p) => (await ipBatch(p.interfaces, { ns: p.ns }), await tcBatch(p.ns, p.qdiscs))));
      step('addresses');
      if (plans.some((p) => p.emulator)) {
        state.services = await startEmulators(plans, state.logDir);
        writeState(state);
        step('link emulators');
      }
      await Promise.all(
        plans.map(async (p) => {
          await ipBatch(p.routes, { ns: p.ns, inet6: true });
          await sysctls(p.ns, p.extraSysctls);
          if (p.nft !== undefined) await nftLoad(p.ns, p.nft);
        }),
      );
      step('routes');
      await waitReady(name, topo, namespaces, opts.readyTimeoutMs ?? 5000);
      step('ready');
      const services = await startServices(topo, namespaces, state.logDir);
      state.services = [...state.services, ...services];
      if (services.length > 0) step('services');
      state.status = 'up';
      writeState(state);
    } catch (e) {
      log(`failed: ${e instanceof Error ? e.message : String(e)}; taking lab ${name} down`);
      await Lab.down(name).catch((d: unknown) => log(`down failed too: ${String(d)}`));
      throw e;
    }
    return new Lab(name, topo, namespaces);
  }

  /** The lab of that name, from its state file. LAB_NOT_FOUND. */
  static attach(name: string): Lab {
    checkLabName(name);
    const s = readState(name);
    if (!s) throw new SrError('LAB_NOT_FOUND', `no lab ${name} is up`);
    if (s.status !== 'up') {
      throw new SrError('LAB_NOT_FOUND', `lab ${name} is not up (status ${s.status}: still coming up, or crashed doing so)`, {
        hint: `take it down with: srv6pipes lab down --name ${name}`,
      });
    }
    return new Lab(name, s.topology, s.namespaces);
  }

  /** Every lab with a state file (damaged files are skipped). */
  static list(): LabState[] {
    const out: LabState[] = [];
    for (const n of stateNames()) {
      try {
        const s = readState(n);
        if (s) out.push(s);
      } catch {
        // damaged: `lab down` still cleans it
      }
    }
    return out;
  }

  /** `s6p-*` namespaces that belong to no lab with a state file (left by a crash). */
  static strayNamespaces(): string[] {
    const known = new Set(stateNames());
    return listNamespaces().filter((ns) => ns.startsWith(NS_PREFIX) && !known.has(labOfNamespace(ns) ?? ''));
  }

  /** Ends every process in the lab's namespaces, deletes the namespaces (also ones the state file
   *  does not know), removes the state file and logs. Idempotent. */
  static async down(name: string): Promise<void> {
    checkLabName(name);
    let known: string[] = [];
    try {
      known = Object.values(readState(name)?.namespaces ?? {});
    } catch {
      // damaged state file: go by the naming pattern
    }
    const all = [...new Set([...known.filter((ns) => labOfNamespace(ns) === name), ...namespacesOf(name)])];
    const inodes = all.map((ns) => namespaceInode(ns)).filter((i): i is number => i !== undefined);
    await killAll(all);
    await deleteNamespaces(all);
    // a daemon killed in the lab (SIGKILL) left its host-change journal (/run/srv6pipes): nothing it
    // names exists once its namespace is gone
    removeJournalsOf(inodes);
    removeState(name);
  }

  /** Takes down every lab with a state file and every stray `s6p-*` namespace. Returns the labs. */
  static async downAll(): Promise<string[]> {
    const names = new Set(stateNames());
    const odd: string[] = [];
    for (const ns of Lab.strayNamespaces()) {
      const lab = labOfNamespace(ns);
      if (lab !== undefined && LAB_NAME.test(lab)) names.add(lab);
      else odd.push(ns);
    }
    for (const n of names) await Lab.down(n);
    if (odd.length > 0) {
      await killAll(odd);
      await deleteNamespaces(odd);
    }
    return [...names];
  }

  /** The namespace of a host. LAB_UNKNOWN_HOST. */
  ns(host: string): string {
    const ns = Object.hasOwn(this.namespaces, host) ? this.namespaces[host] : undefined;
    if (!ns) {
      throw new SrError('LAB_UNKNOWN_HOST', `lab ${this.name} has no host "${host}" (hosts: ${Object.keys(this.namespaces).join(', ')})`);
    }
    return ns;
  }

  /** The host's primary address (first address on its first link). */
  address(host: string): string {
    return hostAddress(this.topology, host);
  }

  addresses(host: string): string[] {
    return hostAddresses(this.topology, host);
  }

  hosts(): string[] {
    return Object.keys(this.topology.hosts);
  }

  /** What the emulated links (`delay`, `loss`) did so far: the emulators' and the loss chains' counters. */
  linkStatus(): Promise<LinkStatus[]> {
    return linkStatus(this.topology, this.namespaces, logDir(this.name));
  }

  /** `ip netns exec NS argv...`, tracked: `down()` ends it. */
  spawn(host: string, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(host), ...argv], opts);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  /** Runs a command in a host and collects its output; resolves whatever the exit code
   *  (a command killed by a signal gives 128 + the signal's number). */
  exec(host: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = this.spawn(host, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on('data', (c: Buffer) => out.push(c));
      child.stderr!.on('data', (c: Buffer) => err.push(c));
      let timedOut = false;
      const timer =
        opts.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              child.kill('SIGKILL');
            }, opts.timeoutMs);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('close', (code, sig) => {
        clearTimeout(timer);
        const stderr = Buffer.concat(err).toString() + (timedOut ? `\n[killed after ${opts.timeoutMs} ms]\n` : '');
        resolve({ stdout: Buffer.concat(out).toString(), stderr, code: code ?? 128 + (sig ? constants.signals[sig] : 0) });
      });
      child.stdin!.on('error', () => undefined); // the command may not read its input
      child.stdin!.end(opts.input);
    });
  }

  /** Ends the processes this object started, then the whole lab (`Lab.down`). */
  async down(): Promise<void> {
    const waits = [...this.children].map(
      (c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()))),
    );
    for (const c of this.children) c.kill('SIGTERM');
    await Lab.down(this.name);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waits), new Promise((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer);
  }
}
