import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sidLayout } from '../codec/sid.js';
import { parseAddress } from '../net/ip6.js';
import { describeSkLookup, listenerSlots, ownPrefixKeys } from './sklookup.js';

test('listener slots: one per worker, at most 16', () => {
  assert.deepEqual([1, 2, 16, 17, 256].map(listenerSlots), [1, 2, 16, 16, 16]);
});

test('own prefixes: the locators always, every address as /128, no duplicates', () => {
  const want = ownPrefixKeys([sidLayout('fc00:a::/80')], [parseAddress('fc00:1::1'), parseAddress('::1'), parseAddress('fc00:1::1')]);
  assert.deepEqual([...want.values()].map((w) => w.what), ['fc00:a::/80', 'fc00:1::1', '::1']);
  const loc = [...want.values()][0]!.key;
  assert.equal(loc.readUInt32LE(0), 80);
  assert.equal([...want.values()][1]!.key.readUInt32LE(0), 128);
  assert.equal(ownPrefixKeys([sidLayout('fc00:a::/80')], []).size, 1);
});

test('the dry-run description names the maps and lists the program', () => {
  const lines = describeSkLookup({ locators: [sidLayout('fc00:a::/80')], workers: 3, maxOwnPrefixes: 64 });
  assert.match(lines[0]!, /LPM trie, 64 entries max: fc00:a::\/80/);
  assert.match(lines[1]!, /SOCKMAP, 3 slot\(s\)/);
  assert.equal(lines.filter((l) => l.includes('map[listeners]')).length, 3);
  assert.match(lines[lines.length - 1]!, /exit$/);
});
