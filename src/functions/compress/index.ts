/**
 * `compress`: the client end of a compression tunnel. Upstream (client → server) is compressed,
 * downstream (server → client) decompressed; its partner `decompress` does the reverse, so the
 * segment between the two proxies carries compressed data both ways. The argument is the level.
 * Frames carry a CRC-32 of their plaintext: corrupt input resets the flow before any of the frame is
 * delivered. See README.md (wire format, flush policy, levels).
 */
import { defineFunction, type ArgumentSpec, type CounterHandle, type FlowContext, type FlowTransforms, type FunctionEnv } from '../../sdk/types.js';
import { compressOptions, levelFor, LEVELS, type CompressOptions } from './codec.js';
import { FrameDecoder, FrameEncoder } from './tunnel.js';

/** the reset reason when the compressed input is corrupt, truncated or not a tunnel stream */
export const CORRUPT_REASON = 'compress_corrupt';

/** the reasons both tunnel ends reset a flow with */
export const TUNNEL_RESETS = { [CORRUPT_REASON]: 'the compressed input is corrupt, truncated, or not a tunnel stream (checked before any of the frame is delivered)' };

/** The argument of both tunnel ends: the level this end compresses with (never rejected: clamped). */
export const LEVEL_ARGUMENT: ArgumentSpec<{ level: number; clamped: boolean }, CompressOptions> = {
  description: `the compression level this end compresses with: 0 = the algorithm's default; above its maximum, the maximum (${Object.entries(LEVELS)
    .map(([a, l]) => `${a} ${l.min}..${l.max}`)
    .join(', ')})`,
  parse: (argument, { options }) => levelFor(options.algorithm, argument),
};

export interface CompressState {
  /** bytes by side (plain, compressed) and op (compress, decompress) */
  bytes: CounterHandle;
  corrupt: CounterHandle;
}

export function initCompressState(_o: CompressOptions, env: FunctionEnv): CompressState {
  return {
    bytes: env.metrics.counter('compress_bytes_total', 'bytes through the compression tunnel, plain and compressed', ['side', 'op']),
    corrupt: env.metrics.counter('compress_corrupt_total', 'flows reset for corrupt compressed input'),
  };
}

/**
 * Both directions of a tunnel end: `encodes` is the direction that is compressed (`compress`:
 * upstream; `decompress`: downstream); the other one is decompressed.
 */
export function spawnTunnel(flow: FlowContext<CompressOptions, CompressState, { level: number; clamped: boolean }>, encodes: 'upstream' | 'downstream'): FlowTransforms {
  const { algorithm } = flow.options;
  const { level, clamped } = flow.arg;
  if (clamped) {
    const l = LEVELS[algorithm];
    flow.log.debug({ argument: flow.argument.toString(), algorithm, level }, `compress: level above ${algorithm}’s ${l.min}..${l.max}: using ${level}`);
  }
  const { bytes, corrupt } = flow.state;
  const encoder = new FrameEncoder(algorithm, level, (plain, wire) => {
    bytes.inc({ side: 'plain', op: 'compress' }, plain);
    bytes.inc({ side: 'compressed', op: 'compress' }, wire);
  });
  const decoder = new FrameDecoder(
    (e) => {
      corrupt.inc();
      flow.log.warn({ direction: encodes === 'upstream' ? 'downstream' : 'upstream', error: e.message }, 'compress: corrupt input, resetting the flow');
      flow.reset(CORRUPT_REASON);
    },
    (plain, wire) => {
      bytes.inc({ side: 'plain', op: 'decompress' }, plain);
      bytes.inc({ side: 'compressed', op: 'decompress' }, wire);
    },
  );
  return encodes === 'upstream' ? { upstream: encoder, downstream: decoder } : { upstream: decoder, downstream: encoder };
}

export const compress = defineFunction({
  name: 'compress',
  summary: 'compression tunnel, client end: compress upstream, decompress downstream',
  options: compressOptions,
  argument: LEVEL_ARGUMENT,
  resets: TUNNEL_RESETS,
  init: initCompressState,
  spawn: (flow) => spawnTunnel(flow, 'upstream'),
});
