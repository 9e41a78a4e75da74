import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FlowRecord } from '../proxy/flow.js';
import { flowRows } from './flow-table.js';

const row = (over: Partial<FlowRecord>): FlowRecord => ({
  id: 1,
  functionId: 2,
  function: 'xor',
  version: 1,
  argument: '90',
  client: '[fc00:1::2]:40000',
  server: '[fc00:2::2]:80',
  nextHop: 'fc00:2::2',
  state: 'open',
  ageMs: 2400,
  idleMs: 0,
  bytesUp: 10,
  bytesDown: 20,
  bufferedUp: 0,
  bufferedDown: 0,
  ...over,
});

test('flows table: a RELAY column says which relay carries each flow (native or js)', () => {
  const rows = flowRows([row({ relay: 'native' }), row({ id: 2, function: 'chain(compress,decompress)', downstreamFn: 3, end: 'ok', state: 'closing' })]);
  const at = rows[0]!.indexOf('RELAY');
  assert.ok(at > 0);
  assert.deepEqual(rows.slice(1).map((r) => [r[0], r[1], r[at], r[at - 1]]), [
    ['1', '2', 'native', 'open'],
    ['2', '2/3', 'js', 'closing (ok)'],
  ]);
  assert.ok(rows.every((r) => r.length === rows[0]!.length));
});
