/**
 * The proxy's data path under hostile or broken peers (issue 12: items 5, 6, 7, 16, 17, 20): packets
 * that must not end a worker, flows that must always be released, counters that must not go down.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { adminArgs, BIN, JsonLines, PEER, ROOT, proxyYaml, runClient, startProxy, startServer, withLab, type ProxyHandle } from '../helpers/harness.js';

const MB = 1 << 20;
const FUNCTIONS = ['{ id: 1, function: copy }', '{ id: 2, function: xor }'];
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

async function json<T>(lab: Lab, host: string, verb: string, proxy?: ProxyHandle): Promise<T> {
  // the flow table needs the admin credential (the harness gives each proxy a root-only socket)
  const r = await lab.exec(host, [process.execPath, BIN, verb, '--json', ...(proxy ? adminArgs(proxy) : [])]);
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
          flows = await json<{ state: string }[]>(lab, 'm1', 'flows', proxy);
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

/** Every counter sample of a Prometheus text, and the histograms' counts and buckets, by series —
 *  by the families' `# TYPE`, not by name: `nodejs_active_resources_total` is a gauge. */
function totals(text: string): Map<string, number> {
  const types = new Map<string, string>();
  for (const t of text.matchAll(/^# TYPE (\w+) (\w+)$/gm)) types.set(t[1]!, t[2]!);
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const x = /^((\w+?)(_total|_count|_bucket)?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!x) continue;
    const [, series, base, suffix, value] = x;
    const type = types.get(`${base}${suffix ?? ''}`) ?? types.get(base!);
    const monotonic = type === 'counter' || (type === 'histogram' && (suffix === '_count' || suffix === '_bucket'));
    if (monotonic) m.set(series!, Number(value));
  }
  return m;
}

/** The counters of `srv6pipes stats --json`, flattened (flowsActive, a gauge, left out). */
function statCounters(s: { accepted: number; rejected: Record<string, number>; functions: { functionId: number; flowsTotal: number; bytesUp: number; bytesDown: number; endings: Record<string, number> }[] }): Map<string, number> {
  const m = new Map<string, number>([['accepted', s.accepted]]);
  for (const [k, v] of Object.entries(s.rejected)) m.set(`rejected.${k}`, v);
  for (const f of s.functions) {
    for (const k of ['flowsTotal', 'bytesUp', 'bytesDown'] as const) m.set(`fn${f.functionId}.${k}`, f[k]);
    for (const [k, v] of Object.entries(f.endings)) m.set(`fn${f.functionId}.endings.${k}`, v);
  }
  return m;
}

function assertNoDecrease(what: string, before: Map<string, number>, after: Map<string, number>): void {
  for (const [k, v] of before) assert.ok((after.get(k) ?? 0) >= v, `${what} ${k} went down: ${v} → ${after.get(k) ?? 'gone'}`);
}

async function runFlows(lab: Lab, n: number, segment: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await lab.exec('client', [process.execPath, BIN, 'connect', '--segments', segment, 'fc00:2::2', '9001'], { input: 'x'.repeat(1000), timeoutMs: 10000 });
    assert.equal(r.code, 0, r.stderr);
  }
}

/**
 * A download that never ends on its own: prints one line at close, {event:'done', error, ended, received}.
 * It writes a byte every 200 ms, so that a lost RST is answered again (by the server host, which has
 * no such connection) instead of leaving the client waiting.
 */
const DOWNLOADER = `
const { connect } = await import(${CONNECT});
const s = await connect({ host: 'fc00:2::2', port: 9000, segments: ['fc00:a::2:0:1'] });
let received = 0; let error; let ended = false;
s.on('data', (d) => { received += d.length; });
// one line, at close: a RST can surface as EOF on the read side when a write took the socket's
// error first, so 'end' alone does not mean a FIN; the error at close tells them apart
s.on('end', () => { ended = true; });
s.on('error', (e) => { error = e.code; });
s.on('close', () => { process.stdout.write(JSON.stringify({ event: 'done', error, ended, received }) + '\\n'); process.exit(0); });
setInterval(() => { if (!s.destroyed && s.writable) s.write('.'); }, 200);
`;

