/**
 * The proxy's data path under hostile or broken peers (issue 12: items 5, 6, 7, 16, 17, 20): packets
 * that must not end a worker, flows that must always be released, counters that must not go down.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { BIN, proxyYaml, startProxy, startServer, withLab, type ProxyHandle } from '../helpers/harness.js';

const MB = 1 << 20;
const FUNCTIONS = ['{ id: 1, vf: copy }', '{ id: 2, vf: xor }'];
const CONNECT = JSON.stringify(new URL('../../src/client/connect.js', import.meta.url).href);

/** The worker processes of a proxy (children of its primary). */
export function workerPids(proxy: ProxyHandle): number[] {
  const pid = proxy.child.pid!;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** Open descriptors of a process. */
function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

async function json<T>(lab: Lab, host: string, verb: string): Promise<T> {
  const r = await lab.exec(host, [process.execPath, BIN, verb, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

/** Polls until `check` returns true (or throws the last assertion after `ms`). */
async function eventually(what: string, ms: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A client process opening N flows at once that download from the server and reset mid-transfer
 * after a pseudo-random number of bytes: half of them with a RST alone, half with a FIN at once
 * followed by a RST (shutdown(), then close() with unread data).
 */
const RESET_STORM = `
const { connect } = await import(${CONNECT});
const n = Number(process.argv[1]); const segments = process.argv[2].split(',');
let reset = 0; const failed = [];
await Promise.all(Array.from({ length: n }, async (_, i) => {
  try {
    const s = await connect({ host: 'fc00:2::2', port: 9000, segments });
    const limit = 64 * 1024 + ((i * 7919) % 40) * 64 * 1024;
    let got = 0;
    await new Promise((resolve) => {
      s.on('error', () => undefined); s.on('close', resolve);
      let done = false;
      s.on('data', (d) => {
        got += d.length;
        if (got < limit || done) return;
        done = true; reset++;
        // a FIN then at once a RST (shutdown(), then close() with unread data), or a RST alone
        if (i % 2 === 0) { s.end(); s.once('finish', () => s.resetAndDestroy()); } else s.resetAndDestroy();
      });
      s.write('GET /\\r\\n');
    });
  } catch (e) { failed.push(i + ': ' + (e.code || e.message)); }
}));
process.stdout.write(JSON.stringify({ reset, failed }));
`;

describe('flows that end with a client reset mid-transfer (item 20)', () => {
  test('200 downloads reset mid-transfer: empty flow table, no leftover descriptors, quick SIGTERM', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS, '{ connect: 2s, drain: 10s }'));
      const srv = await startServer(lab, 'server', ['--port', '9000', '--reply', String(10 * MB)]);
      try {
        const workers = workerPids(proxy);
        const before = workers.map(fdCount);
        const runs = await Promise.all(
          [0, 1, 2, 3].map(() => lab.exec('client', [process.execPath, '--input-type=module', '-e', RESET_STORM, '50', 'fc00:a::1:0:0'], { timeoutMs: 120000 })),
        );
        for (const r of runs) {
          const res = JSON.parse(r.stdout) as { reset: number; failed: string[] };
          assert.deepEqual(res.failed, []);
          assert.equal(res.reset, 50);
        }
        let flows: { state: string }[] = [];
        await eventually('an empty flow table', 15000, async () => {
          flows = await json<{ state: string }[]>(lab, 'm1', 'flows');
          return flows.length === 0;
        }).catch((e: Error) => assert.fail(`${e.message}: ${flows.length} flows left, states ${JSON.stringify(flows.map((f) => f.state))}`));
        const stats = await json<{ functions: { flowsTotal: number; flowsActive: number; endings: Record<string, number> }[] }>(lab, 'm1', 'stats');
        assert.equal(stats.functions[0]!.flowsTotal, 200);
        assert.equal(stats.functions[0]!.flowsActive, 0);
        await eventually('the workers back to their descriptors', 5000, () => workers.every((pid, i) => fdCount(pid) <= before[i]!));
        const t0 = Date.now();
        assert.equal(await proxy.stop(), 0);
        const ms = Date.now() - t0;
        assert.ok(ms < 5000, `SIGTERM took ${ms} ms (drain deadline 10 s): flows were left over`);
      } finally {
        srv.stop();
        await proxy.stop();
      }
    });
  });
});
