/**
 * The access log (config `accessLog`, off by default): one JSON line per flow, written when the flow
 * ends — who (client), where to (server: the final destination), through what (the function, its
 * argument, the SRH path), how much (bytes each way), how long, how it ended, and which relay carried
 * it. docs/metrics.md describes the line.
 *
 * The writes never block the event loop: a SonicBoom (pino.destination) in asynchronous mode appends
 * whole lines (several workers may share one file: O_APPEND). What the disk cannot take yet waits in
 * memory up to `maxBuffer` bytes; beyond that lines are dropped and counted
 * (`srv6pipes_access_log_dropped_total`), never queued without bound. `reopen()` (the primary's SIGHUP,
 * forwarded to every worker) reopens the file by its path, for logrotate.
 */
import { isAbsolute, resolve } from 'node:path';
import { pino } from 'pino';
import { z } from 'zod';
import { flowEndFields, type FlowEnd, type FlowEndBy } from '../sdk/flow-end.js';

/** The `accessLog` section: exactly one of `path` (a file, appended to) and `stdout: true`. */
export const ACCESS_LOG_SCHEMA = z
  .object({
    /** the file (created if absent, appended to; a relative path starts at the config file's directory) */
    path: z.string().min(1).optional(),
    /** the lines go to standard output (a journal) instead */
    stdout: z.literal(true).optional(),
    /** bytes of lines the disk has not taken yet, kept in memory per worker; beyond that lines are dropped (counted) */
    maxBuffer: z
      .number()
      .int()
      .min(64 * 1024)
      .max(1 << 30)
      .default(16 << 20),
  })
  .strict()
  .refine((a) => (a.path === undefined) !== (a.stdout === undefined), { message: 'give either `path` (a file) or `stdout: true`' });

export type RawAccessLog = z.infer<typeof ACCESS_LOG_SCHEMA>;

/** The resolved section: where the lines go. */
export type AccessLogConfig = { to: 'stdout'; maxBuffer: number } | { to: 'file'; path: string; maxBuffer: number };

export function resolveAccessLog(a: RawAccessLog, baseDir: string): AccessLogConfig {
  if (a.path !== undefined) return { to: 'file', path: isAbsolute(a.path) ? a.path : resolve(baseDir, a.path), maxBuffer: a.maxBuffer };
  return { to: 'stdout', maxBuffer: a.maxBuffer };
}

/** One access-log line (the JSON object; keys in this order). */
export interface AccessLine {
  /** when the flow ended, ISO 8601 UTC */
  time: string;
  /** `[address]:port` */
  client: string;
  /** the final destination, `[address]:port` */
  server: string;
  /** the function's id and name, and the SID's argument */
  fn: number;
  function: string;
  argument: string;
  /** the return path's function for the downstream bytes, when not the flow's own */
  downstreamFn?: number;
  /** the SRH's segments, travel order (this proxy's SID at `position`; the server last) */
  path: string[];
  position: number;
  /** the binding SID the path came through, when it did */
  bsid?: string;
  /** bytes sent on, client → server and server → client */
  up: number;
  down: number;
  /** from the flow's start (the SYN accepted and placed) to both sides closed */
  durationMs: number;
  /** from the flow's start to the server side up (absent: it never came up) */
  connectMs?: number;
  /** how it ended (sdk/flow-end.ts: ok, client_reset, connect_failed, …, or a function's reason) */
  end: string;
  by: FlowEndBy;
  /** the error code the ending corresponds to, when it has one */
  code?: string;
  relay: 'js' | 'native';
  worker: number;
  flow: number;
}

/** What a line is made from: a flow that ended (src/proxy/flow.ts ProxyFlow, as flow-metrics.ts reads it). */
export interface EndedFlow {
  id: number;
  client: { address: string; port: number };
  server: { address: string; port: number };
  functionId: number;
  function: string;
  argument: string;
  downstreamFn?: number;
  path: readonly string[];
  position: number;
  bsid?: string;
  up: number;
  down: number;
  durationMs: number;
  connectMs?: number;
  end: FlowEnd;
  relay: 'js' | 'native';
}

const endpoint = (e: { address: string; port: number }): string => `[${e.address}]:${e.port}`;
const round = (ms: number): number => Math.round(ms * 1000) / 1000;

export function accessLine(f: EndedFlow, worker: number, now = Date.now()): AccessLine {
  const end = flowEndFields(f.end);
  return {
    time: new Date(now).toISOString(),
    client: endpoint(f.client),
    server: endpoint(f.server),
    fn: f.functionId,
    function: f.function,
    argument: f.argument,
    ...(f.downstreamFn !== undefined ? { downstreamFn: f.downstreamFn } : {}),
    path: [...f.path],
    position: f.position,
    ...(f.bsid !== undefined ? { bsid: f.bsid } : {}),
    up: f.up,
    down: f.down,
    durationMs: round(f.durationMs),
    ...(f.connectMs !== undefined ? { connectMs: round(f.connectMs) } : {}),
    end: end.reason,
    by: end.by,
    ...(end.code ? { code: end.code } : {}),
    relay: f.relay,
    worker,
    flow: f.id,
  };
}

/** The writer: lines appended asynchronously; `dropped` counts the lines the buffer could not take. */
export class AccessLog {
  private readonly dest: ReturnType<typeof pino.destination>;
  /** lines dropped because `maxBuffer` bytes were waiting already */
  dropped = 0;
  onDrop: ((lines: number) => void) | undefined;

  constructor(
    readonly cfg: AccessLogConfig,
    private readonly worker = 0,
  ) {
    this.dest = pino.destination({
      dest: cfg.to === 'file' ? cfg.path : 1,
      sync: false,
      append: true,
      mkdir: cfg.to === 'file',
      maxLength: cfg.maxBuffer,
    });
    this.dest.on('drop', (data: string) => {
      let n = 0;
      for (let i = data.indexOf('\n'); i >= 0; i = data.indexOf('\n', i + 1)) n++;
      this.dropped += n;
      this.onDrop?.(n);
    });
    // a write error (disk full, the file's directory gone) must not end the worker: logged by the owner
    this.dest.on('error', (e: Error) => this.onError?.(e));
  }

  onError: ((e: Error) => void) | undefined;

  write(f: EndedFlow, now = Date.now()): void {
    this.dest.write(`${JSON.stringify(accessLine(f, this.worker, now))}\n`);
  }

  /** Reopens the file by its path (after logrotate moved it); nothing to do for stdout. */
  reopen(): void {
    if (this.cfg.to !== 'file') return;
    // the reopen happens once a write in flight is done: SonicBoom gives it up if end() comes first
    // (its lines would stay buffered and the close never come), so close() waits for it
    const reopened = new Promise<void>((resolve) => {
      this.dest.once('ready', resolve);
      this.dest.once('error', resolve);
    });
    this.reopening = reopened.then(() => {
      if (this.reopening === reopened) this.reopening = undefined;
    });
    this.dest.reopen();
  }

  /** a reopen under way (reopen()) */
  private reopening: Promise<void> | undefined;

  /** Writes out what is buffered, then closes (stdout is flushed, not closed). */
  async close(): Promise<void> {
    await this.reopening;
    return new Promise<void>((done) => {
      if (this.cfg.to === 'stdout') {
        this.dest.flush((_e?: Error) => done());
        return;
      }
      this.dest.once('close', () => done());
      this.dest.once('error', () => done());
      this.dest.end();
    });
  }
}
