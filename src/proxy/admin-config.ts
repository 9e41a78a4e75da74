/**
 * The proxy's `admin` section: where the admin endpoint listens and what guards it.
 *
 *   admin:
 *     address: 127.0.0.1        # the TCP listener (port: off for none): health and metrics for anyone
 *     port: 7778                #   who reaches it; every other route needs the token below
 *     tokenFile: admin.token    # a bearer token (≥ 16 characters, not readable by others)
 *     readOnly: false           # true: the TCP listener serves health and metrics only, never a token
 *     socket: /run/srv6pipes/admin.sock   # a Unix socket serving every route: its file mode is the credential
 *     socketMode: "0600"
 *     hosts: []                 # Host names accepted besides loopback names and the listener's address
 *     moduleDirs: [ . ]         # ctl load: module paths only from here (default: the config file's directory)
 *     execArgv: []              # ctl load: exec argv allowed besides those in the config file
 *
 * A non-loopback address needs `tokenFile` or an explicit `readOnly: true` (ADMIN_INSECURE).
 */
import { readFileSync, statSync } from 'node:fs';
import type http from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { errnoCode, SrError } from '../core/errors.js';
import { ipv6Schema, portSchema } from '../config/schemas.js';
import type { Logger } from '../core/log.js';
import { isLoopbackHost } from '../sys/http-guard.js';
import { serveAdmin, type AdminAccess, type AdminRoute, type AdminTarget } from './admin.js';

/** a token shorter than this is refused */
export const MIN_TOKEN_LENGTH = 16;

const mode = z.union([
  z.string().regex(/^(0o?)?[0-7]{3}$/, 'a file mode such as "0600"').transform((s) => parseInt(s.replace(/^0o?/, ''), 8)),
  z.number().refine(() => false, 'write the mode as a string, e.g. "0600" (an unquoted 0600 is the decimal number 600)'),
]);

const argv = z.array(z.string().max(4096)).min(1).max(256);

export const ADMIN_SCHEMA = z
  .object({
    address: ipv6Schema.or(z.literal('127.0.0.1')).default('127.0.0.1'),
    port: z.union([portSchema, z.literal('off'), z.literal(false)]).default(7778),
    readOnly: z.boolean().default(false),
    tokenFile: z.string().min(1).optional(),
    socket: z.string().min(1).optional(),
    socketMode: mode.default(0o600),
    hosts: z.array(z.string().min(1).max(253)).max(64).default([]),
    moduleDirs: z.array(z.string().min(1)).max(64).optional(),
    execArgv: z.array(argv).max(256).default([]),
  })
  .strict();

export interface AdminConfig {
  /** the TCP listener, or null (`port: off`) */
  tcp: { address: string; port: number } | null;
  /** the TCP listener never serves a private route */
  readOnly: boolean;
  /** absolute path of the bearer token file, or null */
  tokenFile: string | null;
  /** the privileged Unix socket, or null */
  socket: { path: string; mode: number } | null;
  hosts: string[];
  /** absolute directories `ctl load` may import modules from */
  moduleDirs: string[];
  /** exec argv `ctl load` may run besides the config file's */
  execArgv: string[][];
}

type Invalid = (path: readonly PropertyKey[], message: string) => SrError;

/** Resolves a validated section against the config file's directory and checks the rules across keys. */
export function resolveAdmin(a: z.infer<typeof ADMIN_SCHEMA>, baseDir: string, invalid: Invalid, source: string): AdminConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const tcp = a.port === 'off' || a.port === false ? null : { address: a.address, port: a.port };
  const socket = a.socket === undefined ? null : { path: abs(a.socket), mode: a.socketMode };
  if (socket && Buffer.byteLength(socket.path) > 107) throw invalid(['admin', 'socket'], `${socket.path} is longer than a Unix socket path may be (107 bytes)`);
  if (socket && socket.mode & 0o007) throw invalid(['admin', 'socketMode'], `0${socket.mode.toString(8)} gives every local user the admin endpoint (and root): leave others no access, e.g. "0600" or "0660"`);
  if (!tcp && !socket) throw invalid(['admin', 'port'], 'off leaves no listener: set admin.socket, or `admin: off`');
  if (a.readOnly && a.tokenFile !== undefined) throw invalid(['admin', 'tokenFile'], 'a read-only listener takes no token: drop one of tokenFile and readOnly');
  if (!tcp && a.tokenFile !== undefined) throw invalid(['admin', 'tokenFile'], 'the token guards the TCP listener, and admin.port is off');
  if (tcp && !isLoopbackHost(tcp.address) && a.tokenFile === undefined && !a.readOnly) {
    throw new SrError('ADMIN_INSECURE', `${source}: admin.address: ${tcp.address} is not a loopback address, and admin has no tokenFile`);
  }
  return {
    tcp,
    readOnly: a.readOnly,
    tokenFile: a.tokenFile === undefined ? null : abs(a.tokenFile),
    socket,
    hosts: a.hosts,
    moduleDirs: (a.moduleDirs ?? ['.']).map(abs),
    execArgv: a.execArgv,
  };
}

