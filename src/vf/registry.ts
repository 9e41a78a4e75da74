/** The table of built-in virtual functions. Names are unique (checked by a test). */
import { compress } from '../functions/compress/index.js';
import { copy } from '../functions/copy/index.js';
import { decompress } from '../functions/decompress/index.js';
import { decrypt } from '../functions/decrypt/index.js';
import { encrypt } from '../functions/encrypt/index.js';
import { exec } from '../functions/exec/index.js';
import { ids } from '../functions/ids/index.js';
import { meter } from '../functions/meter/index.js';
import { mptcp } from '../functions/mptcp/index.js';
import { ratelimit } from '../functions/ratelimit/index.js';
import { xor } from '../functions/xor/index.js';
import type { VfDescriptor } from './types.js';

export const BUILTIN_FUNCTIONS: readonly VfDescriptor[] = [copy, xor, compress, decompress, encrypt, decrypt, ids, exec, meter, ratelimit, mptcp];

export function findBuiltin(name: string): VfDescriptor | undefined {
  return BUILTIN_FUNCTIONS.find((d) => d.name === name);
}
