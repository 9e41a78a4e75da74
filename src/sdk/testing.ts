/**
 * Running a function without a network: options validated and `init` called as the proxy does, a
 * flow spawned, both directions driven through the proxy's own relay over in-memory streams.
 * Exported for function authors (`import { runFunction } from 'srv6pipes/testing'`).
 */
import { Readable, Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { isSrError } from '../core/errors.js';
import { composeTransforms } from './compose.js';
import { validateOptions } from './context.js';
import { BAD_ARGUMENT_ENDING, parseArgument, spawnPart } from './spawn.js';
import { MemoryMetrics } from './metrics-memory.js';
import { newDirectionStats, relay } from './relay.js';
import { releaseTransforms, type FlowTransforms, type FunctionDescriptor } from './types.js';

export { MemoryMetrics };

export interface RunOptions {
  /** raw options, validated by the descriptor's schema */
  options?: unknown;
  argument?: bigint | number;
  functionId?: number;
  /** what the client sends (chunks, or one buffer) */
  upstream?: Buffer | readonly Buffer[];
  /** what the server sends */
  downstream?: Buffer | readonly Buffer[];
  /** pause between input chunks (ms) */
  chunkDelayMs?: number;
  /** consume the output slowly: 16 KiB buffers and a 1 ms delay per write (back-pressure) */
  slowConsumer?: boolean;
  /** reset the flow after this many ms (error path) */
  resetAfterMs?: number;
  baseDir?: string;
  metrics?: MemoryMetrics;
  timeoutMs?: number;
  /** the function's log (default: silent) */
  log?: Logger;
}

export interface RunResult {
  upstream: Buffer;
  downstream: Buffer;
  /** the reason, when the flow was reset (by the function, an error, resetAfterMs, or `bad_argument`: the argument was rejected) */
  reset?: string;
  error?: unknown;
  /** how many times a source was paused by back-pressure before its end */
  pauses: number;
  metrics: MemoryMetrics;
}

function source(data: Buffer | readonly Buffer[] | undefined, delayMs: number): Readable {
  const chunks = data === undefined ? [] : Buffer.isBuffer(data) ? [data] : [...data];
  let i = 0;
  return new Readable({
    read() {
      const next = (): void => {
        if (i >= chunks.length) this.push(null);
        else this.push(Buffer.from(chunks[i++]!)); // a fresh copy: the relay owns what it reads
      };
      if (delayMs > 0) setTimeout(next, delayMs);
      else next();
    },
  });
}

class Sink extends Writable {
  readonly parts: Buffer[] = [];
  constructor(slow: boolean) {
    super({ highWaterMark: slow ? 16 * 1024 : 64 * 1024 });
    this.slow = slow;
  }
  private readonly slow: boolean;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.parts.push(Buffer.from(chunk));
    if (this.slow) setTimeout(cb, 1);
    else cb();
  }
}

/** Initialises a function instance as the proxy does; returns its state and a deinit. */
export async function initFunction<O, S>(d: FunctionDescriptor<O, S, any>, raw: unknown, metrics = new MemoryMetrics(), baseDir = process.cwd(), functionId = 1) {
  const options = validateOptions(d.options, raw);
  const log = pino({ level: 'silent' });
  const state = (await d.init?.(options, { functionId, log, metrics, baseDir })) as S;
  return { options, state, deinit: async () => d.deinit?.(state) };
}

export async function runFunction<O, S>(d: FunctionDescriptor<O, S, any>, o: RunOptions = {}): Promise<RunResult> {
  const metrics = o.metrics ?? new MemoryMetrics();
  const inst = await initFunction(d, o.options, metrics, o.baseDir, o.functionId ?? 1);
  try {
    return await runFlow(d, inst.options, inst.state, o, metrics);
  } finally {
    await inst.deinit();
  }
}

export interface SpawnFlowOptions {
  argument?: bigint | number;
  functionId?: number;
  client?: { address: string; port: number };
  metrics?: MemoryMetrics;
  log?: Logger;
  /** what the function's `flow.reset(reason)` calls (default: nothing) */
  reset?(reason: string): void;
}

