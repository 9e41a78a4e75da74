/** Fig. 9 — throughput of an srv6pipes proxy running `xor` with 2n passes against page size, and the
 *  XOR kernel alone (xorInPlace: the addon's vectorised kernel, and the JavaScript loop it falls back
 *  to) against a C reference loop compiled here with cc -O2 and -O3. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SrError } from '../core/errors.js';
import { xorInPlace, xorInPlaceJs } from '../functions/xor/xor.js';
import { nativeXor } from '../native/xor.js';
import { srv6pipesProxy, steer } from './contenders.js';
import { FIG5, shapedTopology, sid } from './labs.js';
import { measurePages } from './measure.js';
import { startLighttpd } from './pages.js';
import { record } from './stats.js';
import type { BenchContext, Figure, Point } from './types.js';

const KEY = 0x5a;
const series = (n: number) => `xor ${2 * n} passes`;
const fnId = (n: number) => 16 + n;

export const fig9: Figure = {
  id: 'fig9',
  title: 'Fig. 9 — srv6pipes with a CPU-bound function: xor, 2n passes',
  what: 'The Fig. 5 lab, unshaped; m1 runs srv6pipes with `xor` doing 2n passes over every chunk (n = 0 is a copy plus one function call); wrk downloads each page size. Ratios are against n = 0.',
  plannedRuns: (p) => p.reps * p.xorN.length * p.sizes.length,
  plots: () => [{ file: 'fig9-throughput.svg', title: 'Fig. 9: throughput with xor, 2n passes', scenario: 'unshaped', metric: 'throughput', kind: 'lines' }],
  ratios: [1, 2, 4, 8].map((n) => [series(n), series(0)] as [string, string]),
  async run(ctx: BenchContext): Promise<Point[]> {
    const points: Point[] = [];
    const p = ctx.params;
    await ctx.withLab(shapedTopology('fig5', 'unshaped'), async (lab) => {
      await startLighttpd(lab, FIG5.server, ctx.work, p.sizes);
      const proxy = srv6pipesProxy(lab, FIG5.m1, FIG5.locator, p.xorN.map((n) => ({ id: fnId(n), function: 'xor', options: { passes: 2 * n } })), ctx.work, { relay: ctx.params.relay });
      ctx.progress('fig9: starting the proxy');
      await proxy.start();
      try {
        for (let rep = 0; rep < p.reps && !ctx.aborted(); rep++) {
          for (const n of p.xorN) {
            if (ctx.aborted()) break;
            await steer(lab, FIG5.client, FIG5.serverAddr, FIG5.gateway, [sid(FIG5.locator, fnId(n), KEY)]);
            await measurePages(ctx, lab, FIG5.serverAddr, { figure: 'fig9', scenario: 'unshaped', series: series(n) }, p.sizes, points);
          }
        }
      } finally {
        await proxy.stop();
      }
    });
    return points;
  },
};

const C_SOURCE = `#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
__attribute__((noinline)) static void xor_in_place(uint8_t *buf, size_t len, uint8_t key, int passes) {
  for (int p = 0; p < passes; p++)
    for (size_t i = 0; i < len; i++) buf[i] ^= key;
}
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  size_t len = strtoul(argv[1], 0, 10);
  double secs = atof(argv[2]);
  uint8_t *buf = malloc(len);
  for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(i * 31);
  struct timespec a, b;
  unsigned long iters = 0;
  double el;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do {
    for (int k = 0; k < 16; k++) xor_in_place(buf, len, 0x5a, 1);
    iters += 16;
    clock_gettime(CLOCK_MONOTONIC, &b);
    el = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  } while (el < secs);
  unsigned sum = 0;
  for (size_t i = 0; i < len; i++) sum += buf[i];
  printf("{\\"bytesPerSecond\\":%.0f,\\"check\\":%u}\\n", (double)iters * (double)len / el, sum);
  return 0;
}
`;

/** Bytes per second of a kernel (default: xorInPlace, as the `xor` function calls it) over one buffer, after a short JIT warm-up. */
export function jsXorSpeed(len: number, secs: number, kernel: (buf: Uint8Array, key: number, passes: number) => void = xorInPlace): number {
  const buf = Buffer.alloc(len, 7);
  const warm = Date.now() + 200;
  while (Date.now() < warm) kernel(buf, KEY, 1);
  let iters = 0;
  const t0 = process.hrtime.bigint();
  let el = 0;
  do {
    for (let k = 0; k < 16; k++) kernel(buf, KEY, 1);
    iters += 16;
    el = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (el < secs);
  return (iters * len) / el;
}

export const XOR_BUFFERS = [64 * 1024, 1024 * 1024];

export const xorKernel: Figure = {
  id: 'xorkernel',
  title: 'XOR kernel alone: the xor function\'s kernel (native, and the JavaScript fallback) vs a C loop (cc -O2, -O3)',
  what: 'One pass of XOR over the same buffer (64 KiB, the size of a socket read, and 1 MiB), in this Node process — the `xor` function\'s kernel as it runs it (the addon\'s vectorised loop, native/relay-ops.c, also what the native relay thread runs) and the JavaScript loop it falls back to without the addon — and in a C byte loop compiled at bench time with cc -O2 (the reference) and -O3 (auto-vectorized); no network.',
  plannedRuns: (p) => p.reps * XOR_BUFFERS.length * 2,
  plots: () => [{ file: 'xorkernel.svg', title: 'XOR kernel: GB/s per pass', scenario: 'cpu', metric: 'speed', kind: 'bars' }],
  ratios: [
    ['srv6pipes xor (native kernel)', 'C -O3'],
    ['srv6pipes xor (JavaScript)', 'C -O3'],
    ['srv6pipes xor (JavaScript)', 'C -O2'],
  ],
  async run(ctx: BenchContext): Promise<Point[]> {
    const points: Point[] = [];
    const src = join(ctx.work, 'xorref.c');
    writeFileSync(src, C_SOURCE);
    const bins: Record<string, string> = {};
    for (const opt of ['-O2', '-O3']) {
      const bin = join(ctx.work, `xorref${opt}`);
      try {
        execFileSync('cc', [opt, '-o', bin, src], { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        throw new SrError('COMMAND_FAILED', `cc ${opt} ${src} failed: ${String((e as { stderr?: Buffer }).stderr ?? e)}`);
      }
      bins[`C ${opt}`] = bin;
    }
    const secs = ctx.params.quick ? 0.3 : 1;
    for (let rep = 0; rep < ctx.params.reps && !ctx.aborted(); rep++) {
      for (const len of XOR_BUFFERS) {
        const x = len >= 1 << 20 ? `${len >> 20} MiB` : `${len >> 10} KiB`;
        ctx.progress(`xorkernel ${x} rep ${rep + 1}`);
        const kernels: [string, (buf: Uint8Array, key: number, passes: number) => void][] = [['srv6pipes xor (JavaScript)', xorInPlaceJs]];
        const nat = nativeXor();
        if (nat) kernels.push(['srv6pipes xor (native kernel)', nat]);
        for (const [series, kernel] of kernels) {
          const speed = jsXorSpeed(len, secs, kernel);
          record(points, { figure: 'xorkernel', scenario: 'cpu', series, x, metric: 'speed', unit: 'GB/s' }, speed / 1e9);
        }
        ctx.tick();
        for (const [series, bin] of Object.entries(bins)) {
          const out = execFileSync(bin, [String(len), String(secs)], { encoding: 'utf8' });
          const c = (JSON.parse(out) as { bytesPerSecond: number }).bytesPerSecond;
          record(points, { figure: 'xorkernel', scenario: 'cpu', series, x, metric: 'speed', unit: 'GB/s' }, c / 1e9);
        }
        ctx.tick();
      }
    }
    return points;
  },
};
