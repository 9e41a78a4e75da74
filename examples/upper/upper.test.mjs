// The example module's tests: its own behaviour, and the conformance suite every function must pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conformance, runFunction } from 'srv6pipes/testing';
import upper from './upper.mjs';

test('upper-cases upstream only, by default', async () => {
  const r = await runFunction(upper, { upstream: Buffer.from('hello, SRv6!'), downstream: Buffer.from('reply') });
  assert.equal(r.upstream.toString(), 'HELLO, SRV6!');
  assert.equal(r.downstream.toString(), 'reply');
  assert.equal(r.metrics.get('upper_letters_total', { direction: 'up' }), 6); // h e l l o v
});

test('both directions with { downstream: true }; bad options name the field', async () => {
  const r = await runFunction(upper, { options: { downstream: true }, downstream: Buffer.from('reply') });
  assert.equal(r.downstream.toString(), 'REPLY');
  await assert.rejects(runFunction(upper, { options: { downstream: 'yes' } }), /options\.downstream/);
});

test('an argument other than 0 is refused before the flow is spawned', async () => {
  const r = await runFunction(upper, { argument: 5, upstream: Buffer.from('hello') });
  assert.equal(r.reset, 'bad_argument');
  assert.equal(r.error.code, 'FLOW_BAD_ARGUMENT');
  assert.equal(r.upstream.length, 0);
});

conformance(upper, [{ name: 'default' }, { name: 'both directions', options: { downstream: true } }]);
