/**
 * The virtual-function contract (no I/O here). A VF is a descriptor: a name, an options schema
 * validated once at load, and `spawn(flow)` giving one transform per direction. The relay owns every
 * chunk it hands to a transform, so a transform may modify the chunk in place and return it.
 */
import type { z } from 'zod';
import type { Logger } from 'pino';

export interface Endpoint {
  address: string;
  port: number;
}

/** What a function knows about the flow it serves. */
export interface FlowContext {
  readonly flowId: number;
  readonly functionId: number;
  /** the argument bits of this proxy's SID */
  readonly argument: bigint;
  /** this proxy's SID as it appeared in the path */
  readonly sid: string;
  readonly client: Endpoint;
  readonly server: Endpoint;
  /** the whole path in travel order (function SIDs, then the final destination) */
  readonly path: readonly string[];
  /** index of this proxy's SID in `path` */
  readonly position: number;
  readonly log: Logger;
}

/** A synchronous byte transform for one direction. */
export interface Transform {
  /** Transforms a chunk; returns what to send on (possibly the same buffer), or null to send nothing. */
  data(chunk: Buffer): Buffer | null;
  /** Called once at the end of the stream; returns a last piece to send, or null. */
  end?(): Buffer | null;
}

export interface FlowTransforms {
  /** client → server */
  upstream: Transform;
  /** server → client */
  downstream: Transform;
}

export interface VfDescriptor<O = unknown> {
  /** unique name used in configs (`vf: xor`) */
  readonly name: string;
  readonly summary: string;
  /** options schema; errors name the field */
  readonly options: z.ZodType<O>;
  /** per flow: the transforms of both directions */
  spawn(flow: FlowContext, options: O): FlowTransforms;
}

/** The identity transform, shared (it holds no state). */
export const IDENTITY: Transform = { data: (chunk) => chunk };
