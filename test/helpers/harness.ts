/**
 * End-to-end test harness: labs with unique names, proxies and traffic peers started inside lab
 * namespaces, JSON lines read from their stdout. Every lab is taken down in `finally`.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, loadTopology } from '../../src/lab/index.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'srv6pipes');
export const PEER = join(ROOT, 'dist', 'test', 'helpers', 'peer.js');

/** The unprivileged user the tests run the CLI as (nobody). */
export const NOBODY = 65534;
let nobodyBin: string | undefined;

/**
 * The CLI as `nobody` can run it: BIN itself, or — when the checkout is not readable by other users
 * (a clone under a 0700 directory such as `mktemp -d`) — a world-readable copy of what the CLI needs
 * (bin, dist, node_modules, the addon, package.json), made once per test process.
 */
export function binForNobody(): string {
  if (nobodyBin) return nobodyBin;
  const readable = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'test', '-r', BIN]).status === 0;
  if (readable) return (nobodyBin = BIN);
  const copy = mkdtempSync(join(tmpdir(), 'srv6pipes-nobody-'));
  chmodSync(copy, 0o755);
  process.once('exit', () => rmSync(copy, { recursive: true, force: true }));
  for (const part of ['bin', 'dist', 'node_modules', 'package.json', join('build', 'Release')]) {
    if (existsSync(join(ROOT, part))) cpSync(join(ROOT, part), join(copy, part), { recursive: true, verbatimSymlinks: true });
  }
  return (nobodyBin = join(copy, 'bin', 'srv6pipes'));
}

let counter = 0;
/** A lab name unique to this process and call. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}${process.pid.toString(36)}${(counter++).toString(36)}`.slice(0, 16);
}

export async function withLab<T>(topology: string, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.up(loadTopology(topology), { name: uniqueName() });
  try {
    return await fn(lab);
  } finally {
    await lab.down();
  }
}

import { JsonLines } from '../../src/sys/json-lines.js';
export { JsonLines };

export interface ProxyHandle {
  child: ChildProcess;
  out: JsonLines;
  configPath: string;
  /** SIGTERM; resolves with the exit code */
  stop(): Promise<number | null>;
}

export function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-test-'));
  const path = join(dir, 'proxy.yaml');
  writeFileSync(path, text);
  return path;
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * Starts `srv6pipes proxy` in a lab host and waits for 'proxy started'. A config without an `admin`
 * section gets a privileged admin socket beside it: the CLI reaches every route with
 * `--config handle.configPath` (adminArgs).
 */
export async function startProxy(lab: Lab, host: string, config: string): Promise<ProxyHandle> {
  const configPath = writeConfig(config);
  if (!/^admin:/m.test(config)) appendFileSync(configPath, `\nadmin: { socket: ${join(dirname(configPath), 'admin.sock')} }\n`);
  // SRV6PIPES_TEST_INTERCEPT=sklookup runs the e2e tests with the sk_lookup interception mode
  const intercept = process.env['SRV6PIPES_TEST_INTERCEPT'];
  if (intercept && !/^netconf:/m.test(config)) appendFileSync(configPath, `\nnetconf: { intercept: ${intercept} }\n`);
  // SRV6PIPES_TEST_RELAY=js runs them with every flow on the JavaScript relay (nativeRelay: off; the
  // default is the native relay thread for the flows it can carry); scripts/run-tests.mjs runs both
  if (process.env['SRV6PIPES_TEST_RELAY'] === 'js' && !/^nativeRelay:/m.test(config)) appendFileSync(configPath, '\nnativeRelay: off\n');
  const child = lab.spawn(host, [process.execPath, BIN, 'proxy', '--config', configPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new JsonLines(child);
  const started = out.next((l) => l['msg'] === 'proxy started', 15000, `proxy start on ${host}`);
  const died = exited(child).then((code) => {
    throw new Error(`proxy on ${host} exited with ${code} during start:\n${out.text.join('\n')}`);
  });
  await Promise.race([started, died]);
  died.catch(() => undefined);
  return {
    child,
    out,
    configPath,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited(child);
    },
  };
}

/** The CLI options that reach a started proxy's admin endpoint with its credential (`flows`, `ctl`, …). */
export function adminArgs(proxy: ProxyHandle): string[] {
  return ['--config', proxy.configPath];
}

/** A proxy config for one locator; `functions` as YAML flow items. */
export function proxyYaml(locator: string, functions: string[], timeouts = '{ connect: 2s, drain: 3s }'): string {
  return [
    'workers: 2',
    `locators: [ { prefix: "${locator}" } ]`,
    'functions:',
    ...functions.map((f) => `  - ${f}`),
    `timeouts: ${timeouts}`,
  ].join('\n');
}

export interface PeerServer {
  child: ChildProcess;
  out: JsonLines;
  stop(): void;
}

export async function startServer(lab: Lab, host: string, args: string[]): Promise<PeerServer> {
  const child = lab.spawn(host, [process.execPath, PEER, 'serve', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new JsonLines(child);
  await out.next((l) => l['event'] === 'listening', 10000, `peer server on ${host}`);
  return { child, out, stop: () => void child.kill('SIGTERM') };
}

export interface ClientResult {
  event: 'done';
  sent?: number;
  sha256Sent?: string;
  received?: number;
  sha256Received?: string;
  error?: string;
  ms: number;
}

export async function runClient(lab: Lab, host: string, args: string[], timeoutMs = 120000): Promise<ClientResult> {
  const r = await lab.exec(host, [process.execPath, PEER, 'client', ...args], { timeoutMs });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ClientResult;
  } catch {
    throw new Error(`peer client gave no result (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

export interface DaemonHandle {
  child: ChildProcess;
  out: JsonLines;
  /** SIGTERM; resolves with the exit code */
  stop(): Promise<number | null>;
}

/** Starts `srv6pipes ARGS...` in a lab host and waits for the JSON log line whose msg is `ready`. */
export async function startDaemon(lab: Lab, host: string, args: string[], ready: string): Promise<DaemonHandle> {
  const child = lab.spawn(host, [process.execPath, BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new JsonLines(child);
  const died = exited(child).then((code) => {
    throw new Error(`srv6pipes ${args[0]} on ${host} exited with ${code} during start:\n${out.text.join('\n')}`);
  });
  await Promise.race([out.next((l) => l['msg'] === ready, 15000, `${args[0]} start on ${host}`), died]);
  died.catch(() => undefined);
  return {
    child,
    out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited(child);
    },
  };
}
