/**
 * Operator errors of `srv6pipes proxy`: each exits non-zero with one clear line and a hint, no stack,
 * and changes nothing. Every case runs inside a lab namespace, so even a broken check could never
 * touch the host's own network namespace.
 */
// run-tests: relay-independent (operator errors, not bytes: the JavaScript-relay pass of scripts/run-tests.mjs skips this file)
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { BIN, binForNobody, NOBODY, proxyYaml, runClient, startProxy, startServer, withLab, writeConfig } from '../helpers/harness.js';

const GOOD = proxyYaml('fc00:a::/80', ['{ id: 1, function: copy }']);

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
      const bad = readableConfig('locators: [{prefix: "fc00:a::/80"}]\nfunctions: [{id: 1, function: xor, options: {passes: "many"}}]\n');
      const r1 = await lab.exec('m1', [node, BIN, 'proxy', '--config', bad]);
      assertUserError(r1, 'CONFIG_INVALID');
      assert.match(r1.stderr, /functions\[0\]\.options\.passes/);

      const good = readableConfig(GOOD);
      const r2 = await lab.exec('m1', ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', node, binForNobody(), 'proxy', '--config', good]);
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
      // the default interception here (listen on ::) is the sk_lookup program, no tproxy rule
      assert.match(r.stdout, /bpf program sk_lookup/);
      assert.doesNotMatch(r.stdout, /tproxy/);
      assert.match(r.stdout, /ip -6 rule add fwmark 0x1000000\/0x1000000 lookup 7777 protocol 177/);
      assert.match(r.stdout, /ip -6 route replace local ::\/0 dev lo table 7777 proto 177/);
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

/** A module with no imports that upper-cases what the client sends. */
const UPPER = `export default {
  name: 'upper-e2e',
  summary: 'upper-cases client bytes',
  options: { safeParse: (v) => ({ success: true, data: v ?? {} }) },
  spawn() {
    const up = { data: (c) => Buffer.from(c.toString('latin1').toUpperCase(), 'latin1') };
    return { upstream: up, downstream: { data: (c) => c } };
  },
};
`;

describe('the admin endpoint: ctl needs the configured credential', () => {
  test('ctl load works with the token or through the socket, and fails without them; modules only from admin.moduleDirs', async () => {
    await withLab('fig5', async (lab) => {
      const node = process.execPath;
      const configPath = writeConfig('');
      const dir = dirname(configPath);
      const fns = join(dir, 'functions');
      mkdirSync(fns);
      writeFileSync(join(fns, 'upper.mjs'), UPPER);
      writeFileSync(join(dir, 'elsewhere.mjs'), UPPER);
      const tokenFile = join(dir, 'admin.token');
      writeFileSync(tokenFile, 'e2e-admin-token-0123456789abcdef\n', { mode: 0o600 });
      const wrongToken = join(dir, 'wrong.token');
      writeFileSync(wrongToken, 'not-the-admin-token-0123456789ab\n', { mode: 0o600 });
      const sock = join(dir, 'admin.sock');
      const cfg = `workers: 1\nlocators: [ { prefix: "fc00:a::/80" } ]\nfunctions: [ { id: 1, function: copy } ]\nadmin: { tokenFile: ${tokenFile}, socket: ${sock}, moduleDirs: [ ${fns} ] }\n`;
      const proxy = await startProxy(lab, 'm1', cfg);
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      const cli = (...args: string[]) => lab.exec('m1', [node, BIN, ...args]);
      try {
        // no credential: refused, and the table is unchanged
        const bare = await cli('ctl', 'load', '9', join(fns, 'upper.mjs'));
        assertUserError(bare, 'ADMIN_UNAUTHORIZED');
        assertUserError(await cli('ctl', 'load', '9', join(fns, 'upper.mjs'), '--token-file', wrongToken), 'ADMIN_UNAUTHORIZED');
        assertUserError(await cli('flows'), 'ADMIN_UNAUTHORIZED');
        // another local user cannot open the socket (mode 0600, owned by root)
        chmodSync(dir, 0o755);
        const other = await lab.exec('m1', ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', node, binForNobody(), 'ctl', 'load', '9', join(fns, 'upper.mjs'), '--socket', sock]);
        assertUserError(other, 'ADMIN_UNAUTHORIZED');
        // health and metrics stay open on the TCP listener (Prometheus)
        const metrics = await cli('metrics');
        assert.equal(metrics.code, 0, metrics.stderr);
        assert.match(metrics.stdout, /srv6pipes_/);
        // the token over TCP: loads
        const byToken = await cli('ctl', 'load', '9', join(fns, 'upper.mjs'), '--token-file', tokenFile, '--json');
        assert.equal(byToken.code, 0, byToken.stderr);
        const r = await lab.exec('client', [node, BIN, 'connect', '--segments', 'fc00:a::9:0:0', 'fc00:2::2', '9000'], { input: 'through the token\n' });
        assert.equal(r.stdout, 'THROUGH THE TOKEN\n');
        // the socket, found through --config: unload, then a module outside admin.moduleDirs is refused
        const list = await cli('ctl', 'list', '--json', '--config', proxy.configPath);
        assert.equal(list.code, 0, list.stderr);
        assert.deepEqual((JSON.parse(list.stdout) as { id: number; name: string }[]).map((f) => `${f.id}:${f.name}`), ['1:copy', '9:upper-e2e']);
        assert.equal((await cli('ctl', 'unload', '9', '--config', proxy.configPath)).code, 0);
        assertUserError(await cli('ctl', 'load', '9', join(dir, 'elsewhere.mjs'), '--config', proxy.configPath), 'MODULE_NOT_ALLOWED');
        assertUserError(await cli('ctl', 'load', '9', 'exec', '--options', '{ upstream: [ sh, -c, "id > /tmp/owned" ] }', '--config', proxy.configPath), 'EXEC_NOT_ALLOWED');
        const after = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::9:0:0', '--send', '10']);
        assert.equal(after.error, 'ECONNRESET', 'nothing was loaded as function 9');
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('a non-loopback admin address without a credential refuses to start (ADMIN_INSECURE)', async () => {
    await withLab('fig5', async (lab) => {
      const cfg = readableConfig(`${GOOD}\nadmin: { address: "::", port: 7778 }\n`);
      assertUserError(await lab.exec('m1', [process.execPath, BIN, 'proxy', '--config', cfg]), 'ADMIN_INSECURE');
      assert.doesNotMatch((await lab.exec('m1', ['nft', 'list', 'tables'])).stdout, /srv6pipes/, 'nothing was changed');
    });
  });
});

describe('the old config key `vf`', () => {
  test('still starts a proxy; each load (start, --dry-run, SIGHUP) says once that it is deprecated', async () => {
    await withLab('fig5', async (lab) => {
      const old = proxyYaml('fc00:a::/80', ['{ id: 1, vf: copy }', '{ id: 2, chain: [ { vf: xor }, { function: copy } ] }']);
      const dry = await lab.exec('m1', [process.execPath, BIN, 'proxy', '--config', readableConfig(old), '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      const lines = dry.stdout.split('\n').filter((l) => l.includes('deprecated'));
      assert.equal(lines.length, 1, dry.stdout);
      assert.match(lines[0]!, /^# deprecated: .*the key `vf` is deprecated: write `function` \(at functions\[0\]\.vf, functions\[1\]\.chain\[0\]\.vf\)$/);
      const proxy = await startProxy(lab, 'm1', old);
      const echo = await startServer(lab, 'server', ['--port', '8080', '--echo']);
      try {
        const deprecations = () => proxy.out.text.filter((l) => l.includes('is deprecated'));
        assert.equal(deprecations().length, 1, proxy.out.text.join('\n'));
        proxy.child.kill('SIGHUP');
        await proxy.out.next((l) => l['msg'] === 'configuration reloaded', 15000, 'the reload');
        assert.equal(deprecations().length, 2, 'one more line for the second load');
        // the entry loaded under its old key works: function 1 (copy) relays the bytes
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', 'fc00:a::1:0:0', '--send', '1000']);
        assert.equal(r.error, undefined);
        assert.equal(r.sent, 1000);
        assert.equal(r.sha256Received, r.sha256Sent);
      } finally {
        echo.stop();
        await proxy.stop();
      }
    });
  });
});
