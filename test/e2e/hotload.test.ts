/**
 * The function table at run time, end to end: reload and unload while a long transfer is in flight
 * (it completes intact on the version it started with), a throwing external module ends only its own
 * flow, SIGHUP applies an edited config, and a local chain [xor, xor] with one key is the identity.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { adminArgs, BIN, ROOT, runClient, startProxy, startServer, withLab, type ProxyHandle } from '../helpers/harness.js';
import type { Lab } from '../../src/lab/index.js';

/** A module with no imports (an external file cannot count on resolving packages). */
function moduleSource(tag: string, body = 'return { upstream: t, downstream: t };'): string {
  return `
const schema = { safeParse: (v) => ({ success: true, data: v ?? {} }) };
export default {
  name: 'tagged-${tag}',
  summary: 'an external test module (${tag})',
  options: schema,
  spawn(flow) {
    const t = { data: (c) => c };
    ${body}
  },
};
`;
}

function workdir(): string {
  const d = mkdtempSync(join(tmpdir(), 'srv6pipes-hot-'));
  chmodSync(d, 0o755);
  return d;
}

async function ctl(lab: Lab, proxy: ProxyHandle, ...args: string[]): Promise<string> {
  const r = await lab.exec('m1', [process.execPath, BIN, 'ctl', ...args, ...adminArgs(proxy)]);
  assert.equal(r.code, 0, `ctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function flowsOf(lab: Lab, proxy: ProxyHandle): Promise<{ functionId: number; version: number }[]> {
  return JSON.parse((await lab.exec('m1', [process.execPath, BIN, 'flows', '--json', ...adminArgs(proxy)])).stdout) as { functionId: number; version: number }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MB = 1 << 20;

describe('functions at run time (fig5)', () => {
  test('reload and unload while a transfer is in flight: it completes intact on its own version', async () => {
    await withLab('fig5', async (lab) => {
      const dir = workdir();
      writeFileSync(join(dir, 'tagged.mjs'), moduleSource('v1'));
      writeFileSync(join(dir, 'proxy.yaml'), 'workers: 1\nlocators: [ { prefix: "fc00:a::/80" } ]\nfunctions:\n  - { id: 9, function: ./tagged.mjs }\n  - { id: 1, function: copy }\ntimeouts: { drain: 3s }\n');
      // ctl loads modules only from admin.moduleDirs
      const proxy = await startProxy(lab, 'm1', `workers: 1\nlocators: [ { prefix: "fc00:a::/80" } ]\nfunctions: [ { id: 1, function: copy } ]\nadmin: { socket: ${join(dir, 'admin.sock')}, moduleDirs: [ ${dir} ] }\n`);
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        await ctl(lab, proxy, 'load', '9', join(dir, 'tagged.mjs'));
        const long = runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::9:0:0', '--send', String(20 * MB), '--delay-end', '8000']);
        await sleep(700);
        assert.deepEqual((await flowsOf(lab, proxy)).map((f) => f.version), [1]);
        // a new version of the module: new flows get it, the flow in flight keeps version 1
        writeFileSync(join(dir, 'tagged.mjs'), moduleSource('v2'));
        await ctl(lab, proxy, 'reload', '9');
        const list = JSON.parse(await ctl(lab, proxy, 'list', '--json')) as { id: number; name: string; version: number; retiring: { activeFlows: number }[] }[];
        const fn9 = list.find((f) => f.id === 9)!;
        assert.equal(fn9.name, 'tagged-v2');
        assert.deepEqual(fn9.retiring.map((r) => r.activeFlows), [1], 'version 1 still serves the flow in flight');
        const short = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::9:0:0', '--send', '1000']);
        assert.equal(short.error, undefined);
        // unload while the long flow is still going: ctl waits for it (deadline 30 s), nothing is reset
        const unloaded = JSON.parse(await ctl(lab, proxy, 'unload', '9', '--deadline', '30000', '--json')) as { reset: number };
        assert.equal(unloaded.reset, 0);
        const r = await long;
        assert.equal(r.error, undefined, `the long transfer failed: ${r.error}`);
        assert.equal(r.received, 20 * MB);
        assert.equal(r.sha256Received, r.sha256Sent, 'intact');
        const after = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::9:0:0', '--send', '10']);
        assert.equal(after.error, 'ECONNRESET', 'function 9 is gone');
        const metrics = (await lab.exec('m1', [process.execPath, BIN, 'metrics'])).stdout;
        assert.match(metrics, /srv6pipes_function_events_total\{event="reload"\} 1/);
        assert.match(metrics, /srv6pipes_function_events_total\{event="unload"\} 1/);
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('the documented example module loads into a running proxy with ctl', async () => {
    await withLab('fig5', async (lab) => {
      const sock = join(workdir(), 'admin.sock');
      const proxy = await startProxy(lab, 'm1', `workers: 1\nlocators: [ { prefix: "fc00:a::/80" } ]\nfunctions: [ { id: 1, function: copy } ]\nadmin: { socket: ${sock}, moduleDirs: [ ${join(ROOT, 'examples')} ] }\n`);
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        await ctl(lab, proxy, 'load', '9', join(ROOT, 'examples', 'upper', 'upper.mjs'), '--options', '{ downstream: false }');
        const r = await lab.exec('client', [process.execPath, BIN, 'connect', '--segments', 'fc00:a::9:0:0', 'fc00:2::2', '9000'], { input: 'hello through srv6pipes\n' });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, 'HELLO THROUGH SRV6PIPES\n', 'upper-cased on the way up, echoed back unchanged');
        const metrics = (await lab.exec('m1', [process.execPath, BIN, 'metrics'])).stdout;
        assert.match(metrics, /srv6pipes_function_upper_letters_total\{direction="up",fn="9",function="upper"\} 20/);
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('a throwing external module ends only its own flow', async () => {
    await withLab('fig5', async (lab) => {
      const dir = workdir();
      const throwing = `const boom = { data: (c) => { if (flow.argument === 1n) throw new Error('boom'); return c; } };\n    return { upstream: boom, downstream: t };`;
      writeFileSync(join(dir, 'throws.mjs'), moduleSource('throws', throwing));
      writeFileSync(join(dir, 'proxy.yaml'), `workers: 1\nlocators: [ { prefix: "fc00:a::/80" } ]\nfunctions: [ { id: 10, function: ${join(dir, 'throws.mjs')} } ]\n`);
      const proxy = await startProxy(lab, 'm1', `workers: 1\nlocators: [ { prefix: "fc00:a::/80" } ]\nfunctions: [ { id: 10, function: ${join(dir, 'throws.mjs')} } ]\n`);
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const [good, bad] = await Promise.all([
          runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::a:0:0', '--send', String(4 * MB), '--delay-end', '500']),
          runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::a:0:1', '--send', '1000', '--delay-end', '200']),
        ]);
        assert.equal(bad.error, 'ECONNRESET');
        assert.equal(good.error, undefined);
        assert.equal(good.sha256Received, good.sha256Sent);
        await proxy.out.next((l) => l['msg'] === 'function failed', 3000, 'the function error log');
        const stats = JSON.parse((await lab.exec('m1', [process.execPath, BIN, 'stats', '--json'])).stdout) as { functions: { endings: Record<string, number> }[] };
        assert.deepEqual(stats.functions[0]!.endings, { ok: 1, function_error: 1 });
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('SIGHUP re-reads the config: a new entry serves, a bad edit changes nothing', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', 'workers: 2\nlocators: [ { prefix: "fc00:a::/80" } ]\nfunctions: [ { id: 1, function: copy } ]\n');
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const probe = (fn: string) => runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', `fc00:a::${fn}:0:5a`, '--send', '2000']);
        assert.equal((await probe('c')).error, 'ECONNRESET', 'no function 12 yet');
        writeFileSync(proxy.configPath, 'workers: 2\nlocators: [ { prefix: "fc00:a::/80" } ]\nfunctions:\n  - { id: 1, function: copy }\n  - { id: 12, chain: [ { function: xor }, { function: xor } ] }\n');
        proxy.child.kill('SIGHUP');
        await proxy.out.next((l) => l['msg'] === 'configuration reloaded', 10000, 'reload log');
        const r = await probe('c');
        assert.equal(r.error, undefined);
        assert.equal(r.sha256Received, r.sha256Sent, 'a local chain [xor, xor] with one key is the identity');
        writeFileSync(proxy.configPath, 'workers: 2\nlocators: [ { prefix: "fc00:a::/80" } ]\nfunctions: [ { id: 1, function: nosuch } ]\n');
        proxy.child.kill('SIGHUP');
        await proxy.out.next((l) => l['msg'] === 'configuration reload failed; the running table is unchanged', 10000, 'failure log');
        assert.equal((await probe('c')).error, undefined, 'function 12 still there');
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });
});
