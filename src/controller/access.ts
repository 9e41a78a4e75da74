/**
 * Who may ask what (pure): the controller's access lists.
 *   private lookups — what a binding SID stands for (TYPE 65281 for an ip6.arpa name) and the return
 *     hops (TYPE 65283 for return-hops.srv6pipes.arpa): the proxies' `health` addresses,
 *     `privateLookups.allow` and (the older key) `bindingSids.lookupFrom`;
 *   forwarding — an out-of-zone name goes to `upstream` only for `upstream.allow` (empty: nobody).
 * The address is the query's source: over TCP the handshake has proved it, over UDP it may be forged
 * (the answer then goes to the forged address, which a connected client socket drops).
 */
import { parseAddress, prefixContains, type Prefix6 } from '../net/ip6.js';
import type { ControllerConfig } from './config.js';

function bytesOf(client: string): Buffer | undefined {
  try {
    return parseAddress(client);
  } catch {
    return undefined;
  }
}

function inAny(prefixes: readonly Prefix6[], bytes: Buffer | undefined): boolean {
  return bytes !== undefined && prefixes.some((p) => prefixContains(p, bytes));
}

export function mayLookUpPrivate(cfg: ControllerConfig, client: string): boolean {
  const from = bytesOf(client);
  if (cfg.proxies.some((p) => p.health !== undefined && (p.health.address === client || (from !== undefined && bytesOf(p.health.address)?.equals(from) === true)))) return true;
  return inAny(cfg.privateLookups, from) || inAny(cfg.bindingSids?.lookupFrom ?? [], from);
}

export function mayForward(cfg: ControllerConfig, client: string): boolean {
  return cfg.upstream !== undefined && inAny(cfg.upstream.allow, bytesOf(client));
}
