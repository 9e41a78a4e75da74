import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { formatAddress, isLinkLocal, parseAddress, parseScopedAddress } from './ip6.js';

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
