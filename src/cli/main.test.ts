import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VERSION } from '../core/version.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('./run.js', import.meta.url));

/** Runs the CLI (a child process: the test runner reports on this one's stdout): exit code, stdout, stderr. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [RUN, ...argv], { timeout: 30_000 }, (e, out, err) => {
      if (e && typeof e.code !== 'number') reject(e);
      else resolve({ code: typeof e?.code === 'number' ? e.code : 0, out, err });
    });
  });
}

test('issue 15: -v works as --version', async () => {
  for (const flag of ['-v', '--version']) assert.deepEqual(await run(flag), { code: 0, out: `${VERSION}\n`, err: '' });
});

test('issue 15: an unknown verb, with or without --help, exits 2 with one line (the nearest command) and a hint', async () => {
  assert.deepEqual(await run('bogus', '--help'), { code: 2, out: '', err: "srv6pipes: unknown command 'bogus' [BAD_ARGUMENT]\n  hint: the commands: srv6pipes --help\n" });
  assert.deepEqual(await run('prox'), { code: 2, out: '', err: "srv6pipes: unknown command 'prox' (did you mean proxy?) [BAD_ARGUMENT]\n  hint: the commands: srv6pipes --help\n" });
  assert.deepEqual(await run('lab', 'upp', '--help'), { code: 2, out: '', err: "srv6pipes: unknown command 'lab upp' (did you mean lab up?) [BAD_ARGUMENT]\n  hint: the commands: srv6pipes lab --help\n" });
  // a known verb's help still works
  const help = await run('lab', 'up', '--help');
  assert.equal(help.code, 0);
  assert.match(help.out, /^Usage: srv6pipes lab up/);
});

test('issue 15: commander’s errors (an unknown option, a missing argument) are one line and a hint too', async () => {
  assert.deepEqual(await run('proxy', '--bogus'), { code: 2, out: '', err: "srv6pipes: unknown option '--bogus' [BAD_ARGUMENT]\n  hint: see srv6pipes --help, or srv6pipes COMMAND --help\n" });
  assert.deepEqual(await run('connect'), { code: 2, out: '', err: "srv6pipes: missing required argument 'host' [BAD_ARGUMENT]\n  hint: see srv6pipes --help, or srv6pipes COMMAND --help\n" });
});

test('issue 15: resolve and connect failures carry a stable code and a hint (exit 1: the peer refused)', async () => {
  const r = await run('resolve', 'x.example', '--controller', '[::1]:1', '--tcp');
  assert.equal(r.code, 1);
  assert.match(r.err, /^srv6pipes: resolve x\.example: \[::1\]:1: .*ECONNREFUSED.* \[CONTROLLER_UNREACHABLE\]\n  hint: no answer from the controller: .*\n$/);
  const c = await run('connect', '::1', '1');
  assert.equal(c.code, 1);
  assert.match(c.err, /^srv6pipes: connect \[::1\]:1: .*ECONNREFUSED.* \[CONNECT_FAILED\]\n  hint: the destination, or the first segment of the path, refused .*\n$/);
});

test('issue 15: every long-running command takes --log-level (the proxy and the controller: over the config file’s logLevel)', async () => {
  const { COMMANDS } = await import('./commands/index.js');
  for (const name of ['proxy', 'controller', 'access-router', 'return-agent']) {
    const c = COMMANDS.find((x) => x.name === name);
    assert.equal(c?.options?.['logLevel']?.flags, '--log-level <level>', name);
  }
  const proxy = COMMANDS.find((x) => x.name === 'proxy')!.options!['logLevel']!;
  assert.equal(proxy.parse(undefined, '--log-level'), undefined);
  assert.equal(proxy.parse('debug', '--log-level'), 'debug');
  assert.deepEqual(await run('proxy', '--config', 'x.yaml', '--log-level', 'loud'), { code: 2, out: '', err: 'srv6pipes: --log-level: "loud" is not one of fatal, error, warn, info, debug, trace [BAD_ARGUMENT]\n  hint: e.g. --log-level info; see --help\n' });
});

test('issue 15: the access-router agent refuses a --bsid-prefix with bits set past its length', async () => {
  assert.deepEqual(await run('access-router', '--bsid-prefix', 'fc00:f::1/64', '--listen', '[::1]:7780'), { code: 2, out: '', err: 'srv6pipes: --bsid-prefix: fc00:f::1/64 has bits set past its length [BAD_ARGUMENT]\n  hint: write fc00:f::/64\n' });
});

test('issue 16: access-router --config with store.etcd --dry-run names the route index it would follow; an unreadable passwordFile is one line (CONFIG_READ)', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-ar-store-'));
  const base = 'name: ar2\nbsidPrefix: "fc00:e::/64"\nlisten: "[::1]:7780"\n';
  writeFileSync(join(dir, 'a.yaml'), `${base}store: { etcd: { endpoints: ["http://[fc00:31::2]:2379"], prefix: /p } }\nreconcile: { resync: 30s }\n`);
  const ok = await run('access-router', '--config', join(dir, 'a.yaml'), '--dry-run');
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /^# routes follow the store's route index \/p\/route\/ar2\/ on etcd at http:\/\/\[fc00:31::2\]:2379 \(reconcile \{"resyncMs":30000,"probeMs":5000,"holdMs":3600000,"backoffMaxMs":10000\}\)$/m);
  writeFileSync(join(dir, 'b.yaml'), `${base}store: { etcd: { endpoints: ["http://[fc00:31::2]:2379"], username: ar2, passwordFile: absent } }\n`);
  const bad = await run('access-router', '--config', join(dir, 'b.yaml'), '--dry-run');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^srv6pipes: cannot read store\.etcd\.passwordFile .*\/absent: .* \[CONFIG_READ\]\n/);
});
