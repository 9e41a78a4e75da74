/**
 * XOR every byte of a buffer with a one-byte key, in place, `passes` times. The paper's CPU-bound
 * microbenchmark function. The kernel is the addon's vectorised loop (native/relay-ops.c, the one the
 * native relay thread runs) when the addon is there, for chunks worth a native call; else the
 * JavaScript loop below (32-bit words over the aligned middle of the buffer).
 */
import { nativeXor } from '../../native/xor.js';

/** below this many bytes the JavaScript loop is cheaper than a call into the addon */
export const NATIVE_XOR_MIN = 128;

const kernel = nativeXor();

export function xorInPlace(buf: Uint8Array, key: number, passes = 1): void {
  if (kernel && buf.length >= NATIVE_XOR_MIN && passes > 0 && passes <= 1024) kernel(buf, key & 0xff, passes);
  else xorInPlaceJs(buf, key, passes);
}

/** The JavaScript kernel (the fallback without the addon; Fig. 9's xorkernel figure measures both). */
export function xorInPlaceJs(buf: Uint8Array, key: number, passes = 1): void {
  const k = key & 0xff;
  const len = buf.length;
  const head = (4 - (buf.byteOffset & 3)) & 3;
  if (len < head + 4) {
    for (let p = 0; p < passes; p++) for (let i = 0; i < len; i++) buf[i] = buf[i]! ^ k;
    return;
  }
  const words = (len - head) >>> 2;
  const tailStart = head + words * 4;
  const k32 = (k | (k << 8) | (k << 16) | (k << 24)) | 0;
  const w = new Int32Array(buf.buffer, buf.byteOffset + head, words);
  for (let p = 0; p < passes; p++) {
    for (let i = 0; i < head; i++) buf[i] = buf[i]! ^ k;
    for (let i = 0; i < words; i++) w[i] = w[i]! ^ k32;
    for (let i = tailStart; i < len; i++) buf[i] = buf[i]! ^ k;
  }
}
