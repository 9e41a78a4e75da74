import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressSchema, ipv6Schema, locatorsSchema, logLevelSchema, portSchema, prefixSchema, returnHopSchema } from './schemas.js';

test('locators become SID layouts; a layout past 128 bits names the locator', () => {
  const [l] = locatorsSchema.parse([{ prefix: 'fc00:a::/80' }]);
  assert.equal(l!.functionBits, 16);
  assert.equal(l!.locator.length, 80);
  const bad = locatorsSchema.safeParse([{ prefix: 'fc00:a::/120', functionBits: 16 }]);
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error!.issues[0]!.path, [0]);
  assert.match(bad.error!.issues[0]!.message, /more than 128/);
  assert.deepEqual(locatorsSchema.safeParse([{ prefix: 'fc00:a::' }]).error!.issues[0]!.path, [0, 'prefix']);
  assert.equal(locatorsSchema.safeParse([]).success, false);
  assert.equal(locatorsSchema.safeParse([{ prefix: 'fc00:a::/80', functionBits: 33 }]).success, false);
});

test('addresses, prefixes, ports, return hops, log levels', () => {
  assert.equal(prefixSchema.safeParse('fc00:a::/80').success, true);
  assert.equal(prefixSchema.safeParse('fc00:a::').success, false);
  assert.equal(ipv6Schema.safeParse('192.0.2.1').success, false);
  assert.equal(addressSchema.safeParse('192.0.2.1').success, true);
  assert.equal(addressSchema.safeParse('999.0.2.1').success, false);
  assert.equal(portSchema.safeParse(0).success, false);
  assert.equal(portSchema.safeParse(65535).success, true);
  assert.equal(returnHopSchema.safeParse({ id: 0, sid: 'fc00::1' }).success, false);
  assert.equal(returnHopSchema.safeParse({ id: 17, sid: 'fc00::1', extra: 1 }).success, false);
  assert.equal(logLevelSchema.parse(undefined), 'info');
  assert.equal(logLevelSchema.safeParse('loud').success, false);
});
