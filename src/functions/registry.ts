/** The table of built-in functions. Names are unique (checked by a test). */
import type { FunctionRegistry } from '../sdk/loader.js';
import type { FunctionDescriptor } from '../sdk/types.js';
import { compress } from './compress/index.js';
import { copy } from './copy/index.js';
import { decompress } from './decompress/index.js';
import { decrypt } from './decrypt/index.js';
import { encrypt } from './encrypt/index.js';
import { exec } from './exec/index.js';
import { ids } from './ids/index.js';
import { meter } from './meter/index.js';
import { mptcp } from './mptcp/index.js';
import { ratelimit } from './ratelimit/index.js';
import { xor } from './xor/index.js';

export const BUILTIN_FUNCTIONS: readonly FunctionDescriptor[] = [copy, xor, compress, decompress, encrypt, decrypt, ids, exec, meter, ratelimit, mptcp];

export function findBuiltin(name: string): FunctionDescriptor | undefined {
  return BUILTIN_FUNCTIONS.find((d) => d.name === name);
}

/** What the loader resolves names against: the built-ins. */
export const BUILTINS: FunctionRegistry = { find: findBuiltin, all: () => BUILTIN_FUNCTIONS };
