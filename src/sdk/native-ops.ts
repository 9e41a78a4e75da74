/**
 * A transform's native description (types.ts `NativeOp`): read, attached and composed. A chain is
 * native when every part is: its ops are the parts' ops concatenated, in the order the bytes meet them.
 */
import type { DirectionTransform, NativeCapable, NativeOp } from './types.js';

/** The transform's ops, or undefined when it needs JavaScript per byte. */
export function nativeOf(t: DirectionTransform): readonly NativeOp[] | undefined {
  return (t as NativeCapable).native;
}

/** `t` with its native description (a Duplex made by composition gets the property set on it). */
export function withNative<T extends object>(t: T, ops: readonly NativeOp[] | undefined): T & NativeCapable {
  if (ops === undefined) return t;
  return Object.defineProperty(t, 'native', { value: ops, enumerable: false, writable: false, configurable: true }) as T & NativeCapable;
}

/** The ops of parts applied in order, when every part has them; else undefined. */
export function composeNative(parts: readonly DirectionTransform[]): readonly NativeOp[] | undefined {
  const out: NativeOp[] = [];
  for (const p of parts) {
    const ops = nativeOf(p);
    if (ops === undefined) return undefined;
    out.push(...ops);
  }
  return out;
}
