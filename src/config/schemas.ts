/**
 * The zod schemas that several config files share (the proxy's, the controller's, and the flags of
 * the agents): addresses and prefixes, a locator, a return hop, a log level. One definition each,
 * so that the same field is checked and worded the same everywhere.
 */
import { z } from 'zod';
import { sidLayout } from '../codec/sid.js';
import { formatPrefix, isAddress, parseAddress, parsePrefix, prefixContains } from '../net/ip6.js';

/** True when `s` is an IPv6 prefix (`fc00:a::/80`). */
export function isPrefixText(s: string): boolean {
  try {
    parsePrefix(s);
    return true;
  } catch {
    return false;
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** True when `s` is a dotted IPv4 address. */
export const isIpv4Text = (s: string): boolean => IPV4.test(s);

/** An IPv6 prefix as text, e.g. fc00:a::/80 (kept as text). */
export const prefixSchema = z.string().refine(isPrefixText, { message: 'an IPv6 prefix such as fc00:a::/80' });

/** An IPv6 prefix as text with no bits set past its length (a locator, a BSID block): `fc00:f::1/64` is refused. */
export const networkPrefixSchema = prefixSchema.superRefine((s, ctx) => {
  const clean = hostBitsSet(s);
  if (clean !== undefined) ctx.addIssue({ code: 'custom', message: `${s} has bits set past its length: write ${clean}` });
});

/** An IPv6 address as text. */
export const ipv6Schema = z.string().refine(isAddress, 'an IPv6 address');

/** An IPv6 or IPv4 address as text (DNS zones, resolvers, health checks). */
export const addressSchema = z.string().refine((s) => isAddress(s) || isIpv4Text(s), 'an IPv6 (or IPv4) address');

/** A TCP or UDP port, 1–65535. */
export const portSchema = z.number().int().min(1).max(65535);

/** The prefix written with its host bits cleared (`fc00:a::/48` for `fc00:a::1/48`), or undefined when they are. */
export function hostBitsSet(text: string): string | undefined {
  // not a prefix at all is another check's message (zod runs every refinement of a string)
  if (!isPrefixText(text)) return undefined;
  const p = parsePrefix(text);
  return parseAddress(text.slice(0, text.indexOf('/'))).equals(p.addr) ? undefined : formatPrefix(p);
}

/** `{ prefix, functionBits: 16 }` → a SidLayout (LOCATOR | FUNCTION | ARGUMENT); the layout checked, no host bits set. */
export const locatorSchema = z
  .object({ prefix: prefixSchema, functionBits: z.number().int().min(1).max(32).default(16) })
  .strict()
  .transform((l, ctx) => {
    const clean = hostBitsSet(l.prefix);
    if (clean !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['prefix'], message: `${l.prefix} has bits set past its length: write ${clean}` });
      return z.NEVER;
    }
    try {
      return sidLayout(l.prefix, l.functionBits);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

/** One or more locators, none overlapping another (a SID must name one function of one locator). */
export const locatorsSchema = z
  .array(locatorSchema)
  .min(1, 'at least one locator')
  .superRefine((ls, ctx) => {
    // zod runs this refinement even when an element failed (its locator is then missing): those are reported already
    ls.forEach((l, i) => {
      if (!l?.locator) return;
      const k = ls.findIndex((o, j) => j < i && o?.locator !== undefined && (prefixContains(o.locator, l.locator.addr) || prefixContains(l.locator, o.locator.addr)));
      if (k >= 0) ctx.addIssue({ code: 'custom', path: [i, 'prefix'], message: `${formatPrefix(l.locator)} overlaps locators[${k}] (${formatPrefix(ls[k]!.locator)}): a SID would belong to both` });
    });
  });

/** A return hop (a proxy's `returnPath`, an entry of `returnHops`): its return id (the SRH tag) and return SID. */
export const returnHopSchema = z.object({ id: z.number().int().min(1).max(65535), sid: ipv6Schema }).strict();

/** Log levels, most severe first (pino's). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `logLevel`, default `info`. */
export const logLevelSchema = z.enum(LOG_LEVELS).default('info');

