/** `copy`: relays the bytestream unchanged in both directions — a transparent TCP proxy (PEP). */
import { z } from 'zod';
import { IDENTITY, type VfDescriptor } from '../../vf/types.js';

const options = z.object({}).strict();

export const copy: VfDescriptor<z.infer<typeof options>> = {
  name: 'copy',
  summary: 'relay unchanged (a transparent TCP proxy / PEP)',
  options,
  spawn: () => ({ upstream: IDENTITY, downstream: IDENTITY }),
};
