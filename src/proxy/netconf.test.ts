import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sidLayout } from '../codec/sid.js';
import { netconfPhases, netconfPlan, nftRuleset } from './netconf.js';
import { seg6AcceptSteps } from '../sys/plan.js';

const params = { locators: [sidLayout('fc00:a::/80'), sidLayout('fc00:aa::/64', 8)], port: 7777, mark: 1, table: 100 };

test('the nftables ruleset holds the four rules in order, atomically replacing the table', () => {
  const r = nftRuleset(params);
  const lines = r.split('\n').map((l) => l.trim());
  assert.equal(lines[0], 'table ip6 srv6pipes');
  assert.equal(lines[1], 'delete table ip6 srv6pipes');
  const rules = lines.filter((l) => l.includes('mark'));
  assert.deepEqual(rules, [
    'ip6 daddr { fc00:a::/80, fc00:aa::/64 } meta mark set 0x1',
    'meta mark 0x1 tcp flags & (syn | ack) == syn tproxy to :7777 accept',
    'meta mark 0x1 accept',
    'meta l4proto tcp socket transparent 1 meta mark set 0x1 accept',
  ]);
});

test('the plan sets forwarding and seg6_enabled everywhere, then nft, rule and route', () => {
  const plan = netconfPlan(params, ['all', 'default', 'lo', 'eth0', 'eth0.10']).map((s) => s.describe.split('\n')[0]);
  assert.deepEqual(plan, [
    'sysctl -w net.ipv6.conf.all.forwarding=1',
    'sysctl -w net.ipv6.conf.all.seg6_enabled=1',
    'sysctl -w net.ipv6.conf.default.seg6_enabled=1',
    'sysctl -w net.ipv6.conf.lo.seg6_enabled=1',
    'sysctl -w net.ipv6.conf.eth0.seg6_enabled=1',
    'nft -f - <<EOF',
    'ip -6 rule add fwmark 1 lookup 100',
    'ip -6 route replace local ::/0 dev lo table 100',
  ]);
});

test('mptcp: the converter rule comes before TPROXY; the plan sets the path manager and limits', () => {
  const mptcp = { pathManager: 'userspace' as const, subflows: 4, converterPort: 7780, converterFrom: [] };
  const rules = nftRuleset({ ...params, mptcp }).split('\n').map((l) => l.trim()).filter((l) => l.includes('mark'));
  assert.deepEqual(rules.slice(0, 3), [
    'ip6 daddr { fc00:a::/80, fc00:aa::/64 } meta mark set 0x1',
    'meta mark 0x1 exthdr rt missing tcp dport 7780 accept',
    'meta mark 0x1 tcp flags & (syn | ack) == syn tproxy to :7777 accept',
  ]);
  const plan = netconfPlan({ ...params, mptcp }, ['all']).map((s) => s.describe.split('\n')[0]);
  assert.deepEqual(plan.slice(-3), ['sysctl -w net.mptcp.enabled=1', 'sysctl -w net.mptcp.pm_type=1', 'ip mptcp limits set subflows 4 add_addr_accepted 0']);
  assert.equal(nftRuleset({ ...params, mptcp: { ...mptcp, converterPort: null } }).includes('exthdr'), false, 'no converter, no extra rule');
});

test('accepting SRHs (the proxy and the return-agent): seg6_enabled on all, default and each interface', () => {
  assert.deepEqual(
    seg6AcceptSteps(['all', 'default', 'eth0', 'eth0.10']).map((s) => s.describe),
    ['sysctl -w net.ipv6.conf.all.seg6_enabled=1', 'sysctl -w net.ipv6.conf.default.seg6_enabled=1', 'sysctl -w net.ipv6.conf.eth0.seg6_enabled=1'],
  );
});

test('phases: sysctls and MPTCP before the workers listen; nft, fwmark rule and local route after', () => {
  const mptcp = { pathManager: 'kernel' as const, subflows: 2, converterPort: null, converterFrom: [] };
  const { host, interception } = netconfPhases(netconfPlan({ ...params, mptcp }, ['all']));
  assert.deepEqual(host.map((s) => s.describe.split(' ')[0]), ['sysctl', 'sysctl', 'sysctl', 'sysctl', 'ip']);
  assert.deepEqual(interception.map((s) => s.describe.split('\n')[0]), ['nft -f - <<EOF', 'ip -6 rule add fwmark 1 lookup 100', 'ip -6 route replace local ::/0 dev lo table 100']);
});

test('sklookup interception: the same ruleset without the tproxy rule (a BPF program assigns the listener)', () => {
  const rules = nftRuleset({ ...params, intercept: 'sklookup' })
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes('mark'));
  assert.deepEqual(rules, [
    'ip6 daddr { fc00:a::/80, fc00:aa::/64 } meta mark set 0x1',
    'meta mark 0x1 accept',
    'meta l4proto tcp socket transparent 1 socket wildcard 0 meta mark set 0x1 accept',
  ]);
  assert.ok(!nftRuleset({ ...params, intercept: 'sklookup' }).includes('tproxy'));
});
