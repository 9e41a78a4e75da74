/**
 * `xor`: XOR every byte with key = the low 8 bits of the SID argument, `passes` times, in both
 * directions. Two proxies with the same key and odd passes form an inverse pair (the paper's Fig. 10).
 * Native: the flow may run in the native relay thread (`{ op: 'xor' }`), else the kernel in xor.ts.
 */
import { z } from 'zod';
import { defineFunction, type SyncTransform } from '../../sdk/types.js';
import { xorInPlace } from './xor.js';

export const xor = defineFunction({
  name: 'xor',
  summary: 'XOR each byte with a key, `passes` times (CPU benchmark, inverse pairs)',
  options: z
    .object({ passes: z.number().int().min(0).max(1024).default(1).describe('how many times each byte is XORed') })
    .strict(),
  argument: { description: 'the key: its low 8 bits (higher bits are ignored)', parse: (argument) => Number(argument & 0xffn) },
  resets: {},
  spawn(flow) {
    const key = flow.arg;
    const passes = flow.options.passes;
    const t: SyncTransform = {
      data(chunk) {
        xorInPlace(chunk, key, passes);
        return chunk;
      },
      // the same work in the native relay thread (config nativeRelay): no JavaScript per byte
      native: [{ op: 'xor', key, passes }],
    };
    return { upstream: t, downstream: t };
  },
});
