/**
 * End to end through the real kernel path, in network namespaces: one proxy, chains of 2 and 3,
 * full duplex with sha256, half-close, 200 concurrent flows, resets, TLVs, plain forwarding, drain.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adminArgs, BIN, proxyYaml, runClient, startProxy, startServer, withLab, type ClientResult } from '../helpers/harness.js';
import { CONCURRENT_CLIENT } from '../helpers/concurrent-client.js';

const MB = 1 << 20;
const FUNCTIONS = ['{ id: 1, function: copy }', '{ id: 2, function: xor }', '{ id: 3, function: xor, options: { passes: 3 } }'];

function assertIntact(r: ClientResult, conn: Record<string, unknown>, up: number, down: number): void {
  assert.equal(r.error, undefined, `client error: ${r.error}`);
  assert.equal(r.sent, up);
  assert.equal(conn['received'], up, 'server received every byte');
  assert.equal(conn['sha256Received'], r.sha256Sent, 'upstream bytes intact');
  assert.equal(r.received, down, 'client received every byte');
  assert.equal(r.sha256Received, conn['sha256Sent'], 'downstream bytes intact');
}

describe('one proxy (fig5: client — m1 — server)', () => {
  test('copy and xor: the server sees the client address and the expected bytes', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const echo = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      const sink = await startServer(lab, 'server', ['--port', '9001']);
      try {
        // copy: identical bytes both ways
        const r1 = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', String(MB)]);
        const c1 = await echo.out.next((l) => l['event'] === 'conn');
        assert.equal(c1['remote'], 'fc00:1::2', 'the server sees the client address');
        assert.equal(c1['local'], 'fc00:2::2');
        assertIntact(r1, c1, MB, MB);
        // xor towards a sink: the server gets XORed bytes (so a different hash)
        const r2 = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9001', '--segments', 'fc00:a::2:0:5a', '--send', String(MB)]);
        const c2 = await sink.out.next((l) => l['event'] === 'conn');
        assert.equal(c2['remote'], 'fc00:1::2');
        assert.equal(c2['received'], MB);
        assert.notEqual(c2['sha256Received'], r2.sha256Sent, 'xor changed the bytes');
        // xor towards the echo server: XORed twice (up and down) = identity for the client
        const r3 = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::3:0:77', '--send', String(MB)]);
        assert.equal(r3.error, undefined);
        assert.equal(r3.received, MB);
        assert.equal(r3.sha256Received, r3.sha256Sent, 'xor up and xor down cancel out');
      } finally {
        echo.stop();
        sink.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('unknown function id: the client is reset, the flow counted, the daemon goes on', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const bad = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::99:0:0', '--send', '1000']);
        assert.equal(bad.error, 'ECONNRESET');
        await proxy.out.next((l) => l['code'] === 'FLOW_UNKNOWN_FUNCTION' && l['msg'] === 'flow rejected', 5000, 'the rejection log line');
        const good = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '1000']);
        assert.equal(good.error, undefined);
        assert.equal(good.received, 1000);
        const stats = JSON.parse((await lab.exec('m1', [process.execPath, BIN, 'stats', '--json'])).stdout) as { rejected: Record<string, number> };
        assert.equal(stats.rejected['FLOW_UNKNOWN_FUNCTION'], 1);
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('next hop refuses: the client is reset within 1 s', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      try {
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9999', '--segments', 'fc00:a::1:0:0', '--send', '100']);
        assert.equal(r.error, 'ECONNRESET');
        assert.ok(r.ms < 1000, `reset after ${r.ms} ms`);
        await proxy.out.next((l) => l['reason'] === 'connect_failed', 5000, 'connect_failed log');
      } finally {
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('SRHs with PadN, HMAC and unknown TLVs after the segment list still work', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        for (const tlvs of ['padn', 'hmac', 'unknown', 'padn,unknown,hmac']) {
          const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '5000', '--tlvs', tlvs]);
          assert.equal(r.error, undefined, `tlvs ${tlvs}: ${r.error}`);
          assert.equal(r.received, 5000, `tlvs ${tlvs}`);
          assert.equal(r.sha256Received, r.sha256Sent);
        }
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('an HMAC-signed SRH is verified by the proxy host’s kernel and proxied; a wrong key drops it', async () => {
    await withLab('fig5', async (lab) => {
      // key id 7 (the id peer.js puts in its HMAC TLV); the H flag (0x08) makes the kernel sign and verify
      await lab.exec('client', ['ip', 'sr', 'hmac', 'set', '7', 'sha256'], { input: 'a-shared-secret\n' });
      await lab.exec('m1', ['ip', 'sr', 'hmac', 'set', '7', 'sha256'], { input: 'a-shared-secret\n' });
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const args = ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '5000', '--tlvs', 'padn,unknown,hmac', '--flags', '8', '--timeout', '1500'];
        const ok = await runClient(lab, 'client', args);
        assert.equal(ok.error, undefined);
        assert.equal(ok.sha256Received, ok.sha256Sent);
        await lab.exec('m1', ['ip', 'sr', 'hmac', 'set', '7', 'sha256'], { input: 'another-secret\n' });
        const bad = await runClient(lab, 'client', args);
        assert.equal(bad.error, 'ETIMEDOUT', 'the kernel dropped the SYN with a bad HMAC');
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('non-SR traffic through the proxy host is forwarded like a router', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--send', String(MB)]);
        assert.equal(r.error, undefined);
        assert.equal(r.sha256Received, r.sha256Sent);
        const ping = await lab.exec('client', ['ping', '-6', '-c', '1', '-W', '2', 'fc00:2::2']);
        assert.equal(ping.code, 0, ping.stdout);
        const stats = JSON.parse((await lab.exec('m1', [process.execPath, BIN, 'stats', '--json'])).stdout) as { accepted: number };
        assert.equal(stats.accepted, 0, 'the proxy did not intercept plain traffic');
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });

  test('SIGTERM drains a flow in flight, removes the nftables table and exits 0', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const tables = await lab.exec('m1', ['nft', 'list', 'tables']);
        assert.match(tables.stdout, /table ip6 srv6pipes/);
        // a flow that lasts ~1 s: it must complete although SIGTERM comes in the middle
        const flow = runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '1000', '--delay-end', '1000']);
        // SIGTERM once the flow is in the proxy's table (a fixed delay lost the race under load: the SYN came during the drain)
        for (let end = Date.now() + 10000; ; await new Promise((r) => setTimeout(r, 20))) {
          const rows = JSON.parse((await lab.exec('m1', [process.execPath, BIN, 'flows', '--json', ...adminArgs(proxy)])).stdout) as unknown[];
          if (rows.length > 0) break;
          assert.ok(Date.now() < end, 'the flow reached the proxy');
        }
        proxy.child.kill('SIGTERM');
        const r = await flow;
        assert.equal(r.error, undefined, 'the flow in flight completed');
        assert.equal(r.received, 1000);
        assert.equal(await proxy.stop(), 0);
        const after = await lab.exec('m1', ['nft', 'list', 'tables']);
        assert.doesNotMatch(after.stdout, /srv6pipes/);
        const rules = await lab.exec('m1', ['ip', '-6', 'rule']);
        assert.doesNotMatch(rules.stdout, /fwmark/);
      } finally {
        srv.stop();
        await proxy.stop();
      }
    });
  });
});

describe('back-pressure', () => {
  test('a stalled server: the proxy holds at most a few socket buffers, then everything arrives', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      // the stall (from the server's accept) must outlast the 2 s wait plus the `flows` CLI's start on a
      // loaded machine: with 3 s, the native relay had moved all 200 MB before `flows` answered
      const srv = await startServer(lab, 'server', ['--port', '9000', '--stall-ms', '8000']);
      try {
        const flow = runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::2:0:1', '--send', String(200 * MB)]);
        await new Promise((r) => setTimeout(r, 2000));
        const flows = JSON.parse((await lab.exec('m1', [process.execPath, BIN, 'flows', '--json', ...adminArgs(proxy)])).stdout) as { bufferedUp: number; bytesUp: number }[];
        assert.equal(flows.length, 1);
        assert.ok(flows[0]!.bufferedUp < 4 * MB, `proxy buffers ${flows[0]!.bufferedUp} bytes for a stalled server`);
        assert.ok(flows[0]!.bytesUp < 50 * MB, `only socket buffers' worth went through: ${flows[0]!.bytesUp}`);
        // checked while stalled: the server reads now (SIGUSR2), not when the 8 s are up
        srv.child.kill('SIGUSR2');
        const r = await flow;
        const c = await srv.out.next((l) => l['event'] === 'conn', 60000);
        assert.equal(r.error, undefined);
        assert.equal(c['received'], 200 * MB);
      } finally {
        srv.stop();
        assert.equal(await proxy.stop(), 0);
      }
    });
  });
});

describe('chains', () => {
  test('2 proxies (fig1), XOR pair, 50 MB each way full duplex, sha256', async () => {
    await withLab('fig1', async (lab) => {
      const p1 = await startProxy(lab, 'p1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const p2 = await startProxy(lab, 'p2', proxyYaml('fc00:b::/80', FUNCTIONS));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--reply', String(50 * MB)]);
      try {
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::2:0:3c,fc00:b::2:0:3c', '--send', String(50 * MB)]);
        const c = await srv.out.next((l) => l['event'] === 'conn', 60000);
        assert.equal(c['remote'], 'fc00:1::2');
        assertIntact(r, c, 50 * MB, 50 * MB);
      } finally {
        srv.stop();
        assert.equal(await p1.stop(), 0);
        assert.equal(await p2.stop(), 0);
      }
    });
  });

  test('3 proxies (chain3), keys k1, k2, k1^k2: 50 MB each way full duplex, sha256', async () => {
    await withLab('chain3', async (lab) => {
      const ps = [
        await startProxy(lab, 'p1', proxyYaml('fc00:a::/80', FUNCTIONS)),
        await startProxy(lab, 'p2', proxyYaml('fc00:b::/80', FUNCTIONS)),
        await startProxy(lab, 'p3', proxyYaml('fc00:c::/80', FUNCTIONS)),
      ];
      const srv = await startServer(lab, 'server', ['--port', '9000', '--reply', String(50 * MB)]);
      try {
        const path = `fc00:a::2:0:12,fc00:b::3:0:34,fc00:c::2:0:${(0x12 ^ 0x34).toString(16)}`;
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', path, '--send', String(50 * MB)]);
        const c = await srv.out.next((l) => l['event'] === 'conn', 60000);
        assert.equal(c['remote'], 'fc00:1::2');
        assertIntact(r, c, 50 * MB, 50 * MB);
      } finally {
        srv.stop();
        for (const p of ps) assert.equal(await p.stop(), 0);
      }
    });
  });

  test('half-close: the client sends, shuts its write side, still receives a multi-MB reply', async () => {
    await withLab('fig1', async (lab) => {
      const p1 = await startProxy(lab, 'p1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const p2 = await startProxy(lab, 'p2', proxyYaml('fc00:b::/80', FUNCTIONS));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--reply', String(8 * MB), '--after-eof']);
      try {
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0,fc00:b::2:0:0', '--send', String(3 * MB)]);
        const c = await srv.out.next((l) => l['event'] === 'conn', 30000);
        assertIntact(r, c, 3 * MB, 8 * MB);
      } finally {
        srv.stop();
        assert.equal(await p1.stop(), 0);
        assert.equal(await p2.stop(), 0);
      }
    });
  });

  test('200 concurrent flows through 2 proxies all complete; the flow tables end empty', async () => {
    await withLab('fig1', async (lab) => {
      const p1 = await startProxy(lab, 'p1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const p2 = await startProxy(lab, 'p2', proxyYaml('fc00:b::/80', FUNCTIONS));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        // 4 client processes × 50 flows each
        const runs = await Promise.all(
          [0, 1, 2, 3].map(() =>
            lab.exec('client', [process.execPath, '--input-type=module', '-e', CONCURRENT_CLIENT, '50', 'fc00:a::2:0:99,fc00:b::2:0:99'], { timeoutMs: 60000 }),
          ),
        );
        for (const r of runs) {
          const res = JSON.parse(r.stdout) as { ok: number; failed: string[] };
          assert.deepEqual(res.failed, []);
          assert.equal(res.ok, 50);
        }
        assert.equal(srv.out.count((l) => l['event'] === 'conn' && l['remote'] === 'fc00:1::2'), 200);
        await new Promise((r) => setTimeout(r, 300));
        for (const [host, proxy] of [['p1', p1], ['p2', p2]] as const) {
          const flows = JSON.parse((await lab.exec(host, [process.execPath, BIN, 'flows', '--json', ...adminArgs(proxy)])).stdout) as unknown[];
          assert.deepEqual(flows, [], `${host} flow table is empty`);
          const stats = JSON.parse((await lab.exec(host, [process.execPath, BIN, 'stats', '--json'])).stdout) as { functions: { flowsTotal: number; endings: Record<string, number> }[] };
          assert.equal(stats.functions[0]!.flowsTotal, 200);
          assert.deepEqual(stats.functions[0]!.endings, { ok: 200 });
        }
      } finally {
        srv.stop();
        assert.equal(await p1.stop(), 0);
        assert.equal(await p2.stop(), 0);
      }
    });
  });
});
