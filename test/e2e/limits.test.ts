/**
 * Limits and start-up order (issue 12 items 13, 15, 22), through the real kernel path:
 * flow admission (FLOW_LIMIT, FLOW_CLIENT_LIMIT) answered with a RST and counted; a tiny descriptor
 * limit makes accepts fail, which are counted while the worker stays up; a client that keeps
 * connecting while the proxy starts is never refused (interception only once the workers listen).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adminArgs, BIN, JsonLines, runClient, startProxy, startServer, withLab, writeConfig, type ProxyHandle } from '../helpers/harness.js';
import type { Lab } from '../../src/lab/index.js';

const CONNECT = new URL('../../src/client/connect.js', import.meta.url).href;

function config(extra: string[], workers = 1, drain = '3s'): string {
  return [`workers: ${workers}`, 'locators: [ { prefix: "fc00:a::/80" } ]', 'functions:', '  - { id: 1, function: copy }', `timeouts: { connect: 2s, drain: ${drain} }`, ...extra].join('\n');
}

type Stats = { rejected: Record<string, number>; workers: number; accepted: number; earlyConnects?: Record<string, number> };
async function stats(lab: Lab, host: string): Promise<Stats> {
  const r = await lab.exec(host, [process.execPath, BIN, 'stats', '--json']);
  return JSON.parse(r.stdout) as Stats;
}

async function flowCount(lab: Lab, host: string, proxy: ProxyHandle): Promise<number> {
  const r = await lab.exec(host, [process.execPath, BIN, 'flows', '--json', ...adminArgs(proxy)]);
  return (JSON.parse(r.stdout) as unknown[]).length;
}

async function until(what: string, cond: () => Promise<boolean>, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const held = (lab: Lab, local: string) =>
  runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '1000', '--delay-end', '8000', '--local', local]);

/** One process opens N flows at once, holds each HOLD ms, then ends it; prints { ok, failed: {code: n} }. */
const HOLD_MANY = `
const { connect } = await import(${JSON.stringify(new URL('../../src/client/connect.js', import.meta.url).href)});
const [n, hold] = process.argv.slice(1).map(Number);
let ok = 0; const failed = {};
await Promise.all(Array.from({ length: n }, async () => {
  let outcome;
  try {
    const s = await connect({ host: 'fc00:2::2', port: 9000, segments: ['fc00:a::1:0:0'], timeoutMs: 5000 });
    outcome = await new Promise((resolve) => {
      let got = 0;
      s.on('data', (d) => { got += d.length; });
      s.on('error', (e) => resolve(e.code ?? String(e)));
      s.on('end', () => resolve(got === 1000 ? 'ok' : 'EOF_' + got));
      s.write(Buffer.alloc(1000, 7));
      setTimeout(() => s.end(), hold);
    });
  } catch (e) { outcome = e.code ?? String(e); }
  if (outcome === 'ok') ok++; else failed[outcome] = (failed[outcome] ?? 0) + 1;
}));
console.log(JSON.stringify({ ok, failed }));
`;
const quick = (lab: Lab, local: string) => runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '1000', '--local', local]);

