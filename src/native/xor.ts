/**
 * The addon's XOR kernel (native/relay-ops.c: a byte loop compiled -O3, with an AVX2 clone where the
 * CPU has one), the same one the native relay thread runs; undefined when the addon is not built
 * (srv6pipes/testing works without it).
 */
import { native } from './addon.js';

export type XorKernel = (buf: Uint8Array, key: number, passes: number) => void;

let kernel: XorKernel | null | undefined;

export function nativeXor(): XorKernel | undefined {
  if (kernel === undefined) {
    try {
      const f = (native() as unknown as { xorInPlace?: XorKernel }).xorInPlace;
      kernel = typeof f === 'function' ? f : null;
    } catch {
      kernel = null; // NATIVE_MISSING: the JavaScript loop serves
    }
  }
  return kernel ?? undefined;
}
