/**
 * Inputs for the fuzz targets: valid encodings (seeds) mutated the ways parsers break — bit flips,
 * byte edits, truncation, length fields set to boundary values, inserted, deleted and duplicated
 * ranges, bytes spliced from another seed — or random bytes. Text inputs (YAML configs) get the
 * same at the character level plus token and line edits. Every mutation is data (fast-check
 * generates and shrinks it), applied by a pure function.
 */
import fc from 'fast-check';

/** A length (or count) field of a seed: where it is and how wide, so that mutations can target it. */
export interface LengthField {
  offset: number;
  bytes: 1 | 2 | 4 | 8;
  endian?: 'be' | 'le';
}

export type ByteMutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'length'; field: number; value: number; delta: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'duplicate'; at: number; count: number }
  | { op: 'splice'; at: number; seed: number; from: number; count: number };

const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff];

const mutation = (fields: number): fc.Arbitrary<ByteMutation> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
    {
      weight: fields > 0 ? 4 : 0,
      arbitrary: fc.record({
        op: fc.constant('length' as const),
        field: fc.nat(),
        // a boundary (0, 1, the field's max) or the current value moved a little
        value: fc.constantFrom(-1, 0, 1, -2),
        delta: fc.integer({ min: -24, max: 24 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 32 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 48 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('splice' as const), at: fc.nat(), seed: fc.nat(), from: fc.nat(), count: fc.integer({ min: 1, max: 64 }) }) },
  );

function writeField(b: Buffer, f: LengthField, v: number): void {
  const max = f.bytes === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * f.bytes) - 1;
  const x = Math.max(0, Math.min(max, Math.trunc(v)));
  if (f.offset + f.bytes > b.length) return;
  if (f.bytes === 1) b[f.offset] = x;
  else if (f.bytes === 2) (f.endian === 'le' ? b.writeUInt16LE(x, f.offset) : b.writeUInt16BE(x, f.offset));
  else if (f.bytes === 4) (f.endian === 'le' ? b.writeUInt32LE(x, f.offset) : b.writeUInt32BE(x, f.offset));
  else (f.endian === 'le' ? b.writeBigUInt64LE(BigInt(x), f.offset) : b.writeBigUInt64BE(BigInt(x), f.offset));
}

function readField(b: Buffer, f: LengthField): number {
  if (f.offset + f.bytes > b.length) return 0;
  if (f.bytes === 1) return b[f.offset]!;
  if (f.bytes === 2) return f.endian === 'le' ? b.readUInt16LE(f.offset) : b.readUInt16BE(f.offset);
  if (f.bytes === 4) return f.endian === 'le' ? b.readUInt32LE(f.offset) : b.readUInt32BE(f.offset);
  return Number(f.endian === 'le' ? b.readBigUInt64LE(f.offset) : b.readBigUInt64BE(f.offset));
}

/** Applies mutations in order (positions wrap around the current length). */
export function applyMutations(seed: Buffer, ms: readonly ByteMutation[], seeds: readonly Buffer[], fields: readonly LengthField[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of ms) {
    const at = m.op === 'length' || b.length === 0 ? 0 : m.at % (b.length + (m.op === 'insert' || m.op === 'truncate' ? 1 : 0));
    switch (m.op) {
      case 'flip':
        if (b.length) b[at % b.length]! ^= 1 << m.bit;
        break;
      case 'set':
        if (b.length) b[at % b.length] = m.value;
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'length': {
        const f = fields[m.field % Math.max(1, fields.length)];
        if (!f) break;
        const max = f.bytes === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * f.bytes) - 1;
        const v = m.value === -1 ? max : m.value === -2 ? readField(b, f) + m.delta : m.value;
        writeField(b, f, v);
        break;
      }
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
      case 'duplicate':
        b = Buffer.concat([b.subarray(0, at + m.count), b.subarray(at, at + m.count), b.subarray(at + m.count)]);
        break;
      case 'splice': {
        const other = seeds[m.seed % seeds.length]!;
        const from = other.length ? m.from % other.length : 0;
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + m.count), b.subarray(at)]);
        break;
      }
    }
  }
  return b;
}

/** A mutated seed: which seed, and the mutations (shrinks towards the seed itself). */
export interface MutatedBytes {
  seed: number;
  mutations: ByteMutation[];
}

/**
 * Byte inputs: mostly seeds with 0–8 mutations, sometimes random bytes. The generated value is the
 * recipe; `bytesFrom` builds the input (so a counterexample prints how it was made).
 */
