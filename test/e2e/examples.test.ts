/**
 * The example configs and service units of examples/ (issue 15, item 4): every YAML runs with
 * `--dry-run` through its command, in a lab host; the systemd units pass `systemd-analyze verify`;
 * the proxy unit's ExecReload (SIGHUP) reloads a running proxy and its stop (SIGTERM) drains and
 * exits well within TimeoutStopSec.
 */
// run-tests: relay-independent (operator files, not bytes: dry runs, unit files, a reload and a stop of a proxy that carries no flow)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { exampleNames, examplePath, EXAMPLES_DIR } from '../../src/config/examples.js';
import type { Lab } from '../../src/lab/index.js';
import { BIN, ROOT, startProxy, withLab } from '../helpers/harness.js';

const SYSTEMD_DIR = join(EXAMPLES_DIR, 'systemd');

/** The dry-run of an example, by its name: the command line and what its output must show. */
function dryRun(name: string, dir: string): { argv: string[]; shows: RegExp } {
  if (/^(proxy|mptcp)/.test(name)) return { argv: ['proxy', '--config', examplePath(name), '--dry-run'], shows: /config .* is valid; nothing is changed/ };
  if (name.startsWith('controller')) return { argv: ['controller', '--config', examplePath(name), '--dry-run'], shows: /: valid — \d+ prox/ };
  if (name.startsWith('access-router')) {
    // its token file (tokenFile: ar.token or ar2.token, beside the config) is a secret: made here, not shipped
    copyFileSync(examplePath(name), join(dir, name));
    const token = /^tokenFile: (\S+)/m.exec(readFileSync(examplePath(name), 'utf8'))?.[1] ?? 'ar.token';
    writeFileSync(join(dir, token), 'a-test-token-0123456789abcdef\n', { mode: 0o600 });
    return { argv: ['access-router', '--config', join(dir, name), '--dry-run'], shows: /table ip6 srv6pipes_ar[\s\S]*End\.B6\.Encaps/ };
  }
  if (name.startsWith('return-agent')) return { argv: ['return-agent', '--config', examplePath(name), '--dry-run'], shows: /table ip6 srv6pipes_return[\s\S]*encap seg6 mode encap segs fc00:a::ffff/ };
  throw new Error(`examples/${name}: no dry-run known for it (name it proxy-, mptcp-, controller-, access-router- or return-agent-*.yaml)`);
}

