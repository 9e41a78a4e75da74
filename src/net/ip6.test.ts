import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { isSrError } from '../core/errors.js';
import { formatAddress, isLinkLocal, parseAddress, parseHexAddress, parseScopedAddress } from './ip6.js';

test('zones as Linux names interfaces are parsed and kept (issue 12 item 7)', () => {
  for (const zone of ['eth0', 'br-lan', 'eth0.100', 'wan_1', 'vlan@home', '3', 'a'.repeat(15)]) {
    const s = parseScopedAddress(`fe80::1%${zone}`);
    assert.equal(formatAddress(s.addr), 'fe80::1');
    assert.equal(s.zone, zone);
    assert.equal(formatAddress(parseAddress(`[fe80::1%${zone}]`)), 'fe80::1');
  }
  assert.deepEqual(parseScopedAddress('fc00::1'), { addr: parseAddress('fc00::1') });
});

test('a bad zone or address is BAD_ADDRESS, never another error', () => {
  for (const text of ['fe80::1%', 'fe80::1%a/b', 'fe80::1%a:b', 'fe80::1%a b', 'fe80::1%a%b', `fe80::1%${'a'.repeat(16)}`, 'fe80::g%eth0', '%eth0', '']) {
    assert.throws(() => parseScopedAddress(text), (e) => isSrError(e, 'BAD_ADDRESS'), text);
  }
});

test('isLinkLocal: fe80::/10 only', () => {
  assert.equal(isLinkLocal(parseAddress('fe80::1%br-lan')), true);
  assert.equal(isLinkLocal(parseAddress('febf::1')), true);
  assert.equal(isLinkLocal(parseAddress('fec0::1')), false);
  assert.equal(isLinkLocal(parseAddress('fc00:1::2')), false);
});

test('formatAddress: the same RFC 5952 text as ipaddr.js, zero runs of every length and place included', () => {
  const ref = (b: Uint8Array): string => ipaddr.fromByteArray(Array.from(b)).toString();
  // groups drawn mostly from 0 so that zero runs (and ties between them) are common
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 0, max: 15 }));
  const addr = fc.array(group, { minLength: 8, maxLength: 8 }).map((gs) => Uint8Array.from(gs.flatMap((g) => [g >> 8, g & 0xff])));
  fc.assert(
    fc.property(addr, (b) => formatAddress(b) === ref(b)),
    { numRuns: 5000 },
  );
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => formatAddress(b) === ref(b)));
  for (const t of ['::', '::1', 'fe80::', '1::', '1:0:0:1:0:0:0:1', '1:0:0:1:0:0:1:1', '0:0:1:0:0:1:1:1', '1:0:1:0:1:0:1:0', '::ffff:a00:1', 'fc00:a::1:0:0']) {
    assert.equal(formatAddress(parseAddress(t)), ipaddr.parse(t).toString(), t);
  }
  // at an offset, as the SRH codec reads segments
  const buf = Buffer.concat([Buffer.from([9, 9, 9]), parseAddress('fc00:2::2')]);
  assert.equal(formatAddress(buf, 3), 'fc00:2::2');
});

test('parseHexAddress: the bytes ipaddr.js reads from plain hex text; undefined (ask ipaddr.js) for anything else', () => {
  const ipaddrBytes = (t: string): number[] | undefined => {
    try {
      return ipaddr.IPv6.parse(t).toByteArray();
    } catch {
      return undefined;
    }
  };
  const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  const addr = fc.array(group, { minLength: 8, maxLength: 8 }).map((gs) => Uint8Array.from(gs.flatMap((g) => [g >> 8, g & 0xff])));
  // the text forms a peer address comes in, and their upper-case and full (leading zeros) variants
  const forms = fc.tuple(addr, fc.constantFrom('rfc5952', 'upper', 'full', 'normalized')).map(([b, f]) => {
    const a = ipaddr.fromByteArray(Array.from(b)) as ipaddr.IPv6;
    return f === 'upper' ? a.toString().toUpperCase() : f === 'full' ? a.parts.map((p) => p.toString(16).padStart(4, '0')).join(':') : f === 'normalized' ? a.toNormalizedString() : a.toString();
  });
  fc.assert(fc.property(forms, (t) => JSON.stringify(parseHexAddress(t)) === JSON.stringify(ipaddrBytes(t))), { numRuns: 3000 });
  // near-addresses: whatever it accepts, ipaddr.js reads the same bytes from
  const near = fc.array(fc.constantFrom('0', '1', 'f', 'A', 'ffff', '12345', ':', ':', ':', '::', '.', 'g', '%', '1.2.3.4'), { minLength: 0, maxLength: 20 }).map((p) => p.join(''));
  fc.assert(
    fc.property(near, (t) => {
      const mine = parseHexAddress(t);
      return mine === undefined || JSON.stringify(mine) === JSON.stringify(ipaddrBytes(t));
    }),
    { numRuns: 20000 },
  );
  for (const t of ['::', '::1', '1::', 'fe80::', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8', 'fc00:1::2']) assert.deepEqual(parseHexAddress(t), ipaddrBytes(t), t);
  for (const t of [':', ':::', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '::1:2:3:4:5:6:7:8', '12345::', 'g::', '::ffff:1.2.3.4', 'fe80::1%eth0', '[::1]', '', '1:2:3:4:5:6:7:8::']) assert.equal(parseHexAddress(t), undefined, t);
});