describe('a worker that dies (items 5 and 17)', () => {
  test('killed workers: counters never go down (stats and /metrics); their flows are reset, not ended with a FIN', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const big = await startServer(lab, 'server', ['--port', '9000', '--reply', String(4096 * MB)]);
      const echo = await startServer(lab, 'server', ['--port', '9001', '--echo']);
      try {
        await runFlows(lab, 12, 'fc00:a::1:0:0');
        // a rejection counted too
        const bad = await lab.exec('client', [process.execPath, BIN, 'connect', '--segments', 'fc00:a::99:0:0', 'fc00:2::2', '9001'], { input: 'x', timeoutMs: 10000 });
        assert.equal(bad.code, 1);
        // a download in flight: the client sends nothing and waits; the server streams
        const dl = lab.spawn('client', [process.execPath, '--input-type=module', '-e', DOWNLOADER], { stdio: ['ignore', 'pipe', 'inherit'] });
        const download = new JsonLines(dl).next((l) => l['event'] === 'done', 15000, 'the download’s end').finally(() => dl.kill());
        await eventually('the download in the flow table', 10000, async () => (await json<unknown[]>(lab, 'm1', 'flows', proxy)).length === 1);
        const stats0 = statCounters(await json(lab, 'm1', 'stats'));
        const metrics0 = totals((await lab.exec('m1', ['curl', '-s', 'http://127.0.0.1:7778/metrics'])).stdout);
        assert.ok((stats0.get('fn1.flowsTotal') ?? 0) >= 12 && stats0.get('rejected.FLOW_UNKNOWN_FUNCTION') === 1, JSON.stringify([...stats0]));
        const pids = workerPids(proxy);
        for (const pid of pids) process.kill(pid, 'SIGKILL');
        const r = (await download) as { event: string; error?: string; ended: boolean; received: number };
        assert.equal(r.error, 'ECONNRESET', `the client of a flow whose worker died sees a reset (received ${r.received} bytes)`);
        await eventually('two new workers', 15000, () => {
          const now = workerPids(proxy);
          return now.length === 2 && now.every((p) => !pids.includes(p));
        });
        await eventually('the new workers answer', 10000, async () => (await lab.exec('m1', [process.execPath, BIN, 'stats', '--json'])).code === 0);
        const stats1 = await json<Parameters<typeof statCounters>[0] & { workerExits?: Record<string, number> }>(lab, 'm1', 'stats');
        assertNoDecrease('stats', stats0, statCounters(stats1));
        assert.deepEqual(stats1.workerExits, { SIGKILL: 2 });
        const metrics1 = totals((await lab.exec('m1', ['curl', '-s', 'http://127.0.0.1:7778/metrics'])).stdout);
        assertNoDecrease('metrics', metrics0, metrics1);
        assert.equal(metrics1.get('srv6pipes_worker_exits_total{how="SIGKILL"}'), 2);
        assert.equal(metrics1.get('srv6pipes_worker_restarts_total'), 2);
        // and on they count
        await runFlows(lab, 2, 'fc00:a::1:0:0');
        const stats2 = statCounters(await json(lab, 'm1', 'stats'));
        assert.equal(stats2.get('fn1.flowsTotal'), (stats0.get('fn1.flowsTotal') ?? 0) + 2);
      } finally {
        big.stop();
        echo.stop();
        await proxy.stop();
      }
    });
  });
});

