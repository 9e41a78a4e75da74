import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFunction } from '../../sdk/testing.js';
import { parseAddress } from '../../net/ip6.js';
import { isSrError } from '../../core/errors.js';
import { BAD_ARGUMENT_ENDING } from '../../sdk/spawn.js';
import { mptcp, uplinkOrder } from './index.js';
import { mptcpOptions, policyFor } from './options.js';

test('the argument picks the policy: 0 bond, 1 backup, 2 low-delay, anything else none', () => {
  assert.equal(policyFor(0n), 'bond');
  assert.equal(policyFor(1n), 'backup');
  assert.equal(policyFor(2n), 'low-delay');
  assert.equal(policyFor(3n), undefined);
  assert.equal(policyFor(1n << 31n), undefined);
});

test('options: at least two distinct uplink addresses, a port, defaults', () => {
  const ok = mptcpOptions.safeParse({ uplinks: ['fc00:31::1', 'fc00:32::1'] });
  assert.ok(ok.success);
  assert.equal(ok.data.port, 7780);
  assert.equal(ok.data.lowDelayCheckMs, 100);
  const issues = (o: unknown): string[] => {
    const r = mptcpOptions.safeParse(o);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.match(issues({ uplinks: ['fc00:31::1'] }).join(), /uplinks: at least two uplinks/);
  assert.match(issues({ uplinks: ['fc00:31::1', 'fc00:31::1'] }).join(), /uplinks: an uplink is listed twice/);
  assert.match(issues({ uplinks: ['fc00:31::1', 'nope'] }).join(), /uplinks\.1: an IPv6 address/);
  assert.match(issues({ uplinks: ['fc00:31::1', 'fc00:32::1'], port: 0 }).join(), /port/);
});

test('an unknown policy in the argument is a bad argument: rejected before anything is spawned or opened', async () => {
  const r = await runFunction(mptcp, { options: { uplinks: ['fc00:31::1', 'fc00:32::1'] }, argument: 3, upstream: Buffer.from('x') });
  assert.equal(r.reset, BAD_ARGUMENT_ENDING);
  assert.ok(isSrError(r.error, 'FLOW_BAD_ARGUMENT'), String(r.error));
  assert.match((r.error as Error).message, /mptcp: argument 3: not a policy \(0 bond, 1 backup, 2 low-delay\)/);
  assert.equal(r.upstream.length, 0);
});

test('the descriptor declares what it needs: the userspace path manager, and the policy argument', () => {
  assert.deepEqual(mptcp.requires, ['mptcp-userspace']);
  assert.match(mptcp.argument!.description, /0 bond, 1 backup, 2 low-delay/);
});

test('uplink order: the live ones first, in the configured order; the rest after', () => {
  const live = (...a: string[]) => new Set(a.map((x) => parseAddress(x).toString('hex')));
  const uplinks = ['fc00:31::1', 'fc00:32::1', 'fc00:33::1'];
  assert.deepEqual(uplinkOrder(uplinks, live('fc00:31::1', 'fc00:32::1', 'fc00:33::1')), uplinks);
  assert.deepEqual(uplinkOrder(uplinks, live('fc00:32::1', 'fc00:33:0::1')), ['fc00:32::1', 'fc00:33::1', 'fc00:31::1']);
  assert.deepEqual(uplinkOrder(uplinks, live()), uplinks, 'none known to be up: as configured');
});
