/** The `mptcp` converter's options and the policies its argument selects (pure). */
import { z } from 'zod';
import { isAddress } from '../../net/ip6.js';

export const mptcpOptions = z
  .object({
    port: z.number().int().min(1).max(65535).default(7780).describe("the operator-side converter's port (its proxy's mptcp.converter.port)"),
    uplinks: z
      .array(z.string().refine(isAddress, 'an IPv6 address (one of this proxy’s own, on an uplink)'))
      .min(2, 'at least two uplinks (the first carries the initial subflow)')
      .max(8)
      .refine((a) => new Set(a).size === a.length, 'an uplink is listed twice')
      .describe("this proxy's uplink addresses: the first one that is up carries the initial subflow, each other one a subflow"),
    joinWithinMs: z.number().int().min(10).max(60_000).default(3000).describe('how long to keep asking for the extra subflows while the connection is not yet fully established'),
    lowDelayCheckMs: z.number().int().min(10).max(60_000).default(100).describe("low-delay: how often the subflows' minimum RTTs are compared"),
  })
  .strict();

export type MptcpOptions = z.infer<typeof mptcpOptions>;

/** The argument's low bits pick the policy (docs/mptcp.md). */
export const POLICIES = ['bond', 'backup', 'low-delay'] as const;
export type Policy = (typeof POLICIES)[number];

export function policyFor(argument: bigint): Policy | undefined {
  return argument < BigInt(POLICIES.length) ? POLICIES[Number(argument)] : undefined;
}