describe('packets that must not end a worker (items 6 and 7)', () => {
  test('link-local clients whose zone names have - . _ : rejected as FLOW_LINK_LOCAL, the workers live on', async () => {
    await withLab('fig5', async (lab) => {
      // three extra links client — m1, named as routers name them; link-local addresses only
      const zones = ['br-lan', 'eth0.100', 'wan_1'];
      for (const [i, zone] of zones.entries()) {
        const steps: [string, string[]][] = [
          ['m1', ['ip', 'link', 'add', zone, 'type', 'veth', 'peer', 'name', `ll${i}`, 'netns', lab.ns('client')]],
          ['m1', ['ip', 'addr', 'add', 'fe80::1/64', 'dev', zone, 'nodad']],
          ['m1', ['ip', 'link', 'set', zone, 'up']],
          ['client', ['ip', 'addr', 'add', 'fe80::2/64', 'dev', `ll${i}`, 'nodad']],
          ['client', ['ip', 'link', 'set', `ll${i}`, 'up']],
          ['client', ['ip', '-6', 'route', 'add', `fc00:a::1:0:${i + 1}/128`, 'via', 'fe80::1', 'dev', `ll${i}`]],
        ];
        for (const [host, argv] of steps) {
          const r = await lab.exec(host, argv);
          assert.equal(r.code, 0, `${host}: ${argv.join(' ')}: ${r.stderr}`);
        }
      }
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const echo = await startServer(lab, 'server', ['--port', '9001', '--echo']);
      try {
        const pids = workerPids(proxy);
        for (const [i, zone] of zones.entries()) {
          const r = await lab.exec('client', [process.execPath, PEER, 'client', '--host', 'fc00:2::2', '--port', '9001', '--segments', `fc00:a::1:0:${i + 1}`, '--local', `fe80::2%ll${i}`, '--send', '100', '--delay-end', '1000'], { timeoutMs: 20000 });
          const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { error?: string };
          assert.equal(res.error, 'ECONNRESET', `zone ${zone}: ${r.stdout}`);
          await proxy.out.next((l) => l['code'] === 'FLOW_LINK_LOCAL' && String(l['client']).includes(`%${zone}]`), 5000, `the rejection of the client on ${zone}`);
        }
        assert.deepEqual(workerPids(proxy), pids, 'no worker died');
        const stats = await json<{ rejected: Record<string, number> }>(lab, 'm1', 'stats');
        assert.equal(stats.rejected['FLOW_LINK_LOCAL'], 3);
        await runFlows(lab, 1, 'fc00:a::1:0:0');
      } finally {
        echo.stop();
        await proxy.stop();
      }
    });
  });

  test('a converter header with an inner SRH TLV of type 0: CONVERT_BAD_TLV, counted, the worker lives on', async () => {
    await withLab('fig5', async (lab) => {
      const yaml = `${proxyYaml('fc00:a::/80', FUNCTIONS)}\nmptcp: { converter: { port: 7780, from: ["fc00:1::/64"] } }`;
      const proxy = await startProxy(lab, 'm1', yaml);
      const echo = await startServer(lab, 'server', ['--port', '9001', '--echo']);
      try {
        const pids = workerPids(proxy);
        const send = `
const { encodeConvertHeader } = await import(${JSON.stringify(new URL('../../src/codec/convert.js', import.meta.url).href)});
const net = await import('node:net');
const base = encodeConvertHeader({ client: { address: 'fc00:1::2', port: 40000 }, server: { address: 'fc00:2::2', port: 9001 }, sid: 'fc00:a::1:0:0', segments: [] });
const inner = Buffer.from([0, 3, 1, 2, 3]);
const h = Buffer.concat([base, Buffer.from([2, inner.length]), inner]);
h.writeUInt16BE(h.length, 2);
const s = net.connect({ host: 'fc00:1::1', port: 7780 }, () => s.write(h));
s.on('error', (e) => { process.stdout.write(e.code); });
s.on('close', () => process.exit(0));
setTimeout(() => { process.stdout.write('TIMEOUT'); process.exit(0); }, 5000);
`;
        for (let i = 0; i < 3; i++) {
          const r = await lab.exec('client', [process.execPath, '--input-type=module', '-e', send], { timeoutMs: 10000 });
          assert.equal(r.stdout, 'ECONNRESET', r.stderr);
        }
        await proxy.out.next((l) => l['code'] === 'CONVERT_BAD_TLV', 5000, 'the rejection log line');
        assert.deepEqual(workerPids(proxy), pids, 'no worker died');
        const stats = await json<{ rejected: Record<string, number> }>(lab, 'm1', 'stats');
        assert.equal(stats.rejected['CONVERT_BAD_TLV'], 3);
      } finally {
        echo.stop();
        await proxy.stop();
      }
    });
  });
});

/**
 * A controller that knows one binding SID (fc00:f::7 → [m1's function 1, fc00:c::1, fc00:d::1]) and
 * nothing else (NXDOMAIN), on [::1]:5300.
 */