export function bytesArbitrary(seeds: readonly Buffer[], fields: readonly LengthField[] = [], maxRandom = 512): fc.Arbitrary<MutatedBytes | Uint8Array> {
  return fc.oneof(
    { weight: 9, arbitrary: fc.record({ seed: fc.nat({ max: seeds.length - 1 }), mutations: fc.array(mutation(fields.length), { maxLength: 8 }) }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: maxRandom }) },
  );
}

export function bytesFrom(v: MutatedBytes | Uint8Array, seeds: readonly Buffer[], fields: readonly LengthField[] = []): Buffer {
  return v instanceof Uint8Array ? Buffer.from(v) : applyMutations(seeds[v.seed]!, v.mutations, seeds, fields);
}

// ---- text (YAML) ----

export type TextMutation =
  | { op: 'char'; at: number; char: string }
  | { op: 'truncate'; at: number }
  | { op: 'token'; at: number; value: string }
  | { op: 'line'; at: number; kind: 'delete' | 'duplicate' | 'indent' | 'dedent' }
  | { op: 'insert'; at: number; text: string };

/** Values that break validators: huge, negative, fractional numbers, prototype keys, odd YAML scalars. */
export const HOSTILE_TOKENS = [
  '__proto__', 'toString', 'constructor', 'hasOwnProperty', 'valueOf', '-1', '0', '1e400', '-0', '0.5', 'NaN', '.nan', '.inf', '-.inf',
  '99999999999999999999', '4294967296', '2147483648', '36000m', '2h', '0ms', '""', "''", '~', 'null', '[]', '{}', 'true', '0x10', '"\\u0000"',
  '"::"', '"::/0"', '"fe80::1%eth0"', '"fc00::/129"', '"1.2.3.4"', '*a', '&a x', '!!binary AAAA', '!!js/function f', '<<: {}', '"%"',
  'a'.repeat(300),
];
const TOKEN = /[A-Za-z0-9_.:\/%"-]+/g;

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('char' as const), at: fc.nat(), char: fc.oneof(fc.constantFrom(':', '-', ' ', '\n', '[', ']', '{', '}', ',', '"', "'", '#', '&', '*', '!', '|', '>', '\t', '0', '9'), fc.string({ minLength: 1, maxLength: 1 })) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('token' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...HOSTILE_TOKENS), fc.integer().map(String), fc.double().map(String)) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('line' as const), at: fc.nat(), kind: fc.constantFrom('delete' as const, 'duplicate' as const, 'indent' as const, 'dedent' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom('\n__proto__: {}\n', '\nbogus: 1\n', ' # c', '\n  - x\n', ': ', '\n---\n'), fc.string({ maxLength: 16 })) }) },
);

export function applyTextMutations(seed: string, ms: readonly TextMutation[]): string {
  let s = seed;
  for (const m of ms) {
    const at = m.at % (s.length + 1);
    switch (m.op) {
      case 'char':
        s = s.slice(0, at) + m.char + s.slice(at + 1);
        break;
      case 'truncate':
        s = s.slice(0, at);
        break;
      case 'token': {
        const tokens = [...s.matchAll(TOKEN)];
        const t = tokens.length ? tokens[m.at % tokens.length]! : undefined;
        if (t) s = s.slice(0, t.index) + m.value + s.slice(t.index + t[0].length);
        break;
      }
      case 'line': {
        const lines = s.split('\n');
        const i = m.at % lines.length;
        if (m.kind === 'delete') lines.splice(i, 1);
        else if (m.kind === 'duplicate') lines.splice(i, 0, lines[i]!);
        else if (m.kind === 'indent') lines[i] = `  ${lines[i]}`;
        else lines[i] = lines[i]!.replace(/^ {1,2}/, '');
        s = lines.join('\n');
        break;
      }
      case 'insert':
        s = s.slice(0, at) + m.text + s.slice(at);
        break;
    }
  }
  return s;
}

export interface MutatedText {
  seed: number;
  mutations: TextMutation[];
}

export function textArbitrary(seeds: readonly string[]): fc.Arbitrary<MutatedText | string> {
  return fc.oneof(
    { weight: 19, arbitrary: fc.record({ seed: fc.nat({ max: seeds.length - 1 }), mutations: fc.array(textMutation, { maxLength: 6 }) }) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  );
}

export function textFrom(v: MutatedText | string, seeds: readonly string[]): string {
  return typeof v === 'string' ? v : applyTextMutations(seeds[v.seed]!, v.mutations);
}
