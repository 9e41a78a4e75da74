/** The table of built-in virtual functions. Names are unique (checked by a test). */
import { copy } from '../functions/copy/index.js';
import { xor } from '../functions/xor/index.js';
import type { VfDescriptor } from './types.js';

export const BUILTIN_FUNCTIONS: readonly VfDescriptor<any>[] = [copy, xor];

export function findBuiltin(name: string): VfDescriptor<any> | undefined {
  return BUILTIN_FUNCTIONS.find((d) => d.name === name);
}
