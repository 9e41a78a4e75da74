/**
 * The topology file's schema (zod): shapes and value checks only. Cross-references (hosts named in
 * links, routes through a connected subnet, unique addresses) are checked in topology.ts.
 */
import { z } from 'zod';
import { isAddress, parsePrefix, prefixContains, type Prefix6 } from '../net/ip6.js';

export const LAB_NAME = /^[a-z0-9][a-z0-9-]{0,15}$/;
export const LAB_NAME_RULE = '1–16 characters of a-z, 0-9 and "-", not starting with "-"';
/** No "-" in host names: it separates lab and host in namespace names (s6p-<lab>-<host>). */
export const HOST_NAME = /^[a-z][a-z0-9_]{0,15}$/;
export const HOST_NAME_RULE = '1–16 characters of a-z, 0-9 and "_", starting with a letter (no "-")';

/** Labs may only use ULA (fc00::/7) and documentation (2001:db8::/32) addresses. */
const LAB_RANGES: Prefix6[] = [parsePrefix('fc00::/7'), parsePrefix('2001:db8::/32')];
const RANGE_RULE = 'labs use only ULA (fc00::/7) or documentation (2001:db8::/32) addresses';

export function isLabAddress(addr: Buffer): boolean {
  return LAB_RANGES.some((r) => prefixContains(r, addr));
}

/** A message when `text` is not an IPv6 prefix in the lab ranges, else undefined. */
export function prefixProblem(text: string): string | undefined {
  let p: Prefix6;
  try {
    p = parsePrefix(text);
  } catch {
    return `not an IPv6 prefix (such as fc00:a::/80): "${text}"`;
  }
  return isLabAddress(p.addr) ? undefined : `${text}: ${RANGE_RULE}`;
}

const labAddress = z.string().superRefine((s, ctx) => {
  if (!isAddress(s)) ctx.addIssue({ code: 'custom', message: `not an IPv6 address: "${s}"` });
});

const labPrefix = z.string().superRefine((s, ctx) => {
  const problem = prefixProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const route = z
  .object({
    to: z.union([z.literal('default'), labPrefix]),
    via: labAddress,
    /** lower wins; a higher one is a backup that takes over when the link of the better one goes away */
    metric: z.number().int().min(1).max(0xffffffff).optional(),
    /** a source-specific route (IPv6 subtrees): only packets from this prefix take it */
    from: labPrefix.optional(),
  })
  .strict();

const service = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,31}$/, 'a service name: a-z, 0-9, "_", ".", "-" (at most 32)'),
    argv: z.array(z.string().min(1)).min(1, 'the command and its arguments, e.g. [sleep, infinity]'),
    env: z.record(z.string(), z.string()).default({}),
  })
  .strict();

const host = z.preprocess(
  (v) => v ?? {},
  z
    .object({
      role: z.enum(['host', 'router', 'proxy']).default('host'),
      locators: z.array(labPrefix).default([]),
      routes: z.array(route).default([]),
      services: z.array(service).default([]),
      sysctls: z
        .record(
          z.string().regex(/^net\.[a-z0-9_.]+$/, 'a sysctl under net., e.g. net.ipv6.conf.all.seg6_require_hmac'),
          z.union([z.string(), z.number()]).transform(String),
        )
        .default({}),
      /**
       * leave this host's sysctls at the kernel's defaults (seg6_enabled=0, accept_dad, …): the lab sets
       * none of its own (the `sysctls` above still apply). A stock server, e.g. for return-agent tests.
       */
      kernelDefaults: z.boolean().default(false),
    })
    .strict()
    .refine((h) => !h.kernelDefaults || h.role === 'host', {
      message: 'kernelDefaults is for role host only (a router or proxy needs forwarding=1)',
      path: ['kernelDefaults'],
    }),
);

/** A link end: a host name (address picked from `net`), or [host, "address/len"]. */
const endpoint = z.union([z.string(), z.tuple([z.string(), z.string()])], {
  error: 'a host name, or [host, "address/length"]',
});

const DELAY_RE = /^\d+(\.\d+)?(us|ms|s)$/;
const LOSS_RE = /^\d+(\.\d{1,2})?%$/;

/** Microseconds of a delay such as "25ms" (us, ms, s). */
export function delayMicros(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s)$/.exec(text);
  if (!m) throw new Error(`bad delay ${text}`);
  return Math.round(Number(m[1]) * { us: 1, ms: 1e3, s: 1e6 }[m[2] as 'us' | 'ms' | 's']);
}

/** A loss rate such as "1.5%" in basis points (1/100 of a percent): 150. */
export function lossBasisPoints(text: string): number {
  const m = /^(\d+(?:\.\d{1,2})?)%$/.exec(text);
  if (!m) throw new Error(`bad loss rate ${text}`);
  return Math.round(Number(m[1]) * 100);
}

const link = z
  .object({
    a: endpoint,
    b: endpoint,
    net: labPrefix.optional(),
    mtu: z.number().int().min(1280).max(65535).optional(),
    rate: z
      .string()
      .regex(/^\d+(\.\d+)?(bit|kbit|mbit|gbit)$/, 'a rate such as 100mbit or 1gbit (bit, kbit, mbit, gbit)')
      .optional(),
    /** one-way delay, each direction (the userspace link emulator, linkemu/) */
    delay: z
      .string()
      .regex(DELAY_RE, 'a delay such as 25ms (us, ms or s), at most 10s')
      .refine((d) => !DELAY_RE.test(d) || delayMicros(d) <= 10_000_000, 'a delay such as 25ms (us, ms or s), at most 10s')
      .optional(),
    /** random loss, each direction (nftables numgen at the receiving end) */
    loss: z
      .string()
      .regex(LOSS_RE, 'a loss rate such as 1% or 0.5% (at most two decimals)')
      .refine((l) => !LOSS_RE.test(l) || lossBasisPoints(l) <= 10_000, 'a loss rate of at most 100%')
      .optional(),
  })
  .strict();

export const topologySchema = z
  .object({
    name: z.string().regex(LAB_NAME, `a lab name: ${LAB_NAME_RULE}`),
    description: z.string().default(''),
    hosts: z.record(z.string(), host).refine((h) => Object.keys(h).length > 0, 'at least one host'),
    links: z.array(link).min(1, 'at least one link'),
  })
  .strict();

export type RawTopology = z.infer<typeof topologySchema>;
export type RawLink = RawTopology['links'][number];

/** Bytes per second of a tc rate such as "100mbit". */
export function rateBytesPerSecond(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/.exec(rate);
  if (!m) throw new Error(`bad rate ${rate}`);
  const mult = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2] as 'bit' | 'kbit' | 'mbit' | 'gbit'];
  return (Number(m[1]) * mult) / 8;
}