const FAKE_CONTROLLER = `
const net = await import('node:net');
const dnsPacket = (await import('dns-packet')).default;
const rec = await import(${JSON.stringify(new URL('../../src/dns/records.js', import.meta.url).href)});
const bsid = rec.arpaName('fc00:f::7');
const answer = (msg) => {
  const q = dnsPacket.decode(msg);
  const name = q.questions[0].name;
  const known = name === bsid;
  const answers = known ? [{ name, type: rec.TYPE_SRH_NAME, class: 'IN', ttl: 60, data: rec.encodeSrhRecord(['fc00:a::1:0:0', 'fc00:c::1', 'fc00:d::1']) }] : [];
  return dnsPacket.encode({ type: 'response', id: q.id, flags: known ? 0x8400 : 0x8403, questions: q.questions, answers });
};
// BSID lookups go over TCP only (a private lookup): two-byte length, message
const server = net.createServer((c) => {
  let got = Buffer.alloc(0);
  c.on('error', () => undefined);
  c.on('data', (chunk) => {
    got = Buffer.concat([got, chunk]);
    while (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
      const out = answer(got.subarray(2, 2 + got.readUInt16BE(0)));
      got = got.subarray(2 + got.readUInt16BE(0));
      const frame = Buffer.alloc(2 + out.length);
      frame.writeUInt16BE(out.length);
      out.copy(frame, 2);
      c.write(frame);
    }
  });
});
server.listen(5300, '::1', () => process.stdout.write(JSON.stringify({ event: 'listening' }) + '\\n'));
`;

describe('binding SIDs that expand past an SRH (item 5)', () => {
  test('a BSID path plus 125 segments: SRH_TOO_LONG, counted, on a cache miss and a hit; the workers live on', async () => {
    await withLab('fig5', async (lab) => {
      // the client plays the access router: its SYN to the BSID is encapsulated towards m1 (End.B6.Encaps);
      // a 127-segment SRH takes 2 KB: jumbo frames on that link, no fragments; each segment the kernel
      // walks at m1 costs a hop: the SYN starts with 255
      for (const [host, argv] of [
        ['client', ['ip', 'link', 'set', 'eth0', 'mtu', '9000']],
        ['m1', ['ip', 'link', 'set', 'eth0', 'mtu', '9000']],
        ['client', ['ip', '-6', 'route', 'add', 'fc00:f::7/128', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00:a::1:0:0', 'via', 'fc00:1::1', 'dev', 'eth0', 'hoplimit', '255']],
      ] as [string, string[]][]) {
        const r = await lab.exec(host, argv);
        assert.equal(r.code, 0, `${host}: ${argv.join(' ')}: ${r.stderr}`);
      }
      const ctl = lab.spawn('m1', [process.execPath, '--input-type=module', '-e', FAKE_CONTROLLER], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
      const proxy = await (async () => {
        await new JsonLines(ctl).next((l) => l['event'] === 'listening', 10000, 'the fake controller');
        return startProxy(lab, 'm1', `${proxyYaml('fc00:a::/80', FUNCTIONS)}\nbindingSids: { controller: "[::1]:5300", prefixes: [ "fc00:f::/64" ] }`);
      })().catch((e: unknown) => {
        ctl.kill();
        throw e;
      });
      const echo = await startServer(lab, 'server', ['--port', '9001', '--echo']);
      try {
        const pids = workerPids(proxy);
        const pads = Array.from({ length: 125 }, (_, i) => `fc00:e::${(i + 1).toString(16)}`);
        for (const round of ['miss', 'hit']) {
          const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '9001', '--segments', ['fc00:f::7', ...pads].join(','), '--send', '100', '--delay-end', '1000']);
          assert.equal(r.error, 'ECONNRESET', `cache ${round}: ${JSON.stringify(r)}`);
        }
        await proxy.out.next((l) => l['code'] === 'SRH_TOO_LONG' && l['msg'] === 'flow rejected', 5000, 'the rejection log line');
        assert.deepEqual(workerPids(proxy), pids, 'no worker died');
        const stats = await json<{ rejected: Record<string, number> }>(lab, 'm1', 'stats');
        assert.equal(stats.rejected['SRH_TOO_LONG'], 2);
        await runFlows(lab, 1, 'fc00:a::1:0:0');
      } finally {
        echo.stop();
        ctl.kill();
        await proxy.stop();
      }
    });
  });
});

describe('rejection warnings are rate-limited (item 16)', () => {
  test('60 rejected SYNs: at most `burst` warnings per worker and window, then one line with the count suppressed', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', `${proxyYaml('fc00:a::/80', FUNCTIONS)}\nlogLimit: { burst: 5, interval: 1s }`);
      try {
        const scan = `
const { connect } = await import(${CONNECT});
let reset = 0;
await Promise.all(Array.from({ length: 60 }, async (_, i) => {
  try { const s = await connect({ host: 'fc00:2::2', port: 9001, segments: ['fc00:a::' + (100 + i).toString(16) + ':0:0'] }); await new Promise((r) => { s.on('error', () => { reset++; r(); }); s.on('close', r); }); }
  catch { reset++; }
}));
process.stdout.write(String(reset));`;
        const r = await lab.exec('client', [process.execPath, '--input-type=module', '-e', scan], { timeoutMs: 30000 });
        assert.equal(r.stdout, '60', r.stderr);
        const stats = await json<{ rejected: Record<string, number> }>(lab, 'm1', 'stats');
        assert.equal(stats.rejected['FLOW_UNKNOWN_FUNCTION'], 60);
        const summaries: Record<string, unknown>[] = [];
        await eventually('the summary lines', 5000, () => {
          summaries.splice(0, summaries.length, ...proxy.out.lines.filter((l) => l['code'] === 'FLOW_UNKNOWN_FUNCTION' && typeof l['suppressed'] === 'number'));
          const logged = proxy.out.count((l) => l['code'] === 'FLOW_UNKNOWN_FUNCTION' && l['msg'] === 'flow rejected');
          return logged + summaries.reduce((n, l) => n + Number(l['suppressed']), 0) === 60;
        });
        const logged = proxy.out.count((l) => l['code'] === 'FLOW_UNKNOWN_FUNCTION' && l['msg'] === 'flow rejected');
        assert.ok(logged <= 2 * 5 * 3, `${logged} warnings logged for 60 rejections (burst 5, 2 workers, a few 1 s windows at most)`);
        assert.ok(summaries.length >= 1);
      } finally {
        await proxy.stop();
      }
    });
  });
});

