import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNftTables, parseRouteTables, parseRules } from './leftovers.js';

test('rules: only protocol 177 (iproute2 6.1 lists every rule even with `show protocol 177`)', () => {
  const shown = [
    '0:\tfrom all lookup local',
    '32764:\tfrom all fwmark 0x1 lookup 100',
    '32765:\tfrom all fwmark 0x1000000/0x1000000 lookup 7777 proto 177',
    '32766:\tfrom all lookup main',
    '32767:\tfrom all lookup default',
  ].join('\n');
  assert.deepEqual(parseRules(shown), [{ priority: 32765, args: ['fwmark', '0x1000000/0x1000000', 'lookup', '7777', 'protocol', '177'] }]);
});

test('routes: the tables of proto 177 routes only', () => {
  const shown = 'local default dev lo table 7777 proto 177 metric 1024 pref medium\nlocal default dev lo table 100 metric 1024 pref medium\ndefault encap seg6 mode encap segs 1 [ fc00:a::ffff ] via fc00:1::1 dev eth0 table 20017 proto 177 metric 1024 pref medium\n';
  assert.deepEqual(parseRouteTables(shown), [7777, 20017]);
});

test('nft tables: srv6pipes and srv6pipes_* only', () => {
  assert.deepEqual(parseNftTables('table ip6 srv6pipes\ntable ip6 srv6pipes_return\ntable inet filter\ntable ip6 srv6pipesx\n'), [
    { family: 'ip6', table: 'srv6pipes' },
    { family: 'ip6', table: 'srv6pipes_return' },
  ]);
});

test('a live process’s rule is recognised whatever the notation of its mark (65553 given, 0x10011 shown)', async () => {
  const { sameLeftover } = await import('./leftovers.js');
  assert.ok(sameLeftover({ kind: 'rule', args: ['fwmark', '65553', 'lookup', '20017'] }, { kind: 'rule', args: ['fwmark', '0x10011', 'lookup', '20017', 'protocol', '177'] }));
  assert.ok(!sameLeftover({ kind: 'rule', args: ['fwmark', '65553', 'lookup', '20017'] }, { kind: 'rule', args: ['fwmark', '0x10012', 'lookup', '20018'] }));
  assert.ok(sameLeftover({ kind: 'rule', args: ['fwmark', '0x1000000/0x1000000', 'lookup', '7777'] }, { kind: 'rule', args: ['fwmark', '16777216/16777216', 'lookup', '7777'] }));
});
