/**
 * Flow lifetimes end to end: idle and connect timeouts, resets in both directions, and the
 * netcat-like `srv6pipes connect` over an SR path.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { BIN, proxyYaml, runClient, startProxy, startServer, withLab } from '../helpers/harness.js';

const FUNCTIONS = ['{ id: 1, function: copy }', '{ id: 2, function: xor }'];

describe('flow lifetimes (fig5)', () => {
  test('an idle flow is reset after timeouts.idle; an active one is not', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS, '{ idle: 1s, connect: 2s, drain: 2s }'));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const idle = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '100', '--delay-end', '4000']);
        assert.equal(idle.error, 'ECONNRESET');
        assert.ok(idle.ms >= 1000 && idle.ms < 3900, `reset after ${idle.ms} ms`);
        await proxy.out.next((l) => l['reason'] === 'idle_timeout', 2000, 'idle_timeout log');
        const quick = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '100', '--delay-end', '500']);
        assert.equal(quick.error, undefined);
        assert.equal(quick.received, 100);
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('a next hop that drops SYNs: the client is reset after timeouts.connect', async () => {
    await withLab('fig5', async (lab) => {
      const rules = 'table ip6 blackhole {\n chain input_drop {\n  type filter hook input priority 0;\n  tcp dport 9000 drop\n }\n}\n';
      const nft = await lab.exec('server', ['nft', '-f', '-'], { input: rules });
      assert.equal(nft.code, 0, nft.stderr);
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS, '{ connect: 1s }'));
      try {
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '100']);
        assert.equal(r.error, 'ECONNRESET');
        assert.ok(r.ms >= 900 && r.ms < 2500, `reset after ${r.ms} ms`);
        await proxy.out.next((l) => l['reason'] === 'connect_timeout', 2000, 'connect_timeout log');
      } finally {
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('a reset travels both ways: client → server and server → client', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const sink = await startServer(lab, 'server', ['--port', '9000']);
      const resetter = await startServer(lab, 'server', ['--port', '9001', '--reset-after-bytes', '1000']);
      try {
        // the client resets after sending: the server sees its connection reset
        const c = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::2:0:1', '--send', '5000', '--reset-after-ms', '300']);
        assert.equal(c.error, 'RESET_SENT');
        const conn = await sink.out.next((l) => l['event'] === 'conn', 5000, 'server side of the reset flow');
        assert.equal(conn['error'], 'ECONNRESET');
        // the server resets: the client sees ECONNRESET
        const s = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9001', '--segments', 'fc00:a::1:0:0', '--send', '100000', '--delay-end', '2000']);
        assert.equal(s.error, 'ECONNRESET');
        const stats = JSON.parse((await lab.exec('m1', [process.execPath, BIN, 'stats', '--json'])).stdout) as { functions: { functionId: number; endings: Record<string, number> }[] };
        const byFn = Object.fromEntries(stats.functions.map((f) => [f.functionId, f.endings]));
        assert.equal(byFn[2]?.['client_reset'], 1);
        assert.equal(byFn[1]?.['server_reset'], 1);
      } finally {
        sink.stop();
        resetter.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('a worker that dies is restarted after its back-off; /health says 503 and why meanwhile; the proxy keeps serving', async () => {
    await withLab('fig5', async (lab) => {
      // a back-off long enough to see the proxy not ready (issue 15: /health reflects readiness)
      const proxy = await startProxy(lab, 'm1', `${proxyYaml('fc00:a::/80', FUNCTIONS)}\nworkerRestart: { delay: 5s }\n`);
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      const health = async (): Promise<{ status: number; body: { ready: boolean; reason?: string; restarts: number } }> => {
        const r = await lab.exec('m1', [process.execPath, '-e', 'fetch("http://127.0.0.1:7778/health").then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.json() })))']);
        return JSON.parse(r.stdout) as { status: number; body: { ready: boolean; reason?: string; restarts: number } };
      };
      try {
        const children = readFileSync(`/proc/${proxy.child.pid}/task/${proxy.child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
        assert.equal(children.length, 2, 'two workers');
        assert.deepEqual(await health(), { status: 200, body: { ok: true, ready: true, workers: 2, workersWanted: 2, restarts: 0, draining: false } });
        process.kill(children[0]!, 'SIGKILL');
        const died = await proxy.out.next((l) => l['msg'] === 'worker died; restarting it', 5000, 'restart log');
        assert.equal(died['restartInMs'], 5000);
        const waiting = await health();
        assert.equal(waiting.status, 503);
        assert.match(waiting.body.reason ?? '', /^1 of 2 workers listening \(restarting: worker \d in \d+ ms\)$/);
        await proxy.out.next((l) => l['msg'] === 'worker listening' && l['pid'] !== children[0] && !children.includes(Number(l['pid'])), 20000, 'new worker');
        const back = await health();
        assert.equal(back.status, 200);
        assert.equal(back.body.restarts, 1);
        for (let i = 0; i < 10; i++) {
          const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '1000']);
          assert.equal(r.error, undefined);
        }
        const stats = JSON.parse((await lab.exec('m1', [process.execPath, BIN, 'stats', '--json'])).stdout) as { workers: number };
        assert.equal(stats.workers, 2);
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('srv6pipes connect: stdin over an SR path, EOF half-closes, the reply comes back', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const input = 'hello over SRv6\n'.repeat(1000);
        const r = await lab.exec('client', [process.execPath, BIN, 'connect', '--segments', 'fc00:a::1:0:0', 'fc00:2::2', '9000'], { input, timeoutMs: 10000 });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, input);
        const conn = await srv.out.next((l) => l['event'] === 'conn');
        assert.equal(conn['remote'], 'fc00:1::2');
        // a reader that stops early (`| head`): connect ends quietly, no EPIPE stack
        const cmd = `e=$(mktemp); "${process.execPath}" "${BIN}" connect --segments fc00:a::1:0:0 fc00:2::2 9000 2>"$e" | head -c 16; s=\${PIPESTATUS[0]}; cat "$e" >&2; rm -f "$e"; exit $s`;
        const early = await lab.exec('client', ['bash', '-c', cmd], { input: input.repeat(20), timeoutMs: 10000 });
        assert.equal(early.stderr, '', 'no error text, no stack');
        assert.equal(early.code, 0);
        assert.equal(early.stdout, input.slice(0, 16));
        const refused = await lab.exec('client', [process.execPath, BIN, 'connect', '--segments', 'fc00:a::1:0:0', 'fc00:2::2', '9999'], { input: 'x', timeoutMs: 10000 });
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /ECONNRESET/);
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });
});
