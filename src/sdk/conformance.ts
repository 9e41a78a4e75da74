/**
 * The conformance suite every function must pass. It registers node:test tests, so a function author
 * runs it from a test file:
 *
 *   import { conformance } from 'srv6pipes/testing';
 *   conformance(myFunction, [{ options: { ... }, argument: 5 }]);
 *
 * Checks, per case: the descriptor's shape; 1-byte and 1 MiB chunks give the same result; an empty
 * stream completes; one direction ending does not end the other (half-close); a slow consumer pauses
 * the source (back-pressure) and still gets everything; a flow reset in the middle ends cleanly
 * (close() runs, nothing throws). With `inverse` (the other end of a tunnel: compress/decompress,
 * encrypt/decrypt) results are compared after the inverse, in both directions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkDescriptor } from './context.js';
import { initFunction, runFlow, type RunOptions } from './testing.js';
import type { FunctionDescriptor } from './types.js';

export interface ConformanceCase {
  /** shown in test names */
  name?: string;
  options?: unknown;
  argument?: bigint | number;
  /** the other end of a tunnel; results are compared after it */
  inverse?: { descriptor: FunctionDescriptor; options?: unknown; argument?: bigint | number };
  /**
   * With `inverse`: which end of the tunnel the function is. 'client' (default): it takes plaintext
   * upstream (compress, encrypt); 'server': it takes plaintext downstream (decompress, decrypt).
   */
  end?: 'client' | 'server';
  /** the function passes bytes unchanged (copy, meter, an IDS with no match) */
  identity?: boolean;
  /** skip the "source was paused" assertion (a function that legitimately shrinks its output a lot) */
  noBackPressureCheck?: boolean;
  baseDir?: string;
}

/** Deterministic test data: text-like and random-like runs, so compressors see both. */
export function sampleData(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  const text = Buffer.from('srv6pipes conformance: the quick brown fox jumps over the lazy dog. ');
  for (let i = 0; i < size; ) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const run = 512 + ((x >>> 0) % 2048);
    const textual = (x & 1) === 0;
    for (let j = 0; j < run && i < size; j++, i++) {
      if (textual) b[i] = text[(i + j) % text.length]!;
      else {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        b[i] = x & 0xff;
      }
    }
  }
  return b;
}

