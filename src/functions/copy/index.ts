/** `copy`: relays the bytestream unchanged in both directions — a transparent TCP proxy (PEP). */
import { z } from 'zod';
import { defineFunction, IDENTITY } from '../../sdk/types.js';

export const copy = defineFunction({
  name: 'copy',
  summary: 'relay unchanged (a transparent TCP proxy / PEP)',
  options: z.object({}).strict(),
  argument: { description: 'unused (any value)', parse: () => undefined },
  resets: {},
  spawn: () => ({ upstream: IDENTITY, downstream: IDENTITY }),
});
