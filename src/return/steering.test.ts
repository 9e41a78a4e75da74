import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { parseReturnHop, returnRuleset, returnSteeringPlan } from './steering.js';

describe('return steering', () => {
  test('the ruleset: per hop an MSS clamp, a dynamic set of flows from the SRH tag, an output reroute', () => {
    const r = returnRuleset([{ id: 17, sid: 'fc00:a::ffff' }, { id: 300, sid: 'fc00:b::ffff' }]);
    assert.match(r, /srh tag 17 tcp flags & \(syn \| ack\) == syn tcp option maxseg size > 1360 tcp option maxseg size set 1360/);
    assert.match(r, /set ret17 \{ type ipv6_addr \. inet_service; flags dynamic, timeout; timeout 15m; size 65536; \}/);
    assert.match(r, /srh tag 17 meta l4proto tcp update @ret17 \{ ip6 saddr \. tcp sport \} counter/);
    assert.match(r, /type route hook output priority -150/);
    assert.match(r, /meta l4proto tcp ip6 daddr \. tcp dport @ret17 meta mark set 0x10011 counter/);
    assert.match(r, /ip6 daddr \. tcp dport @ret300 meta mark set 0x1012c counter/);
    assert.match(r, /^table ip6 srv6pipes_return\ndelete table ip6 srv6pipes_return\n/, 'idempotent load');
  });

  test('the plan: the nft table, then a rule and a table per hop; nothing without hops', () => {
    const plan = returnSteeringPlan([{ id: 17, sid: 'fc00:a::ffff' }]);
    assert.equal(plan.length, 2);
    assert.match(plan[1]!.describe, /ip -6 rule add fwmark 65553 lookup 20017; .*encap seg6 mode encap segs fc00:a::ffff .*table 20017; ip -6 route replace throw fc00:a::ffff\/128 table 20017/);
    assert.deepEqual(returnSteeringPlan([]), []);
  });

  test('hops: ID=SID, ids 1..65535, each once', () => {
    assert.deepEqual(parseReturnHop('17=fc00:a:0::ffff'), { id: 17, sid: 'fc00:a::ffff' });
    const bad = (f: () => unknown, re: RegExp): void => assert.throws(f, (e: unknown) => isSrError(e, 'BAD_ARGUMENT') && re.test(e.message));
    bad(() => parseReturnHop('17:fc00::1'), /bad return hop/);
    bad(() => parseReturnHop('0=fc00::1'), /not in 1\.\.65535/);
    bad(() => parseReturnHop('70000=fc00::1'), /not in 1\.\.65535/);
    bad(() => parseReturnHop('5=nope'), /not an IPv6 address/);
    bad(() => returnSteeringPlan([{ id: 5, sid: 'fc00::1' }, { id: 5, sid: 'fc00::2' }]), /given twice/);
  });
});

test('return-agent: the given hops win over the controller’s for the same id; sorted by id', async () => {
  const { mergeHops } = await import('./return-agent.js');
  assert.deepEqual(
    mergeHops([{ id: 18, sid: 'fc00:b::1' }], [{ id: 18, sid: 'fc00:b::ffff' }, { id: 17, sid: 'fc00:a::ffff' }]),
    [{ id: 17, sid: 'fc00:a::ffff' }, { id: 18, sid: 'fc00:b::1' }],
  );
});
