/**
 * Running a function without a network: options validated and `init` called as the proxy does, a
 * flow spawned, both directions driven by the proxy's own Flow and relay over in-memory streams.
 * Exported for function authors (`import { runFunction } from 'srv6pipes/testing'`).
 */
import { pino, type Logger } from 'pino';
import { validateOptions } from './context.js';
import { Flow } from './flow.js';
import { MemoryEnd } from './memory-stream.js';
import { parseArgument, spawnPart } from './spawn.js';
import { MemoryMetrics } from './metrics-memory.js';
import type { FlowTransforms, FunctionDescriptor } from './types.js';

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
  const arg = parseArgument(part, facts.argument, { log });
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

const chunksOf = (data: Buffer | readonly Buffer[] | undefined): Buffer[] => (data === undefined ? [] : Buffer.isBuffer(data) ? [data] : [...data]);

/**
 * One flow through an already initialised instance (several flows may share one): the proxy's own
 * `Flow` (sdk/flow.ts), with in-memory streams for the client and the server (a function's own
 * carrier is not opened: the server side is always the in-memory one).
 */
export function runFlow<O, S>(d: FunctionDescriptor<O, S, any>, options: O, state: S, o: RunOptions, metrics = new MemoryMetrics()): Promise<RunResult> {
  const mem = { delayMs: o.chunkDelayMs ?? 0, slow: !!o.slowConsumer };
  // the client sends `upstream` and receives what the server side sends through the function; the server the other way
  const client = new MemoryEnd({ ...mem, chunks: chunksOf(o.upstream) });
  const server = new MemoryEnd({ ...mem, chunks: chunksOf(o.downstream) });
  let pauses = 0;
  // a pause counts while the source still has data to give (a pause after its end is no back-pressure)
  for (const s of [client, server]) s.on('pause', () => !s.readableEnded && pauses++);
  const facts = { ...FACTS, functionId: o.functionId ?? 1, argument: BigInt(o.argument ?? 0) };
  const log = o.log ?? pino({ level: 'silent' });
  return new Promise<RunResult>((resolve) => {
    const flow = new Flow(client, {
      log,
      facts,
      connectTimeoutMs: 0,
      now: Date.now,
      // as the proxy does: the argument first (rejected: nothing is spawned, the flow ends bad_argument), then spawn
      spawn: (deps) => {
        const part = { descriptor: d as FunctionDescriptor, options, state, metrics };
        return spawnPart(part, facts, parseArgument(part, facts.argument, { log }), deps);
      },
      outbound: () => ({ stream: server, connect: () => process.nextTick(() => server.emit('connect')) }),
      onClosed: (f) => {
        clearTimeout(timer);
        clearTimeout(resetTimer);
        const end = f.end!;
        resolve({
          upstream: server.output,
          downstream: client.output,
          reset: end.kind === 'ok' ? undefined : end.kind === 'function_reset' ? end.reason : end.kind,
          error: ('error' in end ? end.error : undefined) ?? f.closeError,
          pauses,
          metrics,
        });
      },
    });
    const timer = setTimeout(() => flow.fail({ kind: 'harness_timeout' }), o.timeoutMs ?? 30_000);
    const resetTimer = o.resetAfterMs !== undefined ? setTimeout(() => flow.fail({ kind: 'reset_by_test' }), o.resetAfterMs) : undefined;
    flow.start();
  });
}
