import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { parseAddress } from '../net/ip6.js';
import { srhForPath } from '../codec/srh.js';
import { routingHeaderIn } from './saved-syn.js';

function ipv6(next: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[7] = 64;
  return Buffer.concat([h, payload]);
}

const TCP = Buffer.alloc(20);
const SRH = srhForPath([parseAddress('fc00:a::1:0:0'), parseAddress('fc00:2::2')]);

test('a saved SYN without extension headers has no routing header', () => {
  assert.equal(routingHeaderIn(ipv6(6, TCP)), null);
});

test('the routing header is found after the IPv6 header and after a hop-by-hop header', () => {
  const srh = Buffer.from(SRH);
  srh[0] = 6; // its next header: TCP
  assert.deepEqual(routingHeaderIn(ipv6(43, Buffer.concat([srh, TCP]))), srh);
  const hbh = Buffer.from([43, 0, 1, 4, 0, 0, 0, 0]); // next: routing, 8 bytes, PadN
  assert.deepEqual(routingHeaderIn(ipv6(0, Buffer.concat([hbh, srh, TCP]))), srh);
});

test('malformed saved SYNs are CMSG_MALFORMED, never a crash', () => {
  const bad = (b: Buffer): void => assert.throws(() => routingHeaderIn(b), (e: unknown) => isSrError(e) && e.code === 'CMSG_MALFORMED');
  bad(Buffer.alloc(10));
  bad(Buffer.concat([Buffer.from([0x40]), Buffer.alloc(39)])); // IPv4
  bad(ipv6(43, SRH.subarray(0, 12))); // truncated SRH
  bad(ipv6(43, Buffer.from([43, 200, 4, 0, 0, 0, 0, 0]))); // length past the end
  // a loop of hop-by-hop headers that never ends
  const loop = Buffer.alloc(8 * 20);
  for (let i = 0; i < 20; i++) loop[i * 8] = 0;
  bad(ipv6(0, loop));
});
