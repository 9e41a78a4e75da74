/**
 * The `ids` options schema and the compiled form of its signatures.
 *
 * A signature is a literal (`pattern`: UTF-8 text, or `hex`: bytes) or a JavaScript regex (`regex`,
 * run over the bytes read as latin1, so one character is one byte). Literals may be any length up
 * to 64 KiB; a regex match, with whatever lookahead it needs, must fit in `window` bytes.
 */
import { z } from 'zod';

export type Direction = 'upstream' | 'downstream';

export const MAX_LITERAL = 64 * 1024;

const signatureSchema = z
  .object({
    name: z.string().min(1).max(128).optional().describe('label in logs and metrics (default: the pattern itself)'),
    pattern: z.string().min(1).max(MAX_LITERAL).optional().describe('a literal, matched as its UTF-8 bytes'),
    hex: z
      .string()
      .regex(/^(?:[0-9a-fA-F]{2})+$/, 'an even number of hex digits')
      .max(2 * MAX_LITERAL)
      .optional()
      .describe('a literal given as hex bytes'),
    regex: z.string().min(1).max(4096).optional().describe('a JavaScript regex over the bytes as latin1'),
    flags: z.string().regex(/^(?!.*(.).*\1)[ims]*$/, 'flags are some of i, m, s (each once)').optional().describe('regex flags: some of i, m, s'),
    caseInsensitive: z.boolean().optional().describe('overrides the top-level caseInsensitive'),
    direction: z.enum(['upstream', 'downstream', 'both']).default('both').describe('the direction(s) scanned for this signature'),
  })
  .strict()
  .superRefine((s, ctx) => {
    const kinds = [s.pattern, s.hex, s.regex].filter((k) => k !== undefined).length;
    if (kinds !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of pattern, hex, regex' });
    if (s.flags !== undefined && s.regex === undefined) {
      ctx.addIssue({ code: 'custom', path: ['flags'], message: 'flags apply to regex signatures only' });
    }
    if (s.regex !== undefined) {
      try {
        if (new RegExp(s.regex, s.flags ?? '').test('')) {
          ctx.addIssue({ code: 'custom', path: ['regex'], message: 'the regex matches the empty string (it would match everywhere)' });
        }
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['regex'], message: `not a valid regex: ${(e as Error).message}` });
      }
    }
  });

export const idsOptions = z
  .object({
    action: z.enum(['block', 'alert']).describe('block: reset the flow before a match is delivered; alert: log, count, pass'),
    signatures: z.array(signatureSchema).min(1).max(1000).describe('what to match: each one of pattern, hex or regex'),
    caseInsensitive: z.boolean().default(false).describe('ASCII case-insensitive literals; the i flag for regexes'),
    window: z
      .number()
      .int()
      .min(16)
      .max(1024 * 1024)
      .default(4096)
      .describe('bytes a regex match (with its lookahead) must fit in; also the look-behind context'),
    flushAfterMs: z
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(0)
      .describe('block only: release held-back bytes after this much input silence (0 = never)'),
  })
  .strict();

export type IdsOptions = z.infer<typeof idsOptions>;

export interface Signature {
  readonly index: number;
  readonly name: string;
  /** literal bytes (lower-cased ASCII when `fold`), or undefined for a regex */
  readonly bytes?: Buffer;
  /** match on an ASCII-lower-cased copy of the data */
  readonly fold: boolean;
  /** global regex, or undefined for a literal */
  readonly re?: RegExp;
  /** the longest match this signature can be relied on to find */
  readonly maxLength: number;
}

/** A default signature name, short enough for a metric label. */
function label(s: string): string {
  return s.length > 64 ? `${s.slice(0, 63)}…` : s;
}

/** Lower-cases ASCII letters of `src` into a new buffer. */
export function foldAscii(src: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    out[i] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  }
  return out;
}

/** The signatures that apply to one direction, compiled. */
export function compileSignatures(o: IdsOptions, direction: Direction): Signature[] {
  const out: Signature[] = [];
  o.signatures.forEach((s, index) => {
    if (s.direction !== 'both' && s.direction !== direction) return;
    const ci = s.caseInsensitive ?? o.caseInsensitive;
    if (s.regex !== undefined) {
      const flags = new Set([...(s.flags ?? ''), 'g']);
      if (ci) flags.add('i');
      const re = new RegExp(s.regex, [...flags].join(''));
      out.push({ index, name: s.name ?? label(`/${s.regex}/${s.flags ?? ''}`), fold: false, re, maxLength: o.window });
    } else {
      const raw = s.pattern !== undefined ? Buffer.from(s.pattern, 'utf8') : Buffer.from(s.hex!, 'hex');
      const name = s.name ?? label(s.pattern !== undefined ? s.pattern : `hex:${s.hex!.toLowerCase()}`);
      out.push({ index, name, fold: ci, bytes: ci ? foldAscii(raw) : raw, maxLength: raw.length });
    }
  });
  return out;
}
