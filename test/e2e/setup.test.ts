/**
 * Setup leaves the machine as it found it (issue 15): scripts/setup-debian.sh installs only the Debian
 * packages the command needs, with no service started (policy-rc.d answers 101 while apt-get runs, an
 * existing one is put back) and the units that the new packages enabled disabled again, those of
 * packages already there untouched. Run against stand-ins for apt-get, dpkg-query, systemctl and id
 * (a PATH of stubs): nothing is installed and the real /usr/sbin/policy-rc.d is not touched.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../scripts/setup-debian.sh', import.meta.url));
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Run {
  status: number | null;
  stderr: string;
  /** every stub call, one line each: "apt-get install -y … pkg", "systemctl disable …", "policy: …" */
  calls: string[];
  policyAfter: string | null;
}

/**
 * setup-debian.sh PURPOSE on a machine where only `preinstalled` Debian packages are there (none of
 * the probed commands on PATH). apt-get "installs" what it is asked plus `libfoo-dep`; haproxy,
 * lighttpd and the preinstalled `postgresql` ship an enabled unit.
 */
function setup(purpose: string, opts: { policyBefore?: string; aptFails?: boolean } = {}): Run {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-setup-'));
  dirs.push(dir);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['bash', 'sh', 'awk', 'sort', 'comm', 'grep', 'sed', 'rm', 'mv', 'chmod', 'cat']) {
    const path = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(path, join(bin, tool));
  }
  const log = join(dir, 'calls.log');
  const state = join(dir, 'installed');
  const policy = join(dir, 'policy-rc.d');
  writeFileSync(state, 'postgresql\n');
  if (opts.policyBefore !== undefined) writeFileSync(policy, opts.policyBefore, { mode: 0o755 });
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  stub('id', 'echo 0');
  stub(
    'apt-get',
    `echo "apt-get $*" >> ${log}
case "$1" in install)
  if [ -x ${policy} ] && grep -q '^exit 101$' ${policy}; then echo "policy: 101 while installing" >> ${log}; else echo "policy: MISSING while installing" >> ${log}; fi
  ${opts.aptFails ? 'exit 100' : ''}
  for a in "$@"; do case "$a" in -*|install) ;; *) echo "$a" >> ${state} ;; esac; done
  echo libfoo-dep >> ${state} ;;
esac`,
  );
  stub(
    'dpkg-query',
    `case "$1" in
  -W) while read -r p; do echo "ii  $p"; done < ${state} ;;
  -L) case "$2" in haproxy|lighttpd|postgresql) echo /usr/share/doc/$2; echo /lib/systemd/system/$2.service ;; *) echo /usr/share/doc/$2 ;; esac ;;
esac`,
  );
  stub('systemctl', `echo "systemctl $*" >> ${log}; [ "$1" = is-enabled ] && echo enabled; exit 0`);
  const r = spawnSync('bash', [SCRIPT, purpose], { encoding: 'utf8', env: { PATH: bin, SRV6PIPES_POLICY_RC_D: policy } });
  return {
    status: r.status,
    stderr: r.stderr,
    calls: existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [],
    policyAfter: existsSync(policy) ? readFileSync(policy, 'utf8') : null,
  };
}

const installed = (r: Run) =>
  r.calls
    .find((c) => c.startsWith('apt-get install'))
    ?.split(' ')
    .filter((w) => !w.startsWith('-') && w !== 'apt-get' && w !== 'install')
    .sort() ?? [];

describe('setup: Debian packages per command, no service started or left enabled', () => {
  test('each command gets only the packages it uses', () => {
    assert.deepEqual(installed(setup('bench')), ['dnsperf', 'etcd-client', 'etcd-server', 'haproxy', 'iproute2', 'iputils-ping', 'lighttpd', 'nftables', 'wrk']);
    assert.deepEqual(installed(setup('demo')), ['curl', 'dnsutils', 'iproute2', 'nftables', 'tcpdump']);
    assert.deepEqual(installed(setup('soak')), ['iproute2', 'nftables']);
    const test = installed(setup('test'));
    for (const p of ['haproxy', 'lighttpd', 'wrk', 'nftables', 'tcpdump', 'dnsutils', 'util-linux']) assert.ok(test.includes(p), p);
    for (const purpose of ['build', 'fuzz']) assert.deepEqual(setup(purpose).calls, [], `${purpose}: nothing to install`);
  });

  test('apt-get runs under a policy-rc.d that forbids starting services; none is left behind', () => {
    const r = setup('bench');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.calls.includes('policy: 101 while installing'), r.calls.join('\n'));
    assert.equal(r.policyAfter, null, 'our policy-rc.d is removed again');
  });

  test("a policy-rc.d that was there is put back as it was, also when apt-get fails", () => {
    const mine = '#!/bin/sh\n# the machine\'s own\nexit 0\n';
    const ok = setup('bench', { policyBefore: mine });
    assert.ok(ok.calls.includes('policy: 101 while installing'));
    assert.equal(ok.policyAfter, mine);
    const failed = setup('bench', { policyBefore: mine, aptFails: true });
    assert.notEqual(failed.status, 0);
    assert.ok(failed.calls.includes('policy: 101 while installing'));
    assert.equal(failed.policyAfter, mine);
    assert.equal(failed.calls.filter((c) => c.includes('disable')).length, 0, 'nothing installed, nothing to disable');
  });

  test('units enabled by packages this run installed are disabled; those of packages already there are not', () => {
    const r = setup('bench');
    const disabled = r.calls.filter((c) => / disable /.test(c)).map((c) => c.split(' ').pop());
    assert.deepEqual(disabled.sort(), ['haproxy.service', 'lighttpd.service']);
    assert.match(r.stderr, /disabling haproxy\.service \(enabled by installing haproxy\)/);
    assert.ok(!r.calls.some((c) => c.includes('postgresql')), 'a unit of a package that was already there is left alone');
    assert.ok(!r.calls.some((c) => / (start|enable|restart) /.test(c)), 'nothing is started or enabled');
  });

  test('an unknown purpose is refused by setup.sh', () => {
    const r = spawnSync('bash', [fileURLToPath(new URL('../../../scripts/setup.sh', import.meta.url)), 'everything'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^setup: unknown purpose 'everything' \(build, unit, test, demo, bench, soak or fuzz\)$/m);
  });
});
