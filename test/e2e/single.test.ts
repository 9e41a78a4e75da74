/**
 * `workers: 0` (small hosts): no worker process, the primary serves the flows itself through the same
 * handler table a forked worker answers with (src/proxy/worker-api.ts). In the Fig. 5 lab (client —
 * m1 — server, the proxy on m1), in both interception modes: what --dry-run says, a flow through, `flows`, `stats` and
 * `/metrics`, `ctl load`/`unload`/`reload`, SIGHUP, and a drain on SIGTERM that lets a flow in flight
 * finish and removes the host configuration. And the process-level policy of a worker applied to the
 * single process: an unhandled rejection is counted and the proxy goes on; an uncaught exception
 * resets every flow, removes the host configuration and exits 70.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { adminArgs, BIN, exited, runClient, startProxy, startServer, withLab, writeConfig, type ProxyHandle } from '../helpers/harness.js';

const MB = 1 << 20;
const SERVER = 'fc00:2::2';

/** The children of the proxy's process (with `workers: 0`: none). */
function children(proxy: ProxyHandle): number[] {
  const pid = proxy.child.pid!;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

function workdir(): string {
  const d = mkdtempSync(join(tmpdir(), 'srv6pipes-single-'));
  chmodSync(d, 0o755);
  return d;
}

async function cli<T>(lab: Lab, proxy: ProxyHandle, ...args: string[]): Promise<T> {
  const r = await lab.exec('m1', [process.execPath, BIN, ...args, '--json', ...adminArgs(proxy)]);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

async function metrics(lab: Lab, proxy: ProxyHandle): Promise<string> {
  const r = await lab.exec('m1', [process.execPath, BIN, 'metrics', ...adminArgs(proxy)]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** Polls until `check` returns true (or fails after `ms`). */
async function eventually(what: string, ms: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What the proxy installed in m1: its nft table and its policy rule. */
async function hostConfiguration(lab: Lab): Promise<{ table: boolean; rule: boolean }> {
  const tables = (await lab.exec('m1', ['nft', 'list', 'tables'])).stdout;
  const rules = (await lab.exec('m1', ['ip', '-6', 'rule', 'show'])).stdout;
  return { table: /srv6pipes/.test(tables), rule: /fwmark 0x1000000\/0x1000000 lookup 7777/.test(rules) };
}

function probe(lab: Lab, fn: string, bytes = 2000) {
  return runClient(lab, 'client', ['--host', SERVER, '--port', '9000', '--segments', `fc00:a::${fn}:0:0`, '--send', String(bytes)]);
}

type Stats = { accepted: number; workers: number; rejected: Record<string, number>; bugs?: Record<string, number>; functions: { functionId: number; endings: Record<string, number> }[] };

for (const intercept of ['tproxy', 'sklookup'] as const) {
  describe(`workers: 0 with netconf.intercept ${intercept} (fig5)`, () => {
    test('one process serves flows; flows, stats, /metrics, ctl, SIGHUP and a SIGTERM drain work as with workers', async () => {
      await withLab('fig5', async (lab) => {
        const dir = workdir();
        const config = (fns: string) =>
          [
            'workers: 0',
            'locators: [ { prefix: "fc00:a::/80" } ]',
            `functions: [ ${fns} ]`,
            'timeouts: { connect: 2s, drain: 5s }',
            `netconf: { intercept: ${intercept} }`,
            `admin: { socket: ${join(dir, 'admin.sock')} }`,
          ].join('\n');
        const dry = await lab.exec('m1', [process.execPath, BIN, 'proxy', '--dry-run', '--config', writeConfig(config('{ id: 1, function: copy }'))]);
        assert.equal(dry.code, 0, dry.stderr);
        assert.match(dry.stdout, /no worker process \(workers: 0\): the primary serves the flows/);
        if (intercept === 'sklookup') assert.match(dry.stdout, /SOCKMAP, 1 slot\(s\)/);
        const proxy = await startProxy(lab, 'm1', config('{ id: 1, function: copy }'));
        const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
        try {
          assert.deepEqual(children(proxy), [], 'no worker process');
          assert.deepEqual(await hostConfiguration(lab), { table: true, rule: true });
          // a flow through, intact
          const one = await probe(lab, '1', MB);
          assert.equal(one.error, undefined);
          assert.equal(one.sha256Received, one.sha256Sent);
          // the flow table, with a flow in flight (it ends its upload 2.5 s later)
          const long = runClient(lab, 'client', ['--host', SERVER, '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '1000', '--delay-end', '2500']);
          // the table as seen while the flow is in it (a second look may come after its end on a busy host)
          let seen: { functionId: number }[] = [];
          await eventually('the flow in the flow table', 10000, async () => (seen = await cli<{ functionId: number }[]>(lab, proxy, 'flows')).length === 1);
          assert.deepEqual(seen.map((f) => f.functionId), [1]);
          assert.equal((await long).error, undefined);
          // stats and /metrics: the flows counted, no worker process
          await eventually('both flows ended in stats', 5000, async () => (await cli<Stats>(lab, proxy, 'stats')).functions[0]?.endings['ok'] === 2);
          const stats = await cli<Stats>(lab, proxy, 'stats');
          assert.equal(stats.accepted, 2);
          assert.equal(stats.workers, 0);
          const m = await metrics(lab, proxy);
          assert.match(m, /srv6pipes_flows_total\{fn="1",function="copy",reason="ok"\} 2/);
          assert.match(m, /srv6pipes_workers 0/);
          // one process: its own series once, as the primary's; the flows' histograms from the in-process worker
          assert.match(m, /^srv6pipes_flows_accepted_total\{fn="1",function="copy"\} 2$/m);
          assert.match(m, /^process_resident_memory_bytes\{process="primary"\} \d+$/m);
          assert.doesNotMatch(m, /process="worker-/);
          assert.match(m, /^srv6pipes_flow_duration_seconds_bucket\{le="\+Inf",relay="(js|native)"\} 2$/m);
          // ctl: load a built-in, use it, reload the config file (as SIGHUP), unload
          assert.equal((await probe(lab, '2')).error, 'ECONNRESET', 'no function 2 yet');
          await cli(lab, proxy, 'ctl', 'load', '2', 'xor');
          const x = await probe(lab, '2');
          assert.equal(x.error, undefined);
          assert.equal(x.sha256Received, x.sha256Sent, 'xor up, echoed, xor down: the identity');
          assert.deepEqual((await cli<{ id: number }[]>(lab, proxy, 'ctl', 'list')).map((f) => f.id), [1, 2]);
          assert.deepEqual(await cli(lab, proxy, 'ctl', 'unload', '2'), { id: 2, reset: 0 });
          assert.equal((await probe(lab, '2')).error, 'ECONNRESET', 'function 2 unloaded');
          // SIGHUP: the edited file's table
          writeFileSync(proxy.configPath, config('{ id: 1, function: copy }, { id: 12, chain: [ { function: xor }, { function: xor } ] }'));
          proxy.child.kill('SIGHUP');
          await proxy.out.next((l) => l['msg'] === 'configuration reloaded', 10000, 'the reload');
          const c = await probe(lab, 'c');
          assert.equal(c.error, undefined);
          assert.equal(c.sha256Received, c.sha256Sent);
          // ctl reload without an id: the file again (function 12 goes)
          writeFileSync(proxy.configPath, config('{ id: 1, function: copy }'));
          assert.deepEqual(await cli(lab, proxy, 'ctl', 'reload'), { loaded: [], unloaded: [12], kept: [1] });
          assert.match(await metrics(lab, proxy), /srv6pipes_function_events_total\{event="config_reload"\} 2/);
          // SIGTERM with a flow in flight: it finishes within timeouts.drain, then the host configuration goes
          const inFlight = runClient(lab, 'client', ['--host', SERVER, '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', String(4 * MB), '--delay-end', '1500']);
          await eventually('the flow in flight', 10000, async () => (await cli<unknown[]>(lab, proxy, 'flows')).length === 1);
          assert.equal(await proxy.stop(), 0);
          const r = await inFlight;
          assert.equal(r.error, undefined, 'the drain let the flow finish');
          assert.equal(r.sha256Received, r.sha256Sent);
          assert.equal(proxy.out.count((l) => l['reason'] === 'drain_deadline'), 0);
          assert.ok(proxy.out.count((l) => l['msg'] === 'stopped') === 1);
          assert.deepEqual(await hostConfiguration(lab), { table: false, rule: false });
        } finally {
          srv.stop();
          await proxy.stop();
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });
  });
}

/**
 * A function module with two bugs: a chunk holding REJECT makes it leave a rejected promise nobody
 * waits for; one holding BOOM makes it throw from a timer (an uncaught exception).
 */
const BUGGY_MODULE = `
export default {
  name: 'buggy',
  summary: 'a test fixture: bugs outside the call stack of any flow',
  options: { safeParse: (v) => ({ success: true, data: v ?? {} }) },
  spawn: () => {
    const t = {
      data: (c) => {
        if (c.includes('REJECT')) Promise.reject(new Error('lost: a bug in a function module'));
        if (c.includes('BOOM')) setTimeout(() => { throw new Error('boom: a bug in a function module'); }, 0);
        return c;
      },
    };
    return { upstream: t, downstream: { data: (c) => c } };
  },
};
`;

describe('workers: 0: the process-level policy of a worker (fig5)', () => {
  test('an unhandled rejection is counted and the proxy goes on; an uncaught exception resets the flows, removes the host configuration and exits 70', async () => {
    await withLab('fig5', async (lab) => {
      const dir = workdir();
      writeFileSync(join(dir, 'buggy.mjs'), BUGGY_MODULE);
      const proxy = await startProxy(lab, 'm1', ['workers: 0', 'locators: [ { prefix: "fc00:a::/80" } ]', `functions: [ { id: 1, function: copy }, { id: 9, function: ${join(dir, 'buggy.mjs')} } ]`, 'timeouts: { connect: 2s, drain: 3s }'].join('\n'));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      const send = (word: string) => lab.exec('client', [process.execPath, BIN, 'connect', '--segments', 'fc00:a::9:0:0', SERVER, '9000'], { input: word, timeoutMs: 10000 });
      try {
        assert.deepEqual(await hostConfiguration(lab), { table: true, rule: true });
        const rejected = await send('REJECT');
        assert.equal(rejected.code, 0, rejected.stderr);
        assert.equal(rejected.stdout, 'REJECT', 'the flow itself was not touched');
        await proxy.out.next((l) => l['msg'] === 'unhandled promise rejection (a bug): counted; the proxy (workers: 0) goes on', 5000, 'the rejection log');
        assert.deepEqual((await cli<Stats>(lab, proxy, 'stats')).bugs, { unhandledRejection: 1 });
        assert.match(await metrics(lab, proxy), /srv6pipes_worker_bugs_total\{kind="unhandledRejection"\} 1/);
        assert.equal((await probe(lab, '1')).error, undefined, 'the proxy goes on');
        // a flow in flight when the exception comes: reset, not ended with a FIN
        const long = runClient(lab, 'client', ['--host', SERVER, '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '1000', '--delay-end', '20000']);
        await eventually('the flow in flight', 10000, async () => (await cli<unknown[]>(lab, proxy, 'flows')).length === 1);
        const fatalLine = proxy.out.next((l) => l['level'] === 60, 10000, 'the fatal log line');
        void send('BOOM');
        assert.equal(await exited(proxy.child), 70);
        const fatal = await fatalLine;
        assert.match(String((fatal?.['err'] as { stack?: string } | undefined)?.stack), /boom: a bug in a function module/);
        assert.equal((await long).error, 'ECONNRESET');
        assert.ok(proxy.out.count((l) => l['msg'] === 'host configuration removed') === 1);
        assert.deepEqual(await hostConfiguration(lab), { table: false, rule: false });
      } finally {
        srv.stop();
        await proxy.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
