import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHECKS, formatReport, markClashes, runDoctor, type DoctorNeeds } from './doctor.js';

// no journal of this machine's namespace is read
process.env['SRV6PIPES_STATE_DIR'] = mkdtempSync(join(tmpdir(), 'srv6pipes-doctor-'));

const needs: DoctorNeeds = { source: 'test', netconf: true, intercept: 'sklookup', mark: 0x1000000, table: 7777, mptcp: false, converter: false, returnSteering: false, nofile: 1024 };
const probes = (results: Record<string, string>) => ({ results });
const ALL_OK = Object.fromEntries(['route:encap', 'route:End', 'route:End.B6.Encaps', 'nft:tproxy', 'nft:socket', 'nft:wildcard', 'nft:exthdr', 'nft:srh', 'transparent', 'mptcp', 'sklookup'].map((k) => [k, 'ok']));

test('mark clashes: a rule using the bit or the table, a foreign route in the table; ours (protocol 177) and other bits are fine', () => {
  const rules = [
    '0:\tfrom all lookup local',
    '32760:\tfrom all fwmark 0x1 lookup 100',
    '32761:\tfrom all fwmark 0x3000000/0x3000000 lookup 50',
    '32762:\tfrom all fwmark 0x1000000/0x1000000 lookup 7777 proto 177',
    '32763:\tfrom all iif eth1 lookup 7777',
    '32764:\tfrom all fwmark 0x1000000/0xff lookup 60',
    '32766:\tfrom all lookup main',
  ].join('\n');
  const { clash, foreign } = markClashes(rules, 'local default dev lo proto 177 metric 1024 pref medium\ndefault via fe80::1 dev eth0 metric 1024\n', 0x1000000, 7777);
  assert.deepEqual(clash, ['32761:\tfrom all fwmark 0x3000000/0x3000000 lookup 50', '32763:\tfrom all iif eth1 lookup 7777']);
  assert.deepEqual(foreign, ['default via fe80::1 dev eth0 metric 1024']);
});

test('without probes (not root) the probing checks say skip, with the reason and a fix; the table checks each kernel feature once', async () => {
  const rep = await runDoctor(needs, { unavailable: 'not root', results: {} });
  const skipped = rep.checks.filter((c) => c.status === 'skip' && /not probed: not root/.test(c.detail)).map((c) => c.check);
  assert.deepEqual(skipped, ['seg6.encap', 'seg6local.End', 'seg6local.End.B6.Encaps', 'nft.tproxy', 'nft.socket', 'nft.socket-wildcard', 'nft.exthdr-rt', 'nft.srh-sets', 'sockopt.IPV6_TRANSPARENT', 'bpf.sk_lookup', 'mptcp.socket']);
  assert.equal(new Set(rep.checks.map((c) => c.check)).size, rep.checks.length, 'one line per check');
  assert.equal(new Set(CHECKS.map((c) => c.name)).size, CHECKS.length);
});

test('a failed probe fails only when the configuration needs it; ok is false then', async () => {
  const broken = { ...ALL_OK, sklookup: 'BPF_UNSUPPORTED attaching', mptcp: 'EPROTONOSUPPORT', 'nft:tproxy': 'nft refused it: No such file or directory' };
  const rep = await runDoctor(needs, probes(broken));
  const st = (c: string) => rep.checks.find((x) => x.check === c)!;
  assert.equal(st('bpf.sk_lookup').status, 'fail');
  assert.match(st('bpf.sk_lookup').fix!, /netconf\.intercept: tproxy/);
  assert.equal(st('mptcp.socket').status, 'warn', 'no mptcp section: a warning');
  assert.equal(st('nft.tproxy').status, 'warn', 'sklookup interception: tproxy not needed');
  assert.equal(rep.ok, false);
  const tproxy = await runDoctor({ ...needs, intercept: 'tproxy', mptcp: true }, probes(broken));
  const st2 = (c: string) => tproxy.checks.find((x) => x.check === c)!;
  assert.equal(st2('bpf.sk_lookup').status, 'warn');
  assert.equal(st2('mptcp.socket').status, 'fail');
  assert.equal(st2('nft.tproxy').status, 'fail');
});

test('the report: one line per check, the fix under a warn or fail, a count', async () => {
  const rep = await runDoctor(needs, probes({ ...ALL_OK, transparent: 'NOT_ROOT not permitted' }));
  const text = formatReport(rep);
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0]!, /^srv6pipes doctor: Linux \S+; needs of test$/);
  const checkLines = lines.filter((l) => /^(ok|warn|fail|skip) /.test(l));
  assert.equal(checkLines.length, rep.checks.length);
  const i = lines.findIndex((l) => /^fail +sockopt\.IPV6_TRANSPARENT +NOT_ROOT/.test(l));
  assert.ok(i > 0, text);
  assert.match(lines[i + 1]!, /^ +fix: CAP_NET_ADMIN/);
  assert.match(lines.at(-1)!, /^\d+ ok, \d+ warn, [1-9]\d* fail, \d+ skipped$/);
});