/** Reads a token file: trimmed, at least MIN_TOKEN_LENGTH characters; with `strict`, not accessible to others. */
export function readToken(path: string, strict: boolean): string {
  let text: string;
  try {
    if (strict && statSync(path).mode & 0o007) {
      throw new SrError('CONFIG_INVALID', `admin.tokenFile: ${path} is accessible to every local user`, { hint: `chmod 600 ${path}` });
    }
    text = readFileSync(path, 'utf8').trim();
  } catch (e) {
    if (e instanceof SrError) throw e;
    throw new SrError('CONFIG_READ', `cannot read the admin token file ${path}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e });
  }
  if (text.length < MIN_TOKEN_LENGTH || /\s/.test(text)) {
    throw new SrError('CONFIG_INVALID', `admin.tokenFile: ${path} must hold one token of at least ${MIN_TOKEN_LENGTH} characters, no spaces`, { hint: `e.g. openssl rand -hex 32 > ${path}; chmod 600 ${path}` });
  }
  return text;
}

/** the shortest interval between two log lines about refused admin requests */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

/** Logs refused requests: every one counted, at most one line per REFUSAL_LOG_INTERVAL_MS (a scan must not flood the log). */
export function refusalLogger(log: Logger, now: () => number = Date.now): NonNullable<AdminAccess['onRefused']> {
  let total = 0;
  let last = -Infinity;
  let since = 0;
  return (r) => {
    total++;
    since++;
    if (now() - last < REFUSAL_LOG_INTERVAL_MS) return;
    log.warn({ status: r.status, code: r.code, method: r.method, path: r.path, refusedTotal: total, refusedSinceLastLine: since }, `admin request refused: ${r.message}`);
    last = now();
    since = 0;
  };
}

/** Starts the configured listeners: TCP (open routes; every route with the token) and the Unix socket (every route). */
export async function startProxyAdmin(cfg: AdminConfig, routes: AdminRoute[], log?: Logger): Promise<http.Server[]> {
  const token = cfg.tokenFile !== null ? readToken(cfg.tokenFile, true) : undefined;
  const onRefused = log ? { onRefused: refusalLogger(log) } : {};
  const servers: http.Server[] = [];
  try {
    if (cfg.tcp) servers.push(await serveAdmin(cfg.tcp, routes, { anonymous: 'open', hosts: cfg.hosts, ...onRefused, ...(token !== undefined ? { token } : {}) }));
    if (cfg.socket) servers.push(await serveAdmin({ socket: cfg.socket.path, mode: cfg.socket.mode }, routes, { anonymous: 'all', hosts: cfg.hosts, ...onRefused }));
  } catch (e) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw e;
  }
  return servers;
}

/** How a client on this host reaches the endpoint a config describes: the socket if any, else TCP (and its token file). */
export function adminClientOf(cfg: AdminConfig): { target: AdminTarget; tokenFile: string | null } {
  if (cfg.socket) return { target: { socket: cfg.socket.path }, tokenFile: null };
  const tcp = cfg.tcp!;
  const address = tcp.address === '::' ? '::1' : tcp.address === '0.0.0.0' ? '127.0.0.1' : tcp.address;
  return { target: `${address.includes(':') ? `[${address}]` : address}:${tcp.port}`, tokenFile: cfg.readOnly ? null : cfg.tokenFile };
}
