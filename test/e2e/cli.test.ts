/**
 * Operator errors of `srv6pipes proxy`: each exits non-zero with one clear line and a hint, no stack,
 * and changes nothing. Every case runs inside a lab namespace, so even a broken check could never
 * touch the host's own network namespace.
 */
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, test } from 'node:test';
import { BIN, proxyYaml, startServer, withLab, writeConfig } from '../helpers/harness.js';

const GOOD = proxyYaml('fc00:a::/80', ['{ id: 1, vf: copy }']);

function readableConfig(text: string): string {
  const p = writeConfig(text);
  chmodSync(dirname(p), 0o755);
  chmodSync(p, 0o644);
  return p;
}

function assertUserError(r: { code: number; stderr: string }, code: string): void {
  assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0]!, new RegExp(`^srv6pipes: .*\\[${code}\\]$`));
  assert.match(lines[1] ?? '', /^ {2}hint: /);
  assert.equal(lines.length, 2, `one line and a hint, no stack:\n${r.stderr}`);
}

describe('srv6pipes proxy: operator errors', () => {
  test('invalid config, not root, nft missing, port busy: one line, a hint, nothing changed', async () => {
    await withLab('fig5', async (lab) => {
      const node = process.execPath;
      const bad = readableConfig('locators: [{prefix: "fc00:a::/80"}]\nfunctions: [{id: 1, vf: xor, options: {passes: "many"}}]\n');
      const r1 = await lab.exec('m1', [node, BIN, 'proxy', '--config', bad]);
      assertUserError(r1, 'CONFIG_INVALID');
      assert.match(r1.stderr, /functions\[0\]\.options\.passes/);

      const good = readableConfig(GOOD);
      const r2 = await lab.exec('m1', ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', node, BIN, 'proxy', '--config', good]);
      assertUserError(r2, 'NOT_ROOT');

      const r3 = await lab.exec('m1', ['env', 'PATH=/usr/bin:/bin', node, BIN, 'proxy', '--config', good]);
      assertUserError(r3, 'TOOL_MISSING');

      const busy = await startServer(lab, 'm1', ['--port', '7777']);
      try {
        const r4 = await lab.exec('m1', [node, BIN, 'proxy', '--config', good]);
        assertUserError(r4, 'PORT_BUSY');
      } finally {
        busy.stop();
      }

      const r5 = await lab.exec('m1', [node, BIN, 'proxy', '--config', '/nonexistent/proxy.yaml']);
      assertUserError(r5, 'CONFIG_READ');

      const tables = await lab.exec('m1', ['nft', 'list', 'tables']);
      assert.doesNotMatch(tables.stdout, /srv6pipes/, 'no failed start left a table behind');
      const rules = await lab.exec('m1', ['ip', '-6', 'rule']);
      assert.doesNotMatch(rules.stdout, /fwmark/);
    });
  });

  test('--dry-run prints every change and changes nothing', async () => {
    await withLab('fig5', async (lab) => {
      const good = readableConfig(GOOD);
      const before = await lab.exec('m1', ['sysctl', 'net.ipv6.conf.eth0.seg6_enabled']);
      const r = await lab.exec('m1', [process.execPath, BIN, 'proxy', '--config', good, '--dry-run']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /sysctl -w net\.ipv6\.conf\.all\.forwarding=1/);
      assert.match(r.stdout, /sysctl -w net\.ipv6\.conf\.eth0\.seg6_enabled=1/);
      assert.match(r.stdout, /tproxy to :7777/);
      assert.match(r.stdout, /ip -6 rule add fwmark 1 lookup 100/);
      assert.match(r.stdout, /ip -6 route replace local ::\/0 dev lo table 100/);
      assert.doesNotMatch((await lab.exec('m1', ['nft', 'list', 'tables'])).stdout, /srv6pipes/);
      assert.doesNotMatch((await lab.exec('m1', ['ip', '-6', 'rule'])).stdout, /fwmark/);
      assert.equal((await lab.exec('m1', ['sysctl', 'net.ipv6.conf.eth0.seg6_enabled'])).stdout, before.stdout);
    });
  });

  test('netconf: off plans no host change (interception is the operator’s)', async () => {
    await withLab('fig5', async (lab) => {
      const cfg = readableConfig(`${GOOD}\nnetconf: off\n`);
      const r = await lab.exec('m1', [process.execPath, BIN, 'proxy', '--config', cfg, '--dry-run']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /netconf: off/);
      assert.doesNotMatch(r.stdout, /nft -f/);
    });
  });
});
