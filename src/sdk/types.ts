/**
 * The virtual-function SDK contract (types only, no I/O).
 *
 * A function module is a descriptor: a name, an options schema validated once at load, optional
 * `init(options)` / `deinit(state)`, and per flow `spawn(flow)` giving one transform per direction.
 * A direction's transform is either
 *  - a SyncTransform: `data(chunk)` returns what to send on, synchronously — the fast path. The relay
 *    owns every chunk it hands over, so a transform may modify it in place and return it; or
 *  - a Node.js Duplex stream (e.g. `zlib.createGzip()`, a crypto stream, a child's stdio): bytes
 *    written to it are the input, bytes read from it are the output. Back-pressure is the stream's.
 * Either kind may shrink, grow, hold back or delay data, emit data at the end of the stream, or end
 * the flow with `flow.reset(reason)`. A sync transform that throws, or a Duplex that emits 'error',
 * ends its own flow only (both sides reset, logged, counted as `function_error`).
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { OnwardPath } from '../codec/srh.js';

export type { Logger };

export interface Endpoint {
  address: string;
  port: number;
}

/**
 * An options schema: anything with zod's `safeParse` (zod 3 and 4 both fit), so a third-party module
 * may bring its own zod. Errors must name the field through `issues[].path`.
 */
export interface OptionsSchema<O> {
  safeParse(input: unknown):
    | { success: true; data: O }
    | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

export type MetricLabels = Record<string, string | number>;

export interface CounterHandle {
  inc(labels?: MetricLabels, value?: number): void;
}

export interface GaugeHandle {
  set(labels: MetricLabels, value: number): void;
  inc(labels?: MetricLabels, value?: number): void;
  dec(labels?: MetricLabels, value?: number): void;
}

/**
 * Metrics a function keeps. Names are prefixed `srv6pipes_function_` and every series gets the labels
 * `fn` (function id) and `function` (function name) added; the proxy's /metrics endpoint exports them in
 * the Prometheus text format, summed over workers.
 */
export interface FunctionMetrics {
  counter(name: string, help: string, labelNames?: readonly string[]): CounterHandle;
  gauge(name: string, help: string, labelNames?: readonly string[]): GaugeHandle;
}

/** What `init` gets: the function's place in the proxy's table. */
export interface FunctionEnv {
  readonly functionId: number;
  readonly log: Logger;
  readonly metrics: FunctionMetrics;
  /** directory of the config file (to resolve relative paths in options, e.g. a keyring) */
  readonly baseDir: string;
}

/** What a function knows about the flow it serves. */
export interface FlowContext<O = unknown, S = unknown, A = bigint> {
  readonly flowId: number;
  readonly functionId: number;
  /** the argument bits of this proxy's SID */
  readonly argument: bigint;
  /**
   * The argument as the descriptor's `argument.parse` made it (a policy, a key, a rate…); a flow whose
   * argument was rejected is never spawned. Without a parser (a 0.1 descriptor): `argument` itself.
   */
  readonly arg: A;
  /** this proxy's SID as it appeared in the path */
  readonly sid: string;
  readonly client: Endpoint;
  readonly server: Endpoint;
  /** the whole path in travel order (function SIDs, then the final destination) */
  readonly path: readonly string[];
  /** index of this proxy's SID in `path` */
  readonly position: number;
  /** the validated options */
  readonly options: O;
  /** what `init` returned */
  readonly state: S;
  readonly log: Logger;
  readonly metrics: FunctionMetrics;
  /** aborted when the flow ends, whatever the reason (stop timers, kill child processes) */
  readonly signal: AbortSignal;
  /**
   * Ends the flow now: both sides are reset; bytes not yet delivered are dropped. `reason` is one of the
   * descriptor's `resets` (another one still resets, and is logged as a bug in the function).
   */
  reset(reason: string): void;
}

/**
 * What a transform does per byte, in terms the proxy's native relay thread runs without JavaScript
 * (config `nativeRelay`): ops applied in order to its direction's bytes. `xor`: each byte XORed with
 * `key` (0..255), `passes` times; `ratelimit`: at most `rate` bytes/s with a bucket of `burst` bytes,
 * by back-pressure; `count`: `count(bytes)` is called with the bytes that passed since the last call
 * (at most every `nativeRelay.reportMs`, and at the end), from the relay's reports. A flow whose two
 * transforms both say (`[]` is the identity) and that has no carrier is carried natively — their
 * `data`/stream code then never runs; any other flow keeps the JavaScript relay. See sdk/native-ops.ts.
 */
export type NativeOp =
  | { readonly op: 'xor'; readonly key: number; readonly passes: number }
  | { readonly op: 'ratelimit'; readonly rate: number; readonly burst: number }
  | { readonly op: 'count'; count(bytes: number): void };

/** A transform that may say what it does in native terms (absent: JavaScript only). */
export interface NativeCapable {
  readonly native?: readonly NativeOp[];
}

/** A synchronous byte transform for one direction: the fast path. */
export interface SyncTransform extends NativeCapable {
  /** Transforms a chunk; returns what to send on (possibly the same buffer), or null to send nothing yet. */
  data(chunk: Buffer): Buffer | null;
  /** Called once at the end of the stream; returns a last piece to send, or null. */
  end?(): Buffer | null;
}

export type DirectionTransform = SyncTransform | (Duplex & NativeCapable);

/**
 * How a function carries the outbound side itself, instead of the default (transparent TCP from the
 * client's address to the final destination with the remaining SRH): e.g. the `mptcp` converter opens
 * one MPTCP connection from this proxy's own address to the next converter. The proxy calls `open()`
 * when it is ready to connect, connects the socket, writes the preamble, calls `connected()`, then
 * relays as on any other hop (nothing is opened for a flow reset before that).
 */
export interface OutboundCarrier {
  /**
   * The unconnected socket (allowHalfOpen: true) and where to connect it; may throw to refuse the flow.
   * `onward`: the path the default outbound socket would have taken (the remaining segments, the
   * return-path TLV…), as segments: `onwardSrh(onward)` (codec/srh.ts) gives its SRH bytes.
   */
  open(onward: OnwardPath): { socket: net.Socket; connect: { host: string; port: number; localAddress?: string }; preamble?: Buffer };
  /** called once, when the connection is up, before relaying starts */
  connected?(socket: net.Socket): void;
}

export interface FlowTransforms {
  /** client → server */
  upstream: DirectionTransform;
  /** server → client */
  downstream: DirectionTransform;
  /** called once when the flow is over, whatever the reason (free per-flow resources) */
  close?(): void;
  /** optional: the function carries the outbound side itself (at most one part of a chain may) */
  carrier?: OutboundCarrier;
}

/** What `argument.parse` gets besides the bits: the instance the flow goes to, and how to refuse. */
export interface ArgumentContext<O = unknown, S = unknown> {
  readonly options: O;
  readonly state: S;
  /** Refuses the argument: the flow is reset (FLOW_BAD_ARGUMENT) before anything is spawned or connected. */
  reject(why: string): never;
}

/** What the argument bits of the function's SIDs mean, and their parser. */
export interface ArgumentSpec<A = unknown, O = any, S = any> {
  /** one line for `srv6pipes functions`: what the bits mean, which values are valid */
  readonly description: string;
  /**
   * The bits → the typed value the function works with (`flow.arg`): once per flow, before `spawn`.
   * `ctx.reject(why)` refuses an argument that means nothing here; anything else it throws is a bug in
   * the function (the flow ends as `function_error`).
   */
  parse(argument: bigint, ctx: ArgumentContext<O, S>): A;
}

/**
 * Host features a function may need (`requires`), by name, with what provides them. The proxy checks
 * them against its own config before it loads the function (a config entry, `ctl load`, a reload).
 */
export const REQUIREMENTS = {
  'mptcp-userspace': 'Multipath TCP with the userspace path manager, for per-connection subflows (proxy config: `mptcp: { pathManager: userspace }`)',
} as const satisfies Record<string, string>;

export type FunctionRequirement = keyof typeof REQUIREMENTS;

/**
 * A function: one row of the function table. Everything the proxy, the CLI (`srv6pipes functions`)
 * and the docs say about a function comes from here.
 */
export interface FunctionDescriptor<O = any, S = any, A = any> {
  /** unique name used in configs (`function: xor`); lowercase, digits, dashes */
  readonly name: string;
  readonly summary: string;
  /** options schema; validated once at load; errors name the field */
  readonly options: OptionsSchema<O>;
  /**
   * What the SID's argument bits mean: a description and a parser, run per flow before `spawn`; a
   * rejected argument resets the flow (FLOW_BAD_ARGUMENT) before anything is spawned or connected.
   * Optional for 0.1 modules: without it, `flow.arg` is the raw bigint.
   */
  readonly argument?: ArgumentSpec<A, O, S>;
  /**
   * The reasons `flow.reset(reason)` may give (`[a-z][a-z0-9_]*` → what it means). A reset with a
   * reason not listed here still resets the flow and is logged as a bug (error level). A descriptor
   * without `resets` (0.1) is not checked.
   */
  readonly resets?: Readonly<Record<string, string>>;
  /** host features the function needs (see REQUIREMENTS); a proxy whose config lacks one refuses to load it */
  readonly requires?: readonly FunctionRequirement[];
  /** once per loaded instance (per config entry and worker), before its first flow */
  init?(options: O, env: FunctionEnv): S | Promise<S>;
  /** once per loaded instance, after its last flow (on unload, reload or stop) */
  deinit?(state: S): void | Promise<void>;
  /** per flow: the transforms of both directions */
  spawn(flow: FlowContext<O, S, A>): FlowTransforms;
}

/** @deprecated the old name of FunctionDescriptor (kept for modules written against 0.1) */
export type VfDescriptor<O = any, S = any> = FunctionDescriptor<O, S>;

/** Identity helper that gives a descriptor literal its types (O from the schema, S from init, A from argument.parse). */
export function defineFunction<O, S = undefined, A = bigint>(d: FunctionDescriptor<O, S, A>): FunctionDescriptor<O, S, A> {
  return d;
}

/** The identity transform, shared (it holds no state). */
export const IDENTITY: SyncTransform = { data: (chunk) => chunk, native: [] };

export function isSyncTransform(t: DirectionTransform): t is SyncTransform {
  return typeof (t as SyncTransform).data === 'function' && typeof (t as Duplex).pipe !== 'function';
}

/**
 * Ends a flow's use of its transforms: stream transforms are destroyed, then `close()` runs.
 * Returns what `close()` threw, if anything (the caller logs or reports it).
 */
export function releaseTransforms(t: FlowTransforms): unknown {
  for (const dir of [t.upstream, t.downstream]) if (!isSyncTransform(dir)) dir.destroy();
  try {
    t.close?.();
  } catch (e) {
    return e;
  }
  return undefined;
}