/** `Key=value` lines of a unit file's [Service] section (the last one of a key wins, as in systemd). */
function serviceKeys(unit: string): Map<string, string> {
  const keys = new Map<string, string>();
  let inService = false;
  for (const line of readFileSync(join(SYSTEMD_DIR, unit), 'utf8').split('\n')) {
    if (/^\[/.test(line)) inService = line.trim() === '[Service]';
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (inService && m) keys.set(m[1]!, m[2]!);
  }
  return keys;
}

describe('examples/', () => {
  test('every example config runs with --dry-run through its command (in a lab host)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-examples-'));
    await withLab('fig5', async (lab: Lab) => {
      for (const name of exampleNames()) {
        const { argv, shows } = dryRun(name, dir);
        const r = await lab.exec('m1', [process.execPath, BIN, ...argv]);
        assert.equal(r.code, 0, `srv6pipes ${argv.join(' ')}:\n${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, shows, `srv6pipes ${argv.join(' ')}`);
      }
      assert.doesNotMatch((await lab.exec('m1', ['nft', 'list', 'tables'])).stdout, /srv6pipes/, 'dry runs change nothing');
    });
  });

  test('the systemd units pass systemd-analyze verify (unknown keys fail too)', (t) => {
    const units = readdirSync(SYSTEMD_DIR).filter((n) => n.endsWith('.service')).sort();
    assert.deepEqual(units, ['srv6pipes-access-router.service', 'srv6pipes-controller.service', 'srv6pipes-proxy.service', 'srv6pipes-return-agent.service']);
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) {
      t.skip('systemd-analyze is not installed (apt-get install systemd): the units are not verified here');
      return;
    }
    // ExecStart names /usr/local/bin/srv6pipes (npm install -g); verify checks that it exists: this checkout's bin here
    const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-units-'));
    for (const u of units) writeFileSync(join(dir, u), readFileSync(join(SYSTEMD_DIR, u), 'utf8').replaceAll('/usr/local/bin/srv6pipes', BIN));
    const r = spawnSync('systemd-analyze', ['verify', ...units.map((u) => join(dir, u))], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warning (an unknown or misspelt key is only a warning to systemd)');
  });

  test('the units: reload by SIGHUP, stop by SIGTERM with TimeoutStopSec above the drain deadline, cleanup after any exit, bounded capabilities', () => {
    const proxy = serviceKeys('srv6pipes-proxy.service');
    assert.equal(proxy.get('ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(proxy.get('KillSignal'), 'SIGTERM');
    assert.equal(proxy.get('KillMode'), 'mixed', 'SIGTERM to the primary, which drains its workers');
    const drain = 10; // timeouts.drain's default (examples/proxy.yaml: 10s) + the daemon's 3 s margin
    assert.ok(Number(/^(\d+)s$/.exec(proxy.get('TimeoutStopSec') ?? '')?.[1]) > drain + 3, `TimeoutStopSec=${proxy.get('TimeoutStopSec')}`);
    for (const unit of ['srv6pipes-proxy.service', 'srv6pipes-access-router.service', 'srv6pipes-return-agent.service', 'srv6pipes-controller.service']) {
      const k = serviceKeys(unit);
      for (const key of ['CapabilityBoundingSet', 'NoNewPrivileges', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'ExecStartPre']) assert.ok(k.has(key), `${unit}: ${key}`);
      assert.equal(k.get('ProtectSystem'), 'strict', unit);
      assert.match(k.get('ExecStartPre') ?? '', /--dry-run$/, `${unit} validates its config first`);
      if (unit !== 'srv6pipes-controller.service') {
        assert.equal(k.get('ExecStopPost'), '/usr/local/bin/srv6pipes cleanup', `${unit}: leftovers of a crash are removed`);
        assert.notEqual(k.get('ProtectKernelTunables'), 'yes', `${unit} writes net/ sysctls`);
        assert.match(k.get('CapabilityBoundingSet') ?? '', /CAP_NET_ADMIN/);
      }
    }
    assert.match(serviceKeys('srv6pipes-proxy.service').get('CapabilityBoundingSet') ?? '', /CAP_BPF/, 'the sk_lookup interception');
    assert.equal(serviceKeys('srv6pipes-controller.service').get('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  });

  test('the proxy unit’s ExecReload reloads examples/proxy.yaml; SIGTERM drains and exits 0; its ExecStopPost finds nothing left', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', readFileSync(examplePath('proxy.yaml'), 'utf8'));
      // one more function in the file, then the unit's reload command, as systemd runs it
      writeFileSync(proxy.configPath, readFileSync(proxy.configPath, 'utf8').replace('functions:\n', 'functions:\n  - { id: 40, function: copy }\n'));
      const reloaded = proxy.out.next((l) => l['msg'] === 'configuration reloaded', 15000, 'the reload');
      const reload = serviceKeys('srv6pipes-proxy.service').get('ExecReload')!;
      const r = spawnSync('sh', ['-c', reload], { env: { ...process.env, MAINPID: String(proxy.child.pid) }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const line = await reloaded;
      assert.deepEqual((line as { loaded?: unknown[] }).loaded, [40]);
      const t0 = Date.now();
      assert.equal(await proxy.stop(), 0);
      assert.ok(Date.now() - t0 < 30_000, 'well within TimeoutStopSec');
      const cleanup = await lab.exec('m1', [process.execPath, BIN, 'cleanup']);
      assert.equal(cleanup.code, 0, cleanup.stderr);
      assert.match(cleanup.stdout, /nothing left over/);
    });
  });
});
