/** A DNS server's address as operators write it: ADDR, [ADDR]:PORT or IPv4:PORT (port 53 when not given). */
import net from 'node:net';
import { SrError } from '../core/errors.js';
import { isAddress } from '../net/ip6.js';

export function parseController(text = '[::1]:53'): { address: string; port: number } {
  const t = text.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  const v4 = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(t);
  const m = bracket ?? v4;
  const address = m ? m[1]! : t;
  const port = m?.[2] !== undefined ? Number(m[2]) : 53;
  if (!(isAddress(address) || net.isIPv4(address)) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SrError('BAD_ARGUMENT', `bad controller address "${text}"`, { hint: 'write ADDR, [ADDR]:PORT or IPv4:PORT, e.g. [fc00:2::2]:53' });
  }
  return { address, port };
}
