/**
 * `xor`: XOR every byte with key = the low 8 bits of the SID argument, `passes` times, in both
 * directions. Two proxies with the same key and odd passes form an inverse pair (the paper's Fig. 10).
 */
import { z } from 'zod';
import { defineFunction, type SyncTransform } from '../../sdk/types.js';
import { xorInPlace } from './xor.js';

export const xor = defineFunction({
  name: 'xor',
  summary: 'XOR each byte with the argument’s low 8 bits, `passes` times (CPU benchmark, inverse pairs)',
  options: z
    .object({ passes: z.number().int().min(0).max(1024).default(1).describe('how many times each byte is XORed') })
    .strict(),
  spawn(flow) {
    const key = Number(flow.argument & 0xffn);
    const passes = flow.options.passes;
    const t: SyncTransform = {
      data(chunk) {
        xorInPlace(chunk, key, passes);
        return chunk;
      },
    };
    return { upstream: t, downstream: t };
  },
});