describe('stopping with flows in flight (item 20)', () => {
  test('SIGTERM: a flow past timeouts.drain is reset (drain_deadline), the proxy exits 0', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS, '{ connect: 2s, drain: 1s }'));
      const big = await startServer(lab, 'server', ['--port', '9000', '--reply', String(4096 * MB)]);
      try {
        const dl = lab.spawn('client', [process.execPath, '--input-type=module', '-e', DOWNLOADER], { stdio: ['ignore', 'pipe', 'inherit'] });
        const download = new JsonLines(dl).next((l) => l['event'] === 'done', 20000, 'the download’s end').finally(() => dl.kill());
        await eventually('the download in the flow table', 10000, async () => (await json<unknown[]>(lab, 'm1', 'flows', proxy)).length === 1);
        assert.equal(await proxy.stop(), 0);
        assert.equal(proxy.out.count((l) => l['reason'] === 'drain_deadline'), 1, 'the worker reset the flow at the deadline (it was not killed)');
        const r = (await download) as { event: string; error?: string };
        assert.deepEqual([r.event, r.error], ['done', 'ECONNRESET']);
      } finally {
        big.stop();
        await proxy.stop();
      }
    });
  });

  test('the primary killed: its workers reset their flows and exit', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', proxyYaml('fc00:a::/80', FUNCTIONS));
      const big = await startServer(lab, 'server', ['--port', '9000', '--reply', String(4096 * MB)]);
      const pids = workerPids(proxy);
      try {
        const dl = lab.spawn('client', [process.execPath, '--input-type=module', '-e', DOWNLOADER], { stdio: ['ignore', 'pipe', 'inherit'] });
        const download = new JsonLines(dl).next((l) => l['event'] === 'done', 20000, 'the download’s end').finally(() => dl.kill());
        await eventually('the download in the flow table', 10000, async () => (await json<unknown[]>(lab, 'm1', 'flows', proxy)).length === 1);
        proxy.child.kill('SIGKILL');
        const r = (await download) as { event: string; error?: string };
        assert.deepEqual([r.event, r.error], ['done', 'ECONNRESET']);
        await eventually('the workers gone', 10000, () => pids.every((p) => !existsSync(`/proc/${p}`) || /\) Z /.test(readFileSync(`/proc/${p}/stat`, 'utf8'))));
      } finally {
        for (const p of pids) if (existsSync(`/proc/${p}`)) process.kill(p, 'SIGKILL');
        big.stop();
      }
    });
  });
});

