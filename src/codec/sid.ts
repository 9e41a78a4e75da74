/**
 * SIDs as `LOCATOR (L bits) | FUNCTION (F bits) | ARGUMENT (128 − L − F bits)` — the paper's Fig. 2.
 * With the prototype's layout (a /80 locator, F = 16) the function is bytes 10–11 and the argument
 * bytes 12–15. Fields need not be byte aligned.
 */
import { SrError } from '../errors.js';
import { formatAddress, parsePrefix, prefixContains, type Prefix6 } from '../net/ip6.js';

export interface SidLayout {
  locator: Prefix6;
  functionBits: number;
}

export function sidLayout(prefix: string | Prefix6, functionBits = 16): SidLayout {
  const locator = typeof prefix === 'string' ? parsePrefix(prefix) : prefix;
  if (!Number.isInteger(functionBits) || functionBits < 1 || functionBits > 32) {
    throw new SrError('SID_BAD_LAYOUT', `function bits must be 1..32, not ${functionBits}`);
  }
  if (locator.length + functionBits > 128) {
    throw new SrError('SID_BAD_LAYOUT', `locator /${locator.length} + ${functionBits} function bits exceed 128`);
  }
  return { locator, functionBits };
}

export function argumentBits(layout: SidLayout): number {
  return 128 - layout.locator.length - layout.functionBits;
}

/** Reads `width` (≤ 32) bits starting at bit `start` of a 16-byte address. */
function readBits(a: Uint8Array, off: number, start: number, width: number): number {
  let v = 0;
  for (let bit = start; bit < start + width; bit++) v = v * 2 + ((a[off + (bit >> 3)]! >> (7 - (bit & 7))) & 1);
  return v;
}

export function encodeSid(layout: SidLayout, fn: number, arg: bigint | number = 0n): Buffer {
  const F = layout.functionBits;
  const A = argumentBits(layout);
  if (!Number.isInteger(fn) || fn < 0 || fn >= 2 ** F) throw new SrError('SID_FIELD_RANGE', `function ${fn} does not fit in ${F} bits`);
  const a = BigInt(arg);
  if (a < 0n || a >= 1n << BigInt(A)) throw new SrError('SID_FIELD_RANGE', `argument ${a} does not fit in ${A} bits`);
  // low 128 − L bits = fn << A | arg; the locator supplies the rest
  let low = (BigInt(fn) << BigInt(A)) | a;
  const out = Buffer.from(layout.locator.addr);
  for (let i = 15; i >= 0 && low > 0n; i--) {
    out[i] = out[i]! | Number(low & 0xffn);
    low >>= 8n;
  }
  return out;
}

/**
 * Function and argument of an address in the locator, or null when outside it. Per flow on the hot
 * path: no Buffer is allocated; the argument is built from ≤ 32-bit pieces.
 */
export function decodeSid(layout: SidLayout, addr: Uint8Array, offset = 0): { fn: number; arg: bigint } | null {
  if (!prefixContains(layout.locator, addr, offset)) return null;
  const L = layout.locator.length;
  const F = layout.functionBits;
  const fn = readBits(addr, offset, L, F);
  let arg = 0n;
  for (let start = L + F; start < 128; ) {
    const width = Math.min(32, 128 - start);
    arg = (arg << BigInt(width)) | BigInt(readBits(addr, offset, start, width));
    start += width;
  }
  return { fn, arg };
}

export function formatSid(layout: SidLayout, fn: number, arg: bigint | number = 0n): string {
  return formatAddress(encodeSid(layout, fn, arg));
}
