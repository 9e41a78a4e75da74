/**
 * SIDs as `LOCATOR (L bits) | FUNCTION (F bits) | ARGUMENT (A = 128 − L − F bits)` — the paper's Fig. 2.
 * With the prototype's layout (a /80 locator, F = 16) the function is bytes 10–11 and the argument
 * bytes 12–15: with locator fc00:a::/80, function 1 argument 0 is fc00:a::1:0:0. Fields need not be
 * byte aligned (e.g. a /52 locator with 12 function bits); A may be 0.
 */
import { SrError } from '../core/errors.js';
import { formatAddress, maskBuffer, parsePrefix, prefixContains, type Prefix6 } from '../net/ip6.js';

export interface SidLayout {
  locator: Prefix6;
  functionBits: number;
}

/**
 * A layout from a locator prefix (text or Prefix6) and F function bits (1..32, default 16).
 * A Prefix6 is normalized: its host bits are cleared (into a new Buffer).
 */
export function sidLayout(prefix: string | Prefix6, functionBits = 16): SidLayout {
  const locator = typeof prefix === 'string' ? parsePrefix(prefix) : normalize(prefix);
  if (!Number.isInteger(functionBits) || functionBits < 1 || functionBits > 32) {
    throw new SrError('SID_BAD_LAYOUT', `function bits must be 1..32, not ${functionBits}`);
  }
  if (locator.length + functionBits > 128) {
    throw new SrError('SID_BAD_LAYOUT', `locator /${locator.length} + ${functionBits} function bits = ${locator.length + functionBits} bits, more than 128`);
  }
  return { locator, functionBits };
}

function normalize(p: Prefix6): Prefix6 {
  if (!Number.isInteger(p.length) || p.length < 0 || p.length > 128 || p.addr.length !== 16) {
    throw new SrError('BAD_PREFIX', `not an IPv6 prefix: ${p.addr.length}-byte address, length ${p.length}`);
  }
  return { addr: maskBuffer(p.addr, p.length), length: p.length };
}

export function argumentBits(layout: SidLayout): number {
  return 128 - layout.locator.length - layout.functionBits;
}

/**
 * `width` (1..32) bits of the address at `a[off..off+16)`, starting `start` bits in, as a number.
 * Allocation-free: at most 5 bytes (40 bits) are accumulated, exact in a double.
 */
function readBits(a: Uint8Array, off: number, start: number, width: number): number {
  const end = start + width - 1; // last bit, inclusive
  let acc = 0;
  for (let i = start >> 3; i <= end >> 3; i++) acc = acc * 256 + a[off + i]!;
  return Math.floor(acc / 2 ** (7 - (end & 7))) % 2 ** width;
}

/** The SID for function `fn` and argument `arg` (default 0); SID_FIELD_RANGE when either does not fit. */
export function encodeSid(layout: SidLayout, fn: number, arg: bigint | number = 0n): Buffer {
  const F = layout.functionBits;
  const A = argumentBits(layout);
  if (!Number.isInteger(fn) || fn < 0 || fn >= 2 ** F) {
    throw new SrError('SID_FIELD_RANGE', `function ${fn} does not fit in ${F} bits (0..${2 ** F - 1})`);
  }
  if (typeof arg === 'number' && !Number.isSafeInteger(arg)) {
    throw new SrError('SID_FIELD_RANGE', `argument ${arg} is not an integer (use a bigint past 2^53)`);
  }
  const a = BigInt(arg);
  if (a < 0n || a >= 1n << BigInt(A)) {
    throw new SrError('SID_FIELD_RANGE', `argument ${a} does not fit in ${A} bits (0..${(1n << BigInt(A)) - 1n})`);
  }
  // the low 128 − L bits are fn << A | arg; the locator (host bits zero) supplies the rest
  let low = (BigInt(fn) << BigInt(A)) | a;
  const out = Buffer.from(layout.locator.addr);
  for (let i = 15; i >= 0 && low > 0n; i--) {
    out[i] = out[i]! | Number(low & 0xffn);
    low >>= 8n;
  }
  return out;
}

/**
 * Function and argument of the address at `addr[offset..offset+16)`, or null when it is outside the
 * locator. Runs per flow: no Buffer is allocated; the argument is read as numbers and turned into one
 * bigint when A ≤ 53 (the paper's layout has A = 32), in 32-bit pieces otherwise.
 */
export function decodeSid(layout: SidLayout, addr: Uint8Array, offset = 0): { fn: number; arg: bigint } | null {
  if (!Number.isInteger(offset) || offset < 0 || offset + 16 > addr.length) {
    throw new SrError('BAD_ADDRESS', `no 16-byte address at offset ${offset} of ${addr.length} bytes`);
  }
  if (!prefixContains(layout.locator, addr, offset)) return null;
  const start = layout.locator.length + layout.functionBits;
  const fn = readBits(addr, offset, layout.locator.length, layout.functionBits);
  const A = 128 - start;
  let arg: bigint;
  if (A === 0) arg = 0n;
  else if (A <= 32) arg = BigInt(readBits(addr, offset, start, A));
  else if (A <= 53) arg = BigInt(readBits(addr, offset, start, A - 32) * 2 ** 32 + readBits(addr, offset, 96, 32));
  else {
    const head = A % 32 || 32;
    arg = BigInt(readBits(addr, offset, start, head));
    for (let bit = start + head; bit < 128; bit += 32) arg = (arg << 32n) | BigInt(readBits(addr, offset, bit, 32));
  }
  return { fn, arg };
}

/** The SID as address text, e.g. formatSid(sidLayout('fc00:a::/80'), 1, 0) = 'fc00:a::1:0:0'. */
export function formatSid(layout: SidLayout, fn: number, arg: bigint | number = 0n): string {
  return formatAddress(encodeSid(layout, fn, arg));
}

/**
 * The first segment of a path (travel order) inside one of the locators, the final destination
 * excepted: its position, the layout it fell in, and its function and argument. Undefined when none is.
 */
export function findOwnSegment(path: readonly Uint8Array[], locators: readonly SidLayout[]): { position: number; layout: SidLayout; fn: number; arg: bigint } | undefined {
  for (let i = 0; i < path.length - 1; i++) {
    for (const layout of locators) {
      const d = decodeSid(layout, path[i]!);
      if (d) return { position: i, layout, ...d };
    }
  }
  return undefined;
}
