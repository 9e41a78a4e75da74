/**
 * `decompress`: the server end of a compression tunnel. Upstream (client → server) is decompressed,
 * downstream (server → client) compressed: the partner of `compress`. The argument is the level of
 * the downstream compression. See ../compress/README.md for the wire format.
 */
import { defineFunction } from '../../sdk/types.js';
import { compressOptions } from '../compress/codec.js';
import { initCompressState, LEVEL_ARGUMENT, spawnTunnel, TUNNEL_RESETS } from '../compress/index.js';

export { CORRUPT_REASON } from '../compress/index.js';

export const decompress = defineFunction({
  name: 'decompress',
  summary: 'compression tunnel, server end: decompress upstream, compress downstream',
  options: compressOptions,
  argument: LEVEL_ARGUMENT,
  resets: TUNNEL_RESETS,
  init: initCompressState,
  spawn: (flow) => spawnTunnel(flow, 'downstream'),
});
