/**
 * End to end with `nativeRelay` on (issue 14, prototype): `copy` flows handed to the workers' native
 * relay threads, through two proxies in network namespaces — 50 MB each way with sha256, half-close
 * with a large reply, a stalled server, drain on SIGTERM, 200 concurrent flows with the tables ending empty and every
 * ending ok; an `xor` pair (p1 and p2) carried natively on both, sha256 both ways, while a chain that
 * needs JavaScript (compress, decompress) on the same proxy keeps the JavaScript relay.
 */
// run-tests: relay-independent (every proxy here sets `nativeRelay` itself, so SRV6PIPES_TEST_RELAY=js changes nothing: the JavaScript-relay pass would run this file again unchanged)
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adminArgs, BIN, proxyYaml, runClient, startProxy, startServer, withLab, type ClientResult } from '../helpers/harness.js';
import type { Lab } from '../../src/lab/index.js';
import { CONCURRENT_CLIENT } from '../helpers/concurrent-client.js';

const MB = 1 << 20;
const FUNCTIONS = ['{ id: 1, function: copy }', '{ id: 2, function: xor }', '{ id: 3, chain: [ { function: compress }, { function: decompress } ] }'];
const CAPACITY = 65536;
const config = (locator: string): string => `${proxyYaml(locator, FUNCTIONS)}\nnativeRelay: { mode: auto, capacity: ${CAPACITY} }`;

function assertIntact(r: ClientResult, conn: Record<string, unknown>, up: number, down: number): void {
  assert.equal(r.error, undefined, `client error: ${r.error}`);
  assert.equal(conn['received'], up, 'server received every byte');
  assert.equal(conn['sha256Received'], r.sha256Sent, 'upstream bytes intact');
  assert.equal(r.received, down, 'client received every byte');
  assert.equal(r.sha256Received, conn['sha256Sent'], 'downstream bytes intact');
}

type Stats = { functions: { function: string; flowsTotal: number; bytesUp: number; bytesDown: number; endings: Record<string, number> }[] };
async function stats(lab: Lab, host: string): Promise<Stats> {
  return JSON.parse((await lab.exec(host, [process.execPath, BIN, 'stats', '--json'])).stdout) as Stats;
}

