/**
 * XOR every byte of a buffer with a one-byte key, in place, `passes` times. The paper's CPU-bound
 * microbenchmark function. Works on 32-bit words over the aligned middle of the buffer.
 */
export function xorInPlace(buf: Uint8Array, key: number, passes = 1): void {
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
