#!/usr/bin/env node
// Issue 14: the accept path's address helpers before (the ipaddr.js code, copied here) and after, in one run.
//   node scripts/microbench-accept.mjs
// before/after in one run: the ipaddr.js-based implementations (as they were) vs the new ones
import ipaddr from 'ipaddr.js';
import { clientKey } from '../dist/src/proxy/admission.js';
import { formatAddress } from '../dist/src/net/ip6.js';
const oldFormat = (bytes, offset = 0) => ipaddr.fromByteArray(Array.from(bytes.subarray(offset, offset + 16))).toString();
function oldClientKey(address, bits) {
  const t = address.replace(/%.*$/, '').replace(/^\[|\]$/g, '');
  if (!ipaddr.IPv6.isValid(t)) return address;
  const v6 = ipaddr.IPv6.parse(t);
  const bytes = v6.toByteArray();
  const keep = v6.isIPv4MappedAddress() ? 128 : bits;
  for (let i = 0; i < 16; i++) { const left = keep - i * 8; if (left <= 0) bytes[i] = 0; else if (left < 8) bytes[i] &= (0xff << (8 - left)) & 0xff; }
  return `${ipaddr.fromByteArray(bytes).toString()}/${keep}`;
}
const addrs = Array.from({ length: 1000 }, (_, i) => `fc00:1::${(i + 2).toString(16)}`);
const bufs = addrs.map((a) => Buffer.from(ipaddr.IPv6.parse(a).toByteArray()));
const res = {};
function bench(name, fn) {
  const xs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    let n = 0;
    for (let k = 0; k < 200; k++) for (let i = 0; i < 1000; i++) { fn(i); n++; }
    xs.push(Number(process.hrtime.bigint() - t0) / n);
  }
  xs.sort((a, b) => a - b);
  res[name] = { medianNs: Math.round(xs[2]), minNs: Math.round(xs[0]), maxNs: Math.round(xs[4]) };
}
for (let round = 0; round < 2; round++) {
  bench('formatAddress before (ipaddr)', (i) => oldFormat(bufs[i]));
  bench('formatAddress after', (i) => formatAddress(bufs[i]));
  bench('clientKey before (isValid+parse+format)', (i) => oldClientKey(addrs[i], 64));
  bench('clientKey after', (i) => clientKey(addrs[i], 64));
}
console.log(JSON.stringify(res, null, 1));
