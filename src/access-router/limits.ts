/**
 * What the access-router agent accepts, and how much of it: the limits (a zod schema with defaults,
 * validated once at start), the check of one install request (pure), and the gate that bounds the
 * work in flight (every change spawns `ip` and `nft`). See docs/security.md (the access-router agent).
 */
import { z } from 'zod';
import { SrError } from '../core/errors.js';
import { parseWith } from '../config/fields.js';
import { formatAddress, formatPrefix, maskBuffer, parseAddress, parsePrefix, prefixContains, type Prefix6 } from '../net/ip6.js';
import type { BsidPolicy } from './api.js';

const DAY_S = 86_400;

export const agentLimitsSchema = z
  .object({
    /** the shortest source prefix an install may name: 128 = one client address (what the controller asks for) */
    minSourceLength: z.number().int().min(48).max(128).default(128),
    /** seconds: the longest lifetime an install may ask for (the controller's bindingSids.lifetime must fit) */
    maxLifetime: z.number().int().min(1).max(7 * DAY_S).default(3600),
    /** segments behind one BSID */
    maxSegments: z.number().int().min(1).max(126).default(16),
    /** binding SIDs installed at once */
    maxBsids: z.number().int().min(1).max(1_000_000).default(10_000),
    /** changes (install, remove) and counter reads queued or running at once; one runs at a time */
    maxInFlight: z.number().int().min(1).max(10_000).default(64),
    /** HTTP(S) connections open at once (above --max-in-flight, so that a flood mostly gets 429s) */
    maxConnections: z.number().int().min(1).max(10_000).default(256),
  })
  .strict();

export type AgentLimitsInput = z.input<typeof agentLimitsSchema>;
export interface AgentLimits {
  minSourceLength: number;
  maxLifetimeMs: number;
  maxSegments: number;
  maxBsids: number;
  maxInFlight: number;
  maxConnections: number;
}

export const DEFAULT_AGENT_LIMITS: AgentLimits = agentLimits({});

/** Validates limits (from the command line); BAD_ARGUMENT names the option. */
export function agentLimits(input: AgentLimitsInput): AgentLimits {
  const l = parseWith(agentLimitsSchema, input, (path, message) => {
    const flag = `--${String(path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    return new SrError('BAD_ARGUMENT', `bad ${flag}: ${message}`, { hint: 'see srv6pipes access-router --help and docs/security.md' });
  });
  return { minSourceLength: l.minSourceLength, maxLifetimeMs: l.maxLifetime * 1000, maxSegments: l.maxSegments, maxBsids: l.maxBsids, maxInFlight: l.maxInFlight, maxConnections: l.maxConnections };
}

/** Address blocks no segment and no client may be: unspecified, loopback, multicast, link-local, IPv4-mapped. */
const NOT_UNICAST: Prefix6[] = ['::/128', '::1/128', 'ff00::/8', 'fe80::/10', '::ffff:0:0/96'].map((p) => parsePrefix(p));

function unicast(bytes: Buffer): boolean {
  return !NOT_UNICAST.some((p) => prefixContains(p, bytes));
}

function address(text: string, what: string): Buffer {
  try {
    return parseAddress(text);
  } catch {
    throw new SrError('BSID_POLICY_REFUSED', `${what} "${text}" is not an IPv6 address`);
  }
}

/** An install request made canonical (addresses formatted), or BSID_POLICY_REFUSED saying why not. */
export function checkPolicy(policy: BsidPolicy, ctx: { bsidPrefix: Prefix6; limits: AgentLimits; now: number }): BsidPolicy {
  const { bsidPrefix, limits, now } = ctx;
  const refuse = (msg: string): SrError => new SrError('BSID_POLICY_REFUSED', msg);
  const bsidBytes = address(policy.bsid, 'BSID');
  const bsid = formatAddress(bsidBytes);
  if (!prefixContains(bsidPrefix, bsidBytes)) throw refuse(`BSID ${bsid} is outside ${formatPrefix(bsidPrefix)}`);
  if (bsidBytes.equals(bsidPrefix.addr)) throw refuse(`BSID ${bsid} is the prefix's own address`);
  const { length } = policy.source;
  if (!Number.isInteger(length) || length < limits.minSourceLength || length > 128) {
    throw refuse(`BSID ${bsid}: source prefix /${length} is wider than /${limits.minSourceLength} (--min-source-length)`);
  }
  const srcBytes = address(policy.source.prefix, 'source');
  if (!unicast(srcBytes)) throw refuse(`BSID ${bsid}: source ${formatAddress(srcBytes)} is not a unicast address`);
  if (!maskBuffer(srcBytes, length).equals(srcBytes)) throw refuse(`BSID ${bsid}: source ${formatAddress(srcBytes)}/${length} has host bits set`);
  if (policy.segments.length === 0) throw refuse(`BSID ${bsid}: no segments`);
  if (policy.segments.length > limits.maxSegments) throw refuse(`BSID ${bsid}: ${policy.segments.length} segments, at most ${limits.maxSegments} (--max-segments)`);
  const segments = policy.segments.map((s, i) => {
    const b = address(s, `segment ${i}`);
    if (!unicast(b)) throw refuse(`BSID ${bsid}: segment ${formatAddress(b)} is not a unicast address`);
    if (prefixContains(bsidPrefix, b)) throw refuse(`BSID ${bsid}: segment ${formatAddress(b)} is inside the BSID prefix (a loop)`);
    return formatAddress(b);
  });
  if (!Number.isFinite(policy.expiresAt) || policy.expiresAt - now > limits.maxLifetimeMs) {
    throw refuse(`BSID ${bsid}: lifetime ${Math.round((policy.expiresAt - now) / 1000)} s is longer than ${limits.maxLifetimeMs / 1000} s (--max-lifetime)`);
  }
  return { bsid, source: { prefix: formatAddress(srcBytes), length }, segments, expiresAt: policy.expiresAt, ...(policy.key !== undefined ? { key: policy.key } : {}) };
}

/**
 * Runs tasks one at a time, in order, with at most `maxQueued` accepted (queued or running): the
 * next one is refused with AGENT_BUSY instead of queuing without bound. `internal` tasks (expiry,
 * stop) are never refused and not counted.
 */
export class Gate {
  private tail: Promise<unknown> = Promise.resolve();
  private counted = 0;

  constructor(private readonly maxQueued: number) {}

  get inFlight(): number {
    return this.counted;
  }

  run<T>(fn: () => Promise<T>, internal = false): Promise<T> {
    if (!internal && this.counted >= this.maxQueued) {
      return Promise.reject(new SrError('AGENT_BUSY', `${this.counted} requests in flight (--max-in-flight ${this.maxQueued})`));
    }
    if (!internal) this.counted++;
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    if (!internal) {
      const done = (): void => {
        this.counted--;
      };
      p.then(done, done);
    }
    return p;
  }
}