describe('limits (fig5: client — m1 — server)', () => {
  test('flows and flowsPerClient: a SYN beyond a limit is reset and counted by code; room comes back', async () => {
    await withLab('fig5', async (lab) => {
      await lab.exec('client', ['ip', '-6', 'addr', 'add', 'fc00:1::3/64', 'dev', 'eth0', 'nodad']);
      const proxy = await startProxy(lab, 'm1', config(['limits: { flows: 3, flowsPerClient: 2, clientPrefix: 128 }']));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const a = [held(lab, 'fc00:1::2'), held(lab, 'fc00:1::2')];
        await until('2 flows', async () => (await flowCount(lab, 'm1', proxy!)) === 2);
        const a3 = await quick(lab, 'fc00:1::2');
        assert.equal(a3.error, 'ECONNRESET', 'a third flow from the same client is reset');
        const b1 = held(lab, 'fc00:1::3');
        await until('3 flows', async () => (await flowCount(lab, 'm1', proxy!)) === 3);
        const b2 = await quick(lab, 'fc00:1::3');
        assert.equal(b2.error, 'ECONNRESET', 'a fourth flow is reset');
        const s = await stats(lab, 'm1');
        assert.equal(s.rejected['FLOW_CLIENT_LIMIT'], 1);
        assert.equal(s.rejected['FLOW_LIMIT'], 1);
        for (const r of await Promise.all([...a, b1])) assert.equal(r.error, undefined, 'the admitted flows complete');
        await until('an empty flow table', async () => (await flowCount(lab, 'm1', proxy!)) === 0);
        const again = await quick(lab, 'fc00:1::2');
        assert.equal(again.error, undefined, 'the limits count only flows in progress');
        assert.equal(again.received, 1000);
      } finally {
        srv.stop();
        await proxy.stop();
      }
    });
  });

  test('connectEarly: a path decided before starts its onward connect in the accept (adopted, counted); a refused flow’s early socket is reset (counted) and early connects pause', async (t) => {
    if (process.env['SRV6PIPES_TEST_RELAY'] === 'js') return t.skip('the native accept’s early connect: the JavaScript relay has none');
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', config(['limits: { flowsPerClient: 1, clientPrefix: 128 }', 'nativeRelay: { earlyPauseMs: 600000 }']));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        for (let i = 0; i < 3; i++) {
          const r = await quick(lab, 'fc00:1::2');
          assert.equal(r.error, undefined);
          assert.equal(r.received, 1000, 'every byte echoed through the early onward socket');
        }
        let s = await stats(lab, 'm1');
        assert.deepEqual(s.earlyConnects, { adopted: 2 }, 'the first flow taught the accept its path; the next two connected onward before the decision');
        const h = held(lab, 'fc00:1::2');
        await until('1 flow', async () => (await flowCount(lab, 'm1', proxy!)) === 1);
        const refused = await quick(lab, 'fc00:1::2');
        assert.equal(refused.error, 'ECONNRESET', 'a second flow of the client is refused');
        s = await stats(lab, 'm1');
        assert.equal(s.rejected['FLOW_CLIENT_LIMIT'], 1);
        assert.deepEqual(s.earlyConnects, { adopted: 3, reset: 1 }, 'the held flow adopted its early socket; the refused one’s was reset');
        assert.equal((await h).error, undefined, 'the held flow completes');
        await until('an empty flow table', async () => (await flowCount(lab, 'm1', proxy!)) === 0);
        // paused after the refusal: the next flow connects onward from its decision, as without the table
        const after = await quick(lab, 'fc00:1::2');
        assert.equal(after.error, undefined);
        assert.equal(after.received, 1000);
        assert.deepEqual((await stats(lab, 'm1')).earlyConnects, { adopted: 3, reset: 1 });
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('a tiny descriptor limit: flows beyond what it allows are reset and counted (NOFILE_LIMIT), never closed silently; the worker stays up', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', config(['limits: { nofile: 96 }']));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const worker = await proxy.out.next((l) => l['msg'] === 'worker listening', 1000);
        const limits = await lab.exec('m1', ['cat', `/proc/${String(worker['pid'])}/limits`]);
        assert.match(limits.stdout, /Max open files\s+96\s/, 'the worker runs with limits.nofile');
        await proxy.out.next((l) => String(l['msg']).startsWith('the descriptor limit leaves room for fewer flows'), 1000, 'the warning at start');
        // 60 flows at once, each held 1.5 s: more descriptors than 96
        const r = await lab.exec('client', [process.execPath, '--input-type=module', '-e', HOLD_MANY, '60', '1500'], { timeoutMs: 60000 });
        const res = JSON.parse(r.stdout) as { ok: number; failed: Record<string, number> };
        assert.ok(res.ok > 0, `some flows went through: ${r.stdout}`);
        assert.deepEqual(Object.keys(res.failed), ['ECONNRESET'], `the others were reset, none closed with a FIN: ${r.stdout}`);
        const s = await stats(lab, 'm1');
        assert.equal(s.rejected['NOFILE_LIMIT'], res.failed['ECONNRESET'], `each reset counted: ${JSON.stringify(s.rejected)}`);
        assert.equal(s.workers, 1, 'the worker is up');
        assert.equal(proxy.out.count((l) => l['msg'] === 'worker died; restarting it'), 0);
        await until('an empty flow table', async () => (await flowCount(lab, 'm1', proxy!)) === 0);
        const after = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '1000']);
        assert.equal(after.error, undefined, 'the listener goes on');
        assert.equal(after.received, 1000);
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });
});

