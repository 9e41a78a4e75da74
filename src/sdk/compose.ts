/**
 * Composition of transforms: a chain entry (`{ id, chain: [...] }`) applies its functions in order
 * upstream and in reverse order downstream. Sync transforms compose into one sync transform (the fast
 * path survives); as soon as one part is a stream, the parts become one Duplex (`stream.compose`).
 */
import * as stream from 'node:stream';
import { Transform, type Duplex } from 'node:stream';
import { composeNative, withNative } from './native-ops.js';
import { isSyncTransform, releaseTransforms, type DirectionTransform, type FlowTransforms, type SyncTransform } from './types.js';

export function composeTransforms(parts: readonly DirectionTransform[]): DirectionTransform {
  if (parts.length === 1) return parts[0]!;
  // native when every part is: the ops in the order the bytes meet them (native-ops.ts)
  const native = composeNative(parts);
  if (parts.every(isSyncTransform)) return withNative(composeSync(parts as SyncTransform[]), native);
  return withNative(compose(...parts.map((p) => (isSyncTransform(p) ? syncAsStream(p) : p))), native);
}

// stream.compose exists since Node 16.9; @types/node 20 does not declare it
const compose = (stream as unknown as { compose(...streams: Duplex[]): Duplex }).compose;

function concat(a: Buffer | null, b: Buffer | null): Buffer | null {
  if (!a || a.length === 0) return b;
  if (!b || b.length === 0) return a;
  return Buffer.concat([a, b]);
}

function composeSync(parts: SyncTransform[]): SyncTransform {
  return {
    data(chunk) {
      let c: Buffer | null = chunk;
      for (let i = 0; i < parts.length && c; i++) c = parts[i]!.data(c);
      return c;
    },
    end() {
      // each part's tail goes through the parts after it, then those parts end in turn
      let carry: Buffer | null = null;
      for (const p of parts) {
        const through = carry && carry.length > 0 ? p.data(carry) : null;
        carry = concat(through, p.end?.() ?? null);
      }
      return carry;
    },
  };
}

/** A sync transform as a stream.Transform (for chains that mix in streams). */
export function syncAsStream(t: SyncTransform): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        const out = t.data(chunk);
        if (out && out.length > 0) this.push(out);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb) {
      try {
        const out = t.end?.() ?? null;
        if (out && out.length > 0) this.push(out);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}

/**
 * Asymmetric processing: `forward`'s upstream transform for the client → server bytes, and
 * `backward`'s upstream transform for the server → client bytes (the function named by the return
 * path processes the bytes travelling along it). The unused directions are released with the rest.
 */
export function asymmetricTransforms(forward: FlowTransforms, backward: FlowTransforms): FlowTransforms {
  return {
    // the forward function decides how the outbound side is carried (the return path's cannot)
    ...(forward.carrier ? { carrier: forward.carrier } : {}),
    upstream: forward.upstream,
    downstream: backward.upstream,
    close: () => {
      const errors = [releaseTransforms(forward), releaseTransforms(backward)].filter((e) => e !== undefined);
      if (errors.length > 0) throw errors[0];
    },
  };
}