/**
 * One flow's transforms, spawned as the proxy does (the argument parsed first: a rejected one throws
 * SrError FLOW_BAD_ARGUMENT) but not relayed: for tests that drive the transforms by hand. `abort`
 * ends the flow's signal.
 */
export function spawnFlow<O, S>(d: FunctionDescriptor<O, S, any>, options: O, state: S, o: SpawnFlowOptions = {}): { transforms: FlowTransforms; abort: AbortController } {
  const abort = new AbortController();
  const facts = { ...FACTS, functionId: o.functionId ?? 1, argument: BigInt(o.argument ?? 0), client: o.client ?? FACTS.client };
  const log = o.log ?? pino({ level: 'silent' });
  const part = { descriptor: d as FunctionDescriptor, options, state, metrics: o.metrics ?? new MemoryMetrics() };
  const arg = parseArgument(part, facts.argument, log);
  const transforms = spawnPart(part, facts, arg, { log, signal: abort.signal, reset: o.reset ?? (() => undefined) });
  return { transforms, abort };
}

/** the flow a harness flow stands for */
const FACTS = {
  flowId: 1,
  functionId: 1,
  argument: 0n,
  sid: 'fc00:a::1:0:0',
  client: { address: 'fc00:1::2', port: 40000 },
  server: { address: 'fc00:2::2', port: 80 },
  path: ['fc00:a::1:0:0', 'fc00:2::2'],
  position: 0,
};

/** One flow through an already initialised instance (several flows may share one). */
export function runFlow<O, S>(d: FunctionDescriptor<O, S, any>, options: O, state: S, o: RunOptions, metrics = new MemoryMetrics()): Promise<RunResult> {
  const abort = new AbortController();
  const up = { src: source(o.upstream, o.chunkDelayMs ?? 0), dst: new Sink(!!o.slowConsumer) };
  const down = { src: source(o.downstream, o.chunkDelayMs ?? 0), dst: new Sink(!!o.slowConsumer) };
  let pauses = 0;
  // a pause counts while the source still has data to give (a pause after its end is no back-pressure)
  for (const s of [up.src, down.src]) s.on('pause', () => !s.readableEnded && pauses++);
  return new Promise<RunResult>((resolve) => {
    let transforms: FlowTransforms | undefined;
    let settled = false;
    const finish = (reset?: string, error?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(resetTimer);
      abort.abort();
      if (transforms) error ??= releaseTransforms(transforms);
      resolve({ upstream: Buffer.concat(up.dst.parts), downstream: Buffer.concat(down.dst.parts), reset, error, pauses, metrics });
    };
    const timer = setTimeout(() => finish('harness_timeout'), o.timeoutMs ?? 30_000);
    const resetTimer = o.resetAfterMs !== undefined ? setTimeout(() => finish('reset_by_test'), o.resetAfterMs) : undefined;
    const facts = { ...FACTS, functionId: o.functionId ?? 1, argument: BigInt(o.argument ?? 0) };
    const log = o.log ?? pino({ level: 'silent' });
    const part = { descriptor: d as FunctionDescriptor, options, state, metrics };
    try {
      // as the proxy does: the argument first (rejected: nothing is spawned), then spawn
      const arg = parseArgument(part, facts.argument, log);
      transforms = spawnPart(part, facts, arg, { log, signal: abort.signal, reset: (reason) => finish(reason) });
    } catch (e) {
      finish(isSrError(e, 'FLOW_BAD_ARGUMENT') ? BAD_ARGUMENT_ENDING : 'function_error', e);
      return;
    }
    if (settled) {
      // reset from inside spawn(): release what it returned
      releaseTransforms(transforms);
      return;
    }
    const hooks = { onTransformError: (e: unknown) => finish('function_error', e), onActivity: () => undefined };
    relay(up.src, up.dst, composeTransforms([transforms.upstream]), newDirectionStats(), hooks);
    relay(down.src, down.dst, composeTransforms([transforms.downstream]), newDirectionStats(), hooks);
    let done = 0;
    for (const s of [up.dst, down.dst]) s.on('finish', () => ++done === 2 && finish());
  });
}
