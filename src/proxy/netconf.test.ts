import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sidLayout } from '../codec/sid.js';
import { DEFAULT_MARK, DEFAULT_TABLE, netconfPhases, netconfPlan, nftRuleset } from './netconf.js';
import { confKey, seg6AcceptSteps, sysctlKey } from '../sys/plan.js';
import { validateProxyConfig } from './config.js';
import { isSrError } from '../core/errors.js';

const params = { locators: [sidLayout('fc00:a::/80'), sidLayout('fc00:aa::/64', 8)], port: 7777, mark: 1, table: 100 };

test('the nftables ruleset holds the four rules in order, atomically replacing the table; the mark is ORed in and matched under its mask', () => {
  const r = nftRuleset(params);
  const lines = r.split('\n').map((l) => l.trim());
  assert.equal(lines[0], 'table ip6 srv6pipes');
  assert.equal(lines[1], 'delete table ip6 srv6pipes');
  const rules = lines.filter((l) => l.includes('mark'));
  assert.deepEqual(rules, [
    'ip6 daddr { fc00:a::/80, fc00:aa::/64 } meta mark set meta mark | 0x1',
    'meta mark & 0x1 == 0x1 tcp flags & (syn | ack) == syn tproxy to :7777 accept',
    'meta mark & 0x1 == 0x1 accept',
    'meta l4proto tcp socket transparent 1 meta mark set meta mark | 0x1 accept',
  ]);
  assert.doesNotMatch(r, /meta mark set 0x/, 'no rule overwrites the whole packet mark');
});

test('defaults: mark 0x1000000 and table 7777, not mark 1 / table 100 of the usual TPROXY recipes; configurable and validated', () => {
  const base = { locators: [{ prefix: 'fc00:a::/80' }], functions: [{ id: 1, function: 'copy' }] };
  assert.deepEqual(validateProxyConfig(base).netconf, { mark: DEFAULT_MARK, table: DEFAULT_TABLE, intercept: 'sklookup', ownPrefixes: 4096 });
  assert.equal(DEFAULT_MARK, 0x1000000);
  assert.equal(DEFAULT_TABLE, 7777);
  assert.deepEqual(validateProxyConfig({ ...base, netconf: { mark: 0x20, table: 42 } }).netconf, { mark: 0x20, table: 42, intercept: 'sklookup', ownPrefixes: 4096 });
  const plan = netconfPlan({ locators: params.locators, port: 7777, mark: DEFAULT_MARK, table: DEFAULT_TABLE }, ['all']).map((s) => s.describe.split('\n')[0]);
  assert.deepEqual(plan.slice(-2), ['ip -6 rule add fwmark 0x1000000/0x1000000 lookup 7777 protocol 177', 'ip -6 route replace local ::/0 dev lo table 7777 proto 177']);
  for (const bad of [{ mark: 0 }, { mark: 2 ** 32 }, { table: 254 }, { table: 0 }, { mark: 'one' }]) {
    assert.throws(() => validateProxyConfig({ ...base, netconf: bad }), (e: unknown) => isSrError(e, 'CONFIG_INVALID') && /netconf/.test(e.message), JSON.stringify(bad));
  }
});

test('the plan sets forwarding (accept_ra kept working) and seg6_enabled everywhere, VLANs included, then nft, rule and route', () => {
  const plan = netconfPlan(params, ['all', 'default', 'lo', 'eth0', 'eth0.10']).map((s) => s.describe.split('\n')[0]);
  assert.deepEqual(plan, [
    'sysctl -w net.ipv6.conf.all.forwarding=1 (first accept_ra=2 on each interface where it is 1, when forwarding was off: keeps a default route learnt from router advertisements)',
    'sysctl -w net.ipv6.conf.all.seg6_enabled=1',
    'sysctl -w net.ipv6.conf.default.seg6_enabled=1',
    'sysctl -w net.ipv6.conf.lo.seg6_enabled=1',
    'sysctl -w net.ipv6.conf.eth0.seg6_enabled=1',
    'sysctl -w net.ipv6.conf.eth0/10.seg6_enabled=1',
    'nft -f - <<EOF',
    'ip -6 rule add fwmark 0x1/0x1 lookup 100 protocol 177',
    'ip -6 route replace local ::/0 dev lo table 100 proto 177',
  ]);
});

