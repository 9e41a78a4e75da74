/**
 * Every built-in function's descriptor, imported at once (the package's API, listings, tests). A proxy
 * worker does not import this module: it loads only the functions its config names (registry.ts).
 */
import type { FunctionDescriptor } from '../sdk/types.js';
import { loadBuiltins } from './registry.js';

export const BUILTIN_FUNCTIONS: readonly FunctionDescriptor[] = await loadBuiltins();
