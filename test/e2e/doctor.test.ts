/**
 * Host defaults that are safe on real machines, `srv6pipes doctor` and `srv6pipes cleanup` (issue 15,
 * items 5 and 8), in a fig5 lab: m1 is made a stock host first — forwarding off, a default route
 * learnt from a router advertisement (the client sends a real one), a VLAN `eth0.10` with
 * seg6_enabled=0. The proxy must keep the RA route (accept_ra=2 before forwarding=1), accept SRHs on
 * the VLAN, and give everything back on SIGTERM. After a SIGKILL the doctor reports what is left and
 * `cleanup` removes it: the doctor is clean again.
 */
// run-tests: relay-independent (host state, not bytes: the JavaScript-relay pass of scripts/run-tests.mjs skips this file)
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import type { DoctorReport } from '../../src/sys/doctor.js';
import { BIN, exited, proxyYaml, startDaemon, startProxy, withLab } from '../helpers/harness.js';
import { examplePath } from '../../src/config/examples.js';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A router advertisement (lifetime 1800 s, no prefix) from the client's eth0 link-local address to ff02::1. */
const SEND_RA = `
import socket, struct
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
ifindex = socket.if_nametoindex('eth0')
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
s.sendto(struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 1800, 0, 0), ('ff02::1', 0, 0, ifindex))
`;