test('sysctl keys of dotted interface names: sysctl(8) swaps . and /; the /proc/sys path keeps the dot', () => {
  assert.deepEqual(confKey('eth0.10', 'seg6_enabled'), { key: 'net.ipv6.conf.eth0/10.seg6_enabled', path: '/proc/sys/net/ipv6/conf/eth0.10/seg6_enabled' });
  assert.deepEqual(sysctlKey(['net', 'ipv6', 'conf', 'all', 'forwarding']), { key: 'net.ipv6.conf.all.forwarding', path: '/proc/sys/net/ipv6/conf/all/forwarding' });
});

test('mptcp: the converter rule comes before TPROXY; the plan sets the path manager and limits', () => {
  const mptcp = { pathManager: 'userspace' as const, subflows: 4, converterPort: 7780, converterFrom: [] };
  const rules = nftRuleset({ ...params, mptcp }).split('\n').map((l) => l.trim()).filter((l) => l.includes('mark'));
  assert.deepEqual(rules.slice(0, 3), [
    'ip6 daddr { fc00:a::/80, fc00:aa::/64 } meta mark set meta mark | 0x1',
    'meta mark & 0x1 == 0x1 exthdr rt missing tcp dport 7780 accept',
    'meta mark & 0x1 == 0x1 tcp flags & (syn | ack) == syn tproxy to :7777 accept',
  ]);
  const plan = netconfPlan({ ...params, mptcp }, ['all']).map((s) => s.describe.split('\n')[0]);
  assert.deepEqual(plan.slice(-3), ['sysctl -w net.mptcp.enabled=1', 'sysctl -w net.mptcp.pm_type=1', 'ip mptcp limits set subflows 4 add_addr_accepted 0']);
  assert.equal(nftRuleset({ ...params, mptcp: { ...mptcp, converterPort: null } }).includes('exthdr'), false, 'no converter, no extra rule');
});

test('accepting SRHs (the proxy and the return-agent): seg6_enabled on all, default and each interface', () => {
  assert.deepEqual(
    seg6AcceptSteps(['all', 'default', 'eth0', 'eth0.10']).map((s) => s.describe),
    ['sysctl -w net.ipv6.conf.all.seg6_enabled=1', 'sysctl -w net.ipv6.conf.default.seg6_enabled=1', 'sysctl -w net.ipv6.conf.eth0.seg6_enabled=1', 'sysctl -w net.ipv6.conf.eth0/10.seg6_enabled=1'],
  );
});

test('phases: sysctls and MPTCP before the workers listen; nft, fwmark rule and local route after', () => {
  const mptcp = { pathManager: 'kernel' as const, subflows: 2, converterPort: null, converterFrom: [] };
  const { host, interception } = netconfPhases(netconfPlan({ ...params, mptcp }, ['all']));
  assert.deepEqual(host.map((s) => s.describe.split(' ')[0]), ['sysctl', 'sysctl', 'sysctl', 'sysctl', 'ip']);
  assert.deepEqual(interception.map((s) => s.describe.split('\n')[0]), ['nft -f - <<EOF', 'ip -6 rule add fwmark 0x1/0x1 lookup 100 protocol 177', 'ip -6 route replace local ::/0 dev lo table 100 proto 177']);
});

test('sklookup interception: the same ruleset without the tproxy rule (a BPF program assigns the listener)', () => {
  const rules = nftRuleset({ ...params, intercept: 'sklookup' })
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes('mark'));
  assert.deepEqual(rules, [
    'ip6 daddr { fc00:a::/80, fc00:aa::/64 } meta mark set meta mark | 0x1',
    'meta mark & 0x1 == 0x1 accept',
    'meta l4proto tcp socket transparent 1 socket wildcard 0 meta mark set meta mark | 0x1 accept',
  ]);
  assert.ok(!nftRuleset({ ...params, intercept: 'sklookup' }).includes('tproxy'));
});