export function chunksOf(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

interface Instance {
  run(o: RunOptions): ReturnType<typeof runFlow>;
  close(): Promise<void>;
}

async function instance(d: FunctionDescriptor, options: unknown, argument: bigint | number | undefined, baseDir?: string): Promise<Instance> {
  const inst = await initFunction(d, options, undefined, baseDir);
  return {
    run: (o) => runFlow(d, inst.options, inst.state, { argument, ...o }),
    close: inst.deinit,
  };
}

/**
 * Runs input through the function (and its inverse when given) in both directions:
 * client → f → inverse → server, and server → inverse → f → client (a tunnel).
 */
async function through(c: ConformanceCase, f: Instance, inv: Instance | undefined, o: RunOptions & { upChunks: Buffer[]; downChunks: Buffer[] }) {
  if (!inv) {
    const r = await f.run({ ...o, upstream: o.upChunks, downstream: o.downChunks });
    return { up: r.upstream, down: r.downstream, reset: r.reset, error: r.error, pauses: r.pauses };
  }
  // the two ends are separate flows here: the client end's output feeds the server end, and back
  const [clientEnd, serverEnd] = c.end === 'server' ? [inv, f] : [f, inv];
  const first = await clientEnd.run({ ...o, upstream: o.upChunks, downstream: [] });
  const second = await serverEnd.run({ ...o, upstream: [first.upstream], downstream: o.downChunks });
  const third = await clientEnd.run({ ...o, upstream: [], downstream: [second.downstream] });
  const reset = first.reset ?? second.reset ?? third.reset;
  return { up: second.upstream, down: third.downstream, reset, error: first.error ?? second.error ?? third.error, pauses: first.pauses + second.pauses };
}

export function conformance(d: FunctionDescriptor, cases: ConformanceCase[] = [{}]): void {
  describe(`conformance: ${d.name}`, () => {
    test('the descriptor has the SDK shape', () => {
      checkDescriptor(d, d.name);
    });
    for (const c of cases) {
      const label = c.name ? ` [${c.name}]` : '';
      const deterministic = !c.inverse;
      const setup = async () => {
        const f = await instance(d, c.options, c.argument, c.baseDir);
        const inv = c.inverse ? await instance(c.inverse.descriptor, c.inverse.options, c.inverse.argument ?? c.argument, c.baseDir) : undefined;
        return { f, inv, close: async () => (await f.close(), await inv?.close()) };
      };

      test(`1-byte chunks and 1 MiB chunks give the same result${label}`, async () => {
        const { f, inv, close } = await setup();
        try {
          const small = sampleData(24 * 1024, 7);
          const a = await through(c, f, inv, { upChunks: chunksOf(small, 1), downChunks: chunksOf(small, 1) });
          const b = await through(c, f, inv, { upChunks: [small], downChunks: [small] });
          for (const r of [a, b]) assert.equal(r.reset, undefined, `reset: ${r.reset} ${String(r.error ?? '')}`);
          assert.ok(a.up.equals(b.up) && a.down.equals(b.down), '1-byte chunks and one chunk differ');
          const big = sampleData(3 << 20, 9);
          const m = await through(c, f, inv, { upChunks: chunksOf(big, 1 << 20), downChunks: chunksOf(big, 1 << 20) });
          const k = await through(c, f, inv, { upChunks: chunksOf(big, 1500), downChunks: chunksOf(big, 1500) });
          for (const r of [m, k]) assert.equal(r.reset, undefined, `reset: ${r.reset} ${String(r.error ?? '')}`);
          assert.ok(m.up.equals(k.up) && m.down.equals(k.down), '1 MiB chunks and 1500-byte chunks differ');
          if (!deterministic || c.identity) {
            assert.ok(a.up.equals(small) && a.down.equals(small), 'the round trip (or identity) does not give the input back');
            assert.ok(m.up.equals(big) && m.down.equals(big), 'the round trip (or identity) does not give the input back');
          }
        } finally {
          await close();
        }
      });

      test(`an empty stream completes${label}`, async () => {
        const { f, inv, close } = await setup();
        try {
          const r = await through(c, f, inv, { upChunks: [], downChunks: [] });
          assert.equal(r.reset, undefined, `reset: ${r.reset} ${String(r.error ?? '')}`);
          if (inv || c.identity) assert.equal(r.up.length + r.down.length, 0);
        } finally {
          await close();
        }
      });

      test(`half-close: one direction ends, the other goes on to its end${label}`, async () => {
        const { f, inv, close } = await setup();
        try {
          const data = sampleData(256 * 1024, 3);
          const r = await through(c, f, inv, { upChunks: [], downChunks: chunksOf(data, 16 * 1024), chunkDelayMs: 1 });
          assert.equal(r.reset, undefined, `reset: ${r.reset} ${String(r.error ?? '')}`);
          if (inv || c.identity) assert.ok(r.down.equals(data), 'downstream incomplete after upstream ended');
          else assert.ok(r.down.length > 0);
        } finally {
          await close();
        }
      });

      test(`back-pressure: a slow consumer pauses the source and still gets everything${label}`, async () => {
        const { f, inv, close } = await setup();
        try {
          const data = sampleData(2 << 20, 5);
          // plaintext goes in where this end takes plaintext: upstream at a client end, downstream at a server end
          const dir = c.end === 'server' ? 'downstream' : 'upstream';
          const feed = (slowConsumer: boolean) => f.run({ upstream: [], downstream: [], [dir]: chunksOf(data, 64 * 1024), slowConsumer });
          const slow = await feed(true);
          const fast = await feed(false);
          assert.equal(slow.reset, undefined, `reset: ${slow.reset} ${String(slow.error ?? '')}`);
          if (deterministic) assert.ok(slow[dir].equals(fast[dir]), 'a slow consumer changed the output');
          else if (inv) {
            const back = await inv.run({ upstream: [], downstream: [], [dir]: [slow[dir]] });
            assert.ok(back[dir].equals(data), 'a slow consumer changed the output');
          }
          if (!c.noBackPressureCheck) assert.ok(slow.pauses > 0, 'the source was never paused: the function buffers without bound');
        } finally {
          await close();
        }
      });

      test(`a reset in the middle of a flow ends it cleanly${label}`, async () => {
        const { f, close } = await setup();
        try {
          const data = sampleData(1 << 20, 11);
          // a tunnel end gets plaintext only in the direction that takes plaintext
          const up = !c.inverse || c.end !== 'server' ? chunksOf(data, 4096) : [];
          const down = !c.inverse || c.end === 'server' ? chunksOf(data, 4096) : [];
          const r = await f.run({ upstream: up, downstream: down, chunkDelayMs: 2, resetAfterMs: 30 });
          assert.equal(r.reset, 'reset_by_test');
          assert.equal(r.error, undefined, `close() or the transforms threw: ${String(r.error)}`);
        } finally {
          await close();
        }
      });
    }
  });
}
