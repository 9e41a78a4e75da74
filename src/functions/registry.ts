/**
 * The table of built-in functions. Names are unique (checked by a test). Each row names a function and
 * imports its module only when the function is first asked for: a proxy worker loads the functions its
 * config names, not every built-in with its dependencies (node:zlib, node:crypto, child_process…;
 * docs/performance.md, "Issue 14: memory per worker"). `requires` is the descriptor's own, repeated so
 * that config validation can check it without importing the module (a test holds the two equal).
 */
import type { FunctionRegistry } from '../sdk/loader.js';
import type { FunctionDescriptor, FunctionRequirement } from '../sdk/types.js';

export interface BuiltinEntry {
  readonly name: string;
  /** what the function needs from the host: the same as its descriptor's `requires` */
  readonly requires?: readonly FunctionRequirement[];
  /** imports the function's module (once: the module cache keeps it) */
  readonly load: () => Promise<FunctionDescriptor>;
}

export const BUILTIN_TABLE: readonly BuiltinEntry[] = [
  { name: 'copy', load: async () => (await import('./copy/index.js')).copy },
  { name: 'xor', load: async () => (await import('./xor/index.js')).xor },
  { name: 'compress', load: async () => (await import('./compress/index.js')).compress },
  { name: 'decompress', load: async () => (await import('./decompress/index.js')).decompress },
  { name: 'encrypt', load: async () => (await import('./encrypt/index.js')).encrypt },
  { name: 'decrypt', load: async () => (await import('./decrypt/index.js')).decrypt },
  { name: 'ids', load: async () => (await import('./ids/index.js')).ids },
  { name: 'exec', load: async () => (await import('./exec/index.js')).exec },
  { name: 'meter', load: async () => (await import('./meter/index.js')).meter },
  { name: 'ratelimit', load: async () => (await import('./ratelimit/index.js')).ratelimit },
  { name: 'mptcp', requires: ['mptcp-userspace'], load: async () => (await import('./mptcp/index.js')).mptcp },
];

/** The built-in names, in the table's order. */
export const BUILTIN_NAMES: readonly string[] = BUILTIN_TABLE.map((e) => e.name);

const byName = new Map(BUILTIN_TABLE.map((e) => [e.name, e]));

export function isBuiltin(name: string): boolean {
  return byName.has(name);
}

/** What a built-in declares it needs, without importing it ([] for any other name). */
export function builtinRequires(name: string): readonly FunctionRequirement[] {
  return byName.get(name)?.requires ?? [];
}

/** A built-in's descriptor (its module imported on first use), or undefined for any other name. */
export async function findBuiltin(name: string): Promise<FunctionDescriptor | undefined> {
  return byName.get(name)?.load();
}

/** Every built-in's descriptor, in the table's order (imports them all: for listings, not for a worker). */
export function loadBuiltins(): Promise<FunctionDescriptor[]> {
  return Promise.all(BUILTIN_TABLE.map((e) => e.load()));
}

/** What the loader resolves names against: the built-ins. */
export const BUILTINS: FunctionRegistry = { find: findBuiltin };