describe('nativeRelay: copy flows on the relay thread', () => {
  test('2 proxies, copy both: 50 MB each way (sha256), counted; then half-close with an 8 MB reply', async () => {
    await withLab('fig1', async (lab) => {
      const p1 = await startProxy(lab, 'p1', config('fc00:a::/80'));
      const p2 = await startProxy(lab, 'p2', config('fc00:b::/80'));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--reply', String(50 * MB)]);
      const late = await startServer(lab, 'server', ['--port', '9001', '--reply', String(8 * MB), '--after-eof']);
      try {
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0,fc00:b::1:0:0', '--send', String(50 * MB)]);
        assertIntact(r, await srv.out.next((l) => l['event'] === 'conn', 60000), 50 * MB, 50 * MB);
        const h = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9001', '--segments', 'fc00:a::1:0:0,fc00:b::1:0:0', '--send', String(3 * MB)]);
        assertIntact(h, await late.out.next((l) => l['event'] === 'conn', 30000), 3 * MB, 8 * MB);
        for (const host of ['p1', 'p2']) {
          const copy = (await stats(lab, host)).functions.find((f) => f.function === 'copy')!;
          assert.deepEqual([copy.flowsTotal, copy.bytesUp, copy.bytesDown, copy.endings], [2, 53 * MB, 58 * MB, { ok: 2 }], host);
        }
      } finally {
        srv.stop();
        late.stop();
        assert.equal(await p1.stop(), 0);
        assert.equal(await p2.stop(), 0);
      }
    });
  });

  test('a stalled server: the flow shows relay native, the relay holds at most its capacity, then everything arrives', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', config('fc00:a::/80'));
      // stalled until the checks are done (SIGUSR2), at most 8 s: a loaded machine's `flows` may be slow to answer
      const srv = await startServer(lab, 'server', ['--port', '9000', '--stall-ms', '8000']);
      try {
        const flow = runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', String(200 * MB)]);
        await new Promise((r) => setTimeout(r, 2000));
        const flows = JSON.parse((await lab.exec('m1', [process.execPath, BIN, 'flows', '--json', ...adminArgs(proxy)])).stdout) as { bufferedUp: number; bytesUp: number; relay?: string }[];
        assert.equal(flows.length, 1);
        assert.equal(flows[0]!.relay, 'native');
        assert.ok(flows[0]!.bufferedUp <= CAPACITY, `the relay holds ${flows[0]!.bufferedUp} bytes for a stalled server`);
        assert.ok(flows[0]!.bytesUp < 50 * MB, `only socket buffers' worth went through: ${flows[0]!.bytesUp}`);
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

  test('SIGTERM: a native flow in flight completes; one that outlasts timeouts.drain is reset; exit 0', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', config('fc00:a::/80'));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const args = ['--host', 'fc00:2::2', '--port', '9000', '--segments', 'fc00:a::1:0:0', '--send', '1000', '--delay-end'];
        const short = runClient(lab, 'client', [...args, '1000']);
        const long = runClient(lab, 'client', [...args, '6000']); // past timeouts.drain (3 s)
        for (let i = 0; i < 100; i++) {
          const flows = JSON.parse((await lab.exec('m1', [process.execPath, BIN, 'flows', '--json', ...adminArgs(proxy)])).stdout) as { relay?: string }[];
          if (flows.length === 2 && flows.every((f) => f.relay === 'native')) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        proxy.child.kill('SIGTERM');
        const r = await short;
        assert.equal(r.error, undefined, 'the flow in flight completed');
        assert.equal(r.received, 1000);
        const l = await long;
        assert.notEqual(l.error, undefined, 'the flow past the drain deadline was reset');
        assert.equal(await proxy.stop(), 0);
      } finally {
        srv.stop();
        await proxy.stop();
      }
    });
  });

  test('200 concurrent flows (copy on p1, xor on p2: both native) all complete; tables end empty, endings ok', async () => {
    await withLab('fig1', async (lab) => {
      const p1 = await startProxy(lab, 'p1', config('fc00:a::/80'));
      const p2 = await startProxy(lab, 'p2', config('fc00:b::/80'));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const runs = await Promise.all(
          [0, 1, 2, 3].map(() => lab.exec('client', [process.execPath, '--input-type=module', '-e', CONCURRENT_CLIENT, '50', 'fc00:a::1:0:0,fc00:b::2:0:0'], { timeoutMs: 60000 })),
        );
        for (const r of runs) {
          const res = JSON.parse(r.stdout) as { ok: number; failed: string[] };
          assert.deepEqual(res.failed, []);
          assert.equal(res.ok, 50);
        }
        for (const [host, proxy, fn] of [
          ['p1', p1, 'copy'],
          ['p2', p2, 'xor'],
        ] as const) {
          let flows: unknown[] = [];
          for (let i = 0; i < 100; i++) {
            flows = JSON.parse((await lab.exec(host, [process.execPath, BIN, 'flows', '--json', ...adminArgs(proxy)])).stdout) as unknown[];
            if (flows.length === 0) break;
            await new Promise((r) => setTimeout(r, 100));
          }
          assert.deepEqual(flows, [], `${host} flow table is empty`);
          const s = (await stats(lab, host)).functions.find((f) => f.function === fn)!;
          assert.equal(s.flowsTotal, 200);
          assert.deepEqual(s.endings, { ok: 200 });
          assert.equal(s.bytesUp, 200 * 20000);
        }
      } finally {
        srv.stop();
        assert.equal(await p1.stop(), 0);
        assert.equal(await p2.stop(), 0);
      }
    });
  });

  test('an xor pair (p1 and p2, key 0x5a) on the relay threads: both rows native, a compress chain beside it JavaScript; 30 MB each way intact (sha256); counted', async () => {
    await withLab('fig1', async (lab) => {
      const p1 = await startProxy(lab, 'p1', config('fc00:a::/80'));
      const p2 = await startProxy(lab, 'p2', config('fc00:b::/80'));
      // stalled servers (no reply: a reply's drain would resume reading) keep both flows open while their
      // rows are read; they read on at SIGUSR2, once the rows are checked (at most 8 s)
      const stalled = await startServer(lab, 'server', ['--port', '9000', '--stall-ms', '8000']);
      const chained = await startServer(lab, 'server', ['--port', '9001', '--stall-ms', '8000']);
      const both = await startServer(lab, 'server', ['--port', '9002', '--reply', String(30 * MB)]);
      const sink = await startServer(lab, 'server', ['--port', '9003']);
      try {
        const PAIR = 'fc00:a::2:0:5a,fc00:b::2:0:5a';
        const pair = runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9000', '--segments', PAIR, '--send', String(100 * MB)]);
        const js = runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9001', '--segments', 'fc00:a::3:0:0', '--send', String(20 * MB)]);
        type Row = { function: string; relay?: string };
        const rows = async (host: string, proxy: typeof p1, want: number): Promise<Row[]> => {
          let r: Row[] = [];
          for (let i = 0; i < 30 && r.length < want; i++) {
            r = JSON.parse((await lab.exec(host, [process.execPath, BIN, 'flows', '--json', ...adminArgs(proxy)])).stdout) as Row[];
            if (r.length < want) await new Promise((res) => setTimeout(res, 20));
          }
          return r;
        };
        const onP1 = await rows('p1', p1, 2);
        const onP2 = await rows('p2', p2, 1);
        assert.deepEqual(onP1.map((f) => [f.function, f.relay]).sort(), [['chain(compress,decompress)', undefined], ['xor', 'native']]);
        assert.deepEqual(onP2.map((f) => [f.function, f.relay]), [['xor', 'native']]);
        for (const srv of [stalled, chained]) srv.child.kill('SIGUSR2');
        for (const [client, server, n] of [
          [await pair, stalled, 100 * MB],
          [await js, chained, 20 * MB],
        ] as const) {
          const c = await server.out.next((l) => l['event'] === 'conn', 60000);
          assert.equal(client.error, undefined);
          assert.equal(c['received'], n);
          assert.equal(c['sha256Received'], client.sha256Sent, 'upstream bytes intact');
        }
        // both ways at once through the pair
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9002', '--segments', PAIR, '--send', String(30 * MB)]);
        assertIntact(r, await both.out.next((l) => l['event'] === 'conn', 60000), 30 * MB, 30 * MB);
        // one xor hop alone changes the bytes (the pair's hops undo each other)
        const one = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9003', '--segments', 'fc00:a::2:0:5a', '--send', String(MB)]);
        const c = await sink.out.next((l) => l['event'] === 'conn', 30000);
        assert.equal(c['received'], MB);
        assert.notEqual(c['sha256Received'], one.sha256Sent, 'xor changed the bytes');
        // a flow is counted once both its sides closed: wait for that rather than for a time
        const xorOn = async (host: string, flows: number) => {
          for (let i = 0; ; i++) {
            const x = (await stats(lab, host)).functions.find((f) => f.function === 'xor')!;
            if ((x.endings['ok'] ?? 0) >= flows || i === 100) return x;
            await new Promise((res) => setTimeout(res, 50));
          }
        };
        const [x1, x2] = [await xorOn('p1', 3), await xorOn('p2', 2)];
        assert.deepEqual([x1.flowsTotal, x1.bytesUp, x1.bytesDown, x1.endings], [3, 131 * MB, 30 * MB, { ok: 3 }]);
        assert.deepEqual([x2.flowsTotal, x2.bytesUp, x2.bytesDown, x2.endings], [2, 130 * MB, 30 * MB, { ok: 2 }]);
      } finally {
        for (const srv of [stalled, chained, both, sink]) srv.stop();
        assert.equal(await p1.stop(), 0);
        assert.equal(await p2.stop(), 0);
      }
    });
  });
});