async function sysctl(lab: Lab, host: string, key: string): Promise<string> {
  const r = await lab.exec(host, ['sysctl', '-n', key]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function must(lab: Lab, host: string, argv: string[]): Promise<string> {
  const r = await lab.exec(host, argv);
  assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function doctor(lab: Lab): Promise<{ code: number; report: DoctorReport }> {
  return doctorOn(lab, 'm1');
}

async function doctorOn(lab: Lab, host: string): Promise<{ code: number; report: DoctorReport }> {
  const r = await lab.exec(host, [process.execPath, BIN, 'doctor', '--json']);
  try {
    return { code: r.code, report: JSON.parse(r.stdout) as DoctorReport };
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

const leftovers = (rep: DoctorReport) => rep.checks.filter((c) => c.check === 'leftovers');
const RA_ROUTE = /default via fe80::\S+ dev eth0 proto ra/;

/** Polls until `check` returns true (or fails with `what` after `ms`). */
async function eventually(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('host defaults, doctor and cleanup (issue 15)', () => {
  test('RA default route kept, VLAN accepts SRHs, SIGTERM restores; after SIGKILL doctor reports and cleanup removes the leftovers', async () => {
    await withLab('fig5', async (lab) => {
      // m1 as a stock host: forwarding off, accept_ra=1, a VLAN with seg6_enabled=0
      await must(lab, 'm1', ['sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=0', 'net.ipv6.conf.default.forwarding=0', 'net.ipv6.conf.eth0.accept_ra=1']);
      // a VLAN where the kernel has 8021q; else a veth pair with the same dotted name (what matters is the name)
      const vlan = await lab.exec('m1', ['ip', 'link', 'add', 'link', 'eth0', 'name', 'eth0.10', 'type', 'vlan', 'id', '10']);
      if (vlan.code !== 0) await must(lab, 'm1', ['ip', 'link', 'add', 'eth0.10', 'type', 'veth', 'peer', 'name', 'peer.10']);
      await must(lab, 'm1', ['sysctl', '-q', '-w', 'net.ipv6.conf.eth0/10.seg6_enabled=0', 'net.ipv6.conf.lo.seg6_enabled=0']);
      await must(lab, 'client', ['python3', '-c', SEND_RA]);
      await eventually('m1 learns a default route from the RA', 5000, async () => RA_ROUTE.test(await must(lab, 'm1', ['ip', '-6', 'route', 'show', 'default'])));

      // the doctor of a clean host: every probe passes, its namespace is gone, nothing left over
      const clean = await doctor(lab);
      assert.equal(clean.code, 0, JSON.stringify(clean.report.checks, null, 1));
      for (const c of ['nft.tproxy', 'nft.socket', 'nft.socket-wildcard', 'sockopt.IPV6_TRANSPARENT', 'bpf.sk_lookup', 'seg6local.End.B6.Encaps', 'seg6.encap', 'leftovers']) {
        assert.equal(clean.report.checks.find((x) => x.check === c)?.status, 'ok', `${c}: ${JSON.stringify(clean.report.checks.find((x) => x.check === c))}`);
      }
      assert.match(clean.report.checks.find((c) => c.check === 'forwarding')!.detail, /accept_ra=2 first on .*eth0/);
      assert.doesNotMatch((await must(lab, 'm1', ['ip', 'netns', 'list'])), /srv6pipes-doctor/);

      const config = proxyYaml('fc00:a::/80', ['{ id: 1, function: copy }']);
      const proxy = await startProxy(lab, 'm1', config);
      assert.equal(await sysctl(lab, 'm1', 'net.ipv6.conf.all.forwarding'), '1');
      assert.equal(await sysctl(lab, 'm1', 'net.ipv6.conf.eth0.accept_ra'), '2');
      assert.equal(await sysctl(lab, 'm1', 'net.ipv6.conf.eth0/10.seg6_enabled'), '1', 'the VLAN accepts SRHs');
      assert.match(await must(lab, 'm1', ['ip', '-6', 'route', 'show', 'default']), RA_ROUTE, 'forwarding on kept the RA default route');
      assert.match(await must(lab, 'm1', ['ip', '-6', 'rule', 'show']), /fwmark 0x1000000\/0x1000000 lookup 7777 proto 177/);
      const running = await doctor(lab);
      assert.deepEqual(leftovers(running.report).map((c) => c.status), ['ok']);
      assert.match(leftovers(running.report)[0]!.detail, new RegExp(`in use by live srv6pipes process ${proxy.child.pid}|in use by live`));
      assert.equal(await proxy.stop(), 0);
      assert.equal(await sysctl(lab, 'm1', 'net.ipv6.conf.all.forwarding'), '0', 'SIGTERM: forwarding back');
      assert.equal(await sysctl(lab, 'm1', 'net.ipv6.conf.eth0.accept_ra'), '1', 'SIGTERM: accept_ra back');
      assert.equal(await sysctl(lab, 'm1', 'net.ipv6.conf.eth0/10.seg6_enabled'), '0', 'SIGTERM: seg6_enabled back');
      assert.match(await must(lab, 'm1', ['ip', '-6', 'route', 'show', 'default']), RA_ROUTE);

      // SIGKILL: nothing is reverted
      const killed = await startProxy(lab, 'm1', config);
      const workers = (await must(lab, 'm1', ['pgrep', '-P', String(killed.child.pid)])).trim().split(/\s+/).filter(Boolean).map(Number);
      // lab.spawn runs `ip netns exec NS node …`: the daemon is that node process (exec'd in place)
      killed.child.kill('SIGKILL');
      await exited(killed.child);
      await eventually('the workers exit after their primary', 10000, async () => (await must(lab, 'm1', ['sh', '-c', `for p in ${workers.join(' ')}; do kill -0 $p 2>/dev/null && echo $p; done; true`])).trim() === '');
      const after = await doctor(lab);
      assert.equal(after.code, 1, 'leftovers fail the doctor');
      const found = leftovers(after.report).map((c) => c.detail).join('\n');
      for (const re of [/nft table ip6 srv6pipes/, /ip -6 rule fwmark 0x1000000\/0x1000000 lookup 7777/, /table 7777/, /net\.ipv6\.conf\.all\.forwarding=1 \(was 0\)/, /net\.ipv6\.conf\.eth0\.accept_ra=2 \(was 1\)/, /net\.ipv6\.conf\.eth0\/10\.seg6_enabled=1 \(was 0\)/]) {
        assert.match(found, re);
      }
      assert.ok(leftovers(after.report).every((c) => c.status === 'fail' && /srv6pipes cleanup/.test(c.fix ?? '')));

      const dry = await lab.exec('m1', [process.execPath, BIN, 'cleanup', '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /would remove: nft table ip6 srv6pipes/);
      assert.match(await must(lab, 'm1', ['nft', 'list', 'tables']), /srv6pipes/, '--dry-run changes nothing');
      const cleanup = await lab.exec('m1', [process.execPath, BIN, 'cleanup']);
      assert.equal(cleanup.code, 0, `${cleanup.stdout}\n${cleanup.stderr}`);
      assert.match(cleanup.stdout, /removed: nft table ip6 srv6pipes/);

      assert.doesNotMatch(await must(lab, 'm1', ['nft', 'list', 'tables']), /srv6pipes/);
      assert.doesNotMatch(await must(lab, 'm1', ['ip', '-6', 'rule', 'show']), /lookup 7777/);
      assert.equal((await must(lab, 'm1', ['ip', '-6', 'route', 'show', 'table', '7777'])).trim(), '');
      assert.equal(await sysctl(lab, 'm1', 'net.ipv6.conf.all.forwarding'), '0');
      assert.equal(await sysctl(lab, 'm1', 'net.ipv6.conf.eth0.accept_ra'), '1');
      assert.equal(await sysctl(lab, 'm1', 'net.ipv6.conf.eth0/10.seg6_enabled'), '0');
      assert.match(await must(lab, 'm1', ['ip', '-6', 'route', 'show', 'default']), RA_ROUTE);
      const again = await doctor(lab);
      assert.deepEqual(leftovers(again.report).map((c) => c.status), ['ok'], JSON.stringify(leftovers(again.report)));
      assert.equal(again.code, 0, JSON.stringify(again.report.checks.filter((c) => c.status === 'fail')));
      const twice = await lab.exec('m1', [process.execPath, BIN, 'cleanup']);
      assert.match(twice.stdout, /nothing left over/);
    });
  });

  test('cleanup finds interception left without a journal (by name and protocol 177), and leaves foreign rules alone', async () => {
    await withLab('fig5', async (lab) => {
      await must(lab, 'm1', ['nft', 'add', 'table', 'ip6', 'srv6pipes']);
      await must(lab, 'm1', ['ip', '-6', 'rule', 'add', 'fwmark', '0x1000000/0x1000000', 'lookup', '7777', 'protocol', '177']);
      await must(lab, 'm1', ['ip', '-6', 'route', 'replace', 'local', '::/0', 'dev', 'lo', 'table', '7777', 'proto', '177']);
      // somebody else's TPROXY setup: mark 1, table 100
      await must(lab, 'm1', ['ip', '-6', 'rule', 'add', 'fwmark', '1', 'lookup', '100']);
      await must(lab, 'm1', ['ip', '-6', 'route', 'replace', 'local', '::/0', 'dev', 'lo', 'table', '100']);
      const before = await doctor(lab);
      assert.equal(before.code, 1);
      assert.equal(leftovers(before.report).length, 3, JSON.stringify(leftovers(before.report)));
      const cleanup = await lab.exec('m1', [process.execPath, BIN, 'cleanup', '--json']);
      assert.equal(cleanup.code, 0, cleanup.stderr);
      assert.equal((JSON.parse(cleanup.stdout) as { removed: string[] }).removed.length, 3);
      const rules = await must(lab, 'm1', ['ip', '-6', 'rule', 'show']);
      assert.doesNotMatch(rules, /lookup 7777/);
      assert.match(rules, /fwmark 0x1 lookup 100/, 'the foreign rule stays');
      assert.match(await must(lab, 'm1', ['ip', '-6', 'route', 'show', 'table', '100']), /local default dev lo/);
      assert.deepEqual(leftovers((await doctor(lab)).report).map((c) => c.status), ['ok']);
    });
  });

  test('the agents: a SIGKILLed return agent and access-router agent (started from the example configs) leave state that cleanup removes; a live one is left alone', async () => {
    await withLab('fig5', async (lab) => {
      // the return agent (examples/return-agent.yaml) on the server, the access-router agent on m1
      await must(lab, 'server', ['sysctl', '-q', '-w', 'net.ipv6.conf.eth0.seg6_enabled=0']);
      const ret = await startDaemon(lab, 'server', ['return-agent', '--config', examplePath('return-agent.yaml')], 'return agent started');
      const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-ar-'));
      copyFileSync(examplePath('access-router.yaml'), join(dir, 'access-router.yaml'));
      writeFileSync(join(dir, 'ar.token'), 'a-test-token-0123456789abcdef\n', { mode: 0o600 });
      // the example listens on the access lab's fc00:9::1: here m1's own address
      const ar = await startDaemon(lab, 'm1', ['access-router', '--config', join(dir, 'access-router.yaml'), '--listen', '[fc00:1::1]:7780'], 'access-router agent started');
      try {
        // live: nothing is a leftover, and cleanup leaves it alone
        assert.deepEqual(leftovers((await doctorOn(lab, 'server')).report).map((c) => c.status), ['ok']);
        assert.match((await lab.exec('m1', [process.execPath, BIN, 'cleanup'])).stdout, /nothing left over/);
        assert.match(await must(lab, 'm1', ['nft', 'list', 'tables']), /srv6pipes_ar/, 'a live agent’s table stays');

        ret.child.kill('SIGKILL');
        ar.child.kill('SIGKILL');
        await Promise.all([exited(ret.child), exited(ar.child)]);
        const found = leftovers((await doctorOn(lab, 'server')).report).map((c) => c.detail).join('\n');
        for (const re of [/nft table ip6 srv6pipes_return/, /ip -6 rule fwmark 65553 lookup 20017|fwmark 0x10011 lookup 20017/, /table 20017/, /net\.ipv6\.conf\.eth0\.seg6_enabled=1 \(was 0\)/]) assert.match(found, re);
        assert.match(leftovers((await doctorOn(lab, 'm1')).report).map((c) => c.detail).join('\n'), /nft table ip6 srv6pipes_ar/);
        for (const host of ['server', 'm1']) {
          const c = await lab.exec(host, [process.execPath, BIN, 'cleanup']);
          assert.equal(c.code, 0, `${host}: ${c.stdout}${c.stderr}`);
        }
        assert.doesNotMatch(await must(lab, 'server', ['nft', 'list', 'tables']), /srv6pipes/);
        assert.doesNotMatch(await must(lab, 'server', ['ip', '-6', 'rule', 'show']), /lookup 20017/);
        assert.equal((await must(lab, 'server', ['ip', '-6', 'route', 'show', 'table', '20017'])).trim(), '');
        assert.equal(await sysctl(lab, 'server', 'net.ipv6.conf.eth0.seg6_enabled'), '0');
        assert.doesNotMatch(await must(lab, 'm1', ['nft', 'list', 'tables']), /srv6pipes/);
        for (const host of ['server', 'm1']) assert.deepEqual(leftovers((await doctorOn(lab, host)).report).map((c) => c.status), ['ok'], host);
      } finally {
        await Promise.all([ret.stop(), ar.stop()]);
      }
    });
  });
});