/** Loops of connects over the path; one JSON line per outcome; ends after the first echoed flow. */
const KEEP_CONNECTING = `
const { connect } = await import(${JSON.stringify(CONNECT)});
const end = Date.now() + 30000;
let done = false;
async function loop() {
  while (!done && Date.now() < end) {
    const t = Date.now();
    try {
      const s = await connect({ host: 'fc00:2::2', port: 9000, segments: ['fc00:a::1:0:0'], timeoutMs: 300 });
      const got = await new Promise((resolve) => {
        let n = 0;
        s.on('data', (d) => { n += d.length; if (n >= 5) { s.end(); resolve('ok'); } });
        s.on('error', (e) => resolve(e.code ?? String(e)));
        s.on('end', () => resolve(n >= 5 ? 'ok' : 'EOF'));
        s.write('hello');
      });
      console.log(JSON.stringify({ event: 'attempt', outcome: got, ms: Date.now() - t }));
      if (got === 'ok') done = true;
    } catch (e) {
      console.log(JSON.stringify({ event: 'attempt', outcome: e.code ?? String(e), ms: Date.now() - t }));
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  done = true;
}
await Promise.all([loop(), loop(), loop(), loop()]);
console.log(JSON.stringify({ event: 'end' }));
`;

describe('start-up order', () => {
  test('stop: during the drain a new SYN is refused while the flow in flight completes; the interception goes after', async () => {
    await withLab('fig5', async (lab) => {
      // the drain deadline runs from SIGTERM: long enough for the flow in flight (4 s) to finish
      const proxy = await startProxy(lab, 'm1', config([], 2, '10s'));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const inFlight = runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '1000', '--delay-end', '4000']);
        await until('the flow in flight', async () => (await flowCount(lab, 'm1', proxy!)) === 1);
        proxy.child.kill('SIGTERM');
        await proxy.out.next((l) => l['msg'] === 'draining', 5000, 'the drain');
        // the listeners close first: wait until a SYN is refused, then check it never reached the server
        let refused: string | undefined;
        const end = Date.now() + 3000;
        while (!refused && Date.now() < end) {
          const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '10', '--timeout', '1000']);
          if (r.error) refused = r.error;
        }
        assert.ok(refused === 'ECONNREFUSED' || refused === 'ECONNRESET', `a new SYN during the drain is refused: ${refused}`);
        const r = await inFlight;
        assert.equal(r.error, undefined, 'the flow in flight completed through the interception kept for the drain');
        assert.equal(r.received, 1000);
        assert.equal(await proxy.stop(), 0);
        assert.doesNotMatch((await lab.exec('m1', ['nft', 'list', 'tables'])).stdout, /srv6pipes/, 'the interception is removed after the drain');
      } finally {
        srv.stop();
        await proxy.stop();
      }
    });
  });


  test('a client that keeps connecting while the proxy starts is never refused or reset', async () => {
    await withLab('fig5', async (lab) => {
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      const client = lab.spawn('client', [process.execPath, '--input-type=module', '-e', KEEP_CONNECTING], { stdio: ['ignore', 'pipe', 'inherit'] });
      const out = new JsonLines(client);
      let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
      try {
        await out.next((l) => l['event'] === 'attempt', 10000, 'a first attempt before the proxy runs');
        proxy = await startProxy(lab, 'm1', config([], 2));
        await out.next((l) => l['event'] === 'end', 30000, 'the client loop to end');
        const outcomes = out.lines.filter((l) => l['event'] === 'attempt').map((l) => String(l['outcome']));
        assert.ok(outcomes.includes('ok'), `a flow went through: ${outcomes.join(',')}`);
        const refused = outcomes.filter((o) => o === 'ECONNREFUSED' || o === 'ECONNRESET' || o === 'EOF');
        assert.deepEqual(refused, [], `no attempt was refused or reset while the proxy started (${outcomes.length} attempts)`);
      } finally {
        if (client.exitCode === null) client.kill('SIGTERM');
        srv.stop();
        if (proxy) assert.equal(await proxy.stop(), 0);
      }
    });
  });
});