/** A function module with a bug: a chunk holding BOOM makes it throw from a timer (an uncaught exception). */
const BUGGY_MODULE = `
export default {
  name: 'buggy',
  summary: 'throws from a timer when it sees BOOM (a test fixture: a bug outside the call stack of any flow)',
  options: { safeParse: (v) => ({ success: true, data: v ?? {} }) },
  spawn: () => {
    const t = { data: (c) => { if (c.includes('BOOM')) setTimeout(() => { throw new Error('boom: a bug in a function module'); }, 0); return c; } };
    return { upstream: t, downstream: { data: (c) => c } };
  },
};
`;

describe('a bug that ends a worker (item 5: the process-level policy)', () => {
  test('uncaughtException: logged with its stack, every flow of the worker reset, counters kept, the worker restarted', async () => {
    await withLab('fig5', async (lab) => {
      const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-buggy-'));
      writeFileSync(join(dir, 'buggy.mjs'), BUGGY_MODULE);
      const yaml = proxyYaml('fc00:a::/80', [...FUNCTIONS, `{ id: 9, function: ${join(dir, 'buggy.mjs')} }`]).replace('workers: 2', 'workers: 1');
      const proxy = await startProxy(lab, 'm1', yaml);
      const big = await startServer(lab, 'server', ['--port', '9000', '--reply', String(4096 * MB)]);
      const echo = await startServer(lab, 'server', ['--port', '9001', '--echo']);
      try {
        await runFlows(lab, 3, 'fc00:a::1:0:0');
        const [pid] = workerPids(proxy);
        const dl = lab.spawn('client', [process.execPath, '--input-type=module', '-e', DOWNLOADER], { stdio: ['ignore', 'pipe', 'inherit'] });
        const download = new JsonLines(dl).next((l) => l['event'] === 'done', 20000, 'the download’s end').finally(() => dl.kill());
        let table: unknown[] = [];
        await eventually('the download in the flow table', 10000, async () => (table = await json<unknown[]>(lab, 'm1', 'flows', proxy)).length === 1).catch((e: Error) => {
          throw new Error(`${e.message}: ${JSON.stringify(table)}`);
        });
        const before = statCounters(await json(lab, 'm1', 'stats'));
        await lab.exec('client', [process.execPath, BIN, 'connect', '--segments', 'fc00:a::9:0:0', 'fc00:2::2', '9001'], { input: 'BOOM', timeoutMs: 10000 });
        const fatal = await proxy.out.next((l) => l['level'] === 60, 10000, 'the fatal log line');
        assert.match(String((fatal['err'] as { stack?: string } | undefined)?.stack), /boom: a bug in a function module/);
        const r = (await download) as { event: string; error?: string };
        assert.deepEqual([r.event, r.error], ['done', 'ECONNRESET'], 'the other flows of the worker were reset');
        await proxy.out.next((l) => l['msg'] === 'worker died; restarting it' && l['code'] === 70, 10000, 'the restart');
        await eventually('a new worker', 10000, () => workerPids(proxy).some((p) => p !== pid));
        await eventually('the new worker answers', 10000, async () => (await lab.exec('m1', [process.execPath, BIN, 'stats', '--json'])).code === 0);
        const after = await json<Parameters<typeof statCounters>[0] & { bugs?: Record<string, number>; workerExits?: Record<string, number> }>(lab, 'm1', 'stats');
        assertNoDecrease('stats', before, statCounters(after));
        assert.deepEqual(after.bugs, { uncaughtException: 1 });
        assert.deepEqual(after.workerExits, { 'exit 70': 1 });
        await runFlows(lab, 1, 'fc00:a::1:0:0');
      } finally {
        big.stop();
        echo.stop();
        await proxy.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
