#!/usr/bin/env node
/**
 * Issue 14 step 3: the JavaScript of one flow's life (start → relay of one small chunk each way →
 * end) through the SDK's `Flow` and the loaded `copy` function, over in-memory streams — the part of
 * a connection's cost that is ours, without sockets or the kernel. Two builds in one run, interleaved
 * (e.g. the tree before the change compiled elsewhere):
 *   node scripts/microbench-flow.mjs --before /tmp/old/dist --after dist [--flows 20000] [--rounds 5]
 * Prints µs per flow (median, min–max of the rounds) and the V8 heap retained per open flow
 * (flows started whose server side never ends), per build. Not a test: nothing asserts a speed.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({ options: { before: { type: 'string' }, after: { type: 'string', default: 'dist' }, flows: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' }, open: { type: 'string', default: '5000' } } });
const N = Number(a.flows);
const builds = {};
for (const [name, dir] of Object.entries({ before: a.before, after: a.after })) {
  if (!dir) continue;
  const at = (p) => import(pathToFileURL(resolve(dir, p)).href);
  const [{ Flow }, { loadFunction }, { MemoryEnd }, { MemoryMetrics }, { BUILTINS }, { pino }] = await Promise.all([
    at('src/sdk/flow.js'), at('src/sdk/loader.js'), at('src/sdk/memory-stream.js'), at('src/sdk/metrics-memory.js'), at('src/functions/registry.js'), import('pino'),
  ]);
  const log = pino({ level: 'info' }, { write() {} });
  const fn = await loadFunction({ id: 1, chain: false, parts: [{ function: 'copy' }] }, { registry: BUILTINS, baseDir: process.cwd(), log, metricsFor: () => new MemoryMetrics() }, 1, 'functions[0]');
  const counters = { flowsTotal: 0, flowsActive: 0, bytesUp: 0, bytesDown: 0, endings: {} };
  const facts = (id) => ({ flowId: id, functionId: 1, argument: 0n, sid: 'fc00:a::1:0:0', client: { address: 'fc00:1::2', port: 40000 }, server: { address: 'fc00:2::2', port: 80 }, path: ['fc00:a::1:0:0', 'fc00:2::2'], position: 0 });
  const up = Buffer.from('GET / HTTP/1.1\r\n\r\n');
  const down = Buffer.alloc(1230);
  let id = 0;
  /** one flow; resolves when closed (hold: the server side never ends, the flow stays open) */
  const one = (hold = false) => new Promise((done) => {
    const client = new MemoryEnd({ chunks: [up], holdOpen: hold });
    const server = new MemoryEnd({ chunks: [down], holdOpen: hold });
    const f = facts(++id);
    const flow = new Flow(client, {
      log, facts: f, counters, connectTimeoutMs: 5000, now: Date.now,
      spawn: (deps) => fn.spawn(f, deps),
      outbound: () => ({ stream: server, connect: () => process.nextTick(() => server.emit('connect')) }),
      onClosed: () => done(flow),
    });
    flow.start();
    if (hold) setImmediate(() => done(flow));
  });
  builds[name] = { one, times: [] };
}
async function round(b) {
  const t0 = process.hrtime.bigint();
  // 100 flows at a time, as a busy worker has several in flight
  for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: 100 }, () => b.one()));
  return Number(process.hrtime.bigint() - t0) / 1e3 / N;
}
for (const b of Object.values(builds)) await round(b); // warm-up (JIT)
for (let r = 0; r < Number(a.rounds); r++) for (const b of Object.values(builds)) b.times.push(await round(b));
const res = {};
for (const [name, b] of Object.entries(builds)) {
  const t = [...b.times].sort((x, y) => x - y);
  res[name] = { usPerFlowMedian: +t[Math.floor(t.length / 2)].toFixed(2), min: +t[0].toFixed(2), max: +t.at(-1).toFixed(2) };
}
if (global.gc) {
  await new Promise((r) => setTimeout(r, 500));
  for (const [name, b] of Object.entries(builds)) {
    global.gc();
    const h0 = process.memoryUsage().heapUsed;
    const open = [];
    for (let i = 0; i < Number(a.open); i++) open.push(await b.one(true));
    global.gc();
    res[name].heapBytesPerOpenFlow = Math.round((process.memoryUsage().heapUsed - h0) / open.length);
    for (const f of open) f.fail({ kind: 'drain_deadline' });
    open.length = 0;
    await new Promise((r) => setTimeout(r, 500)); // the failed flows close (asynchronously) before the next build's baseline
  }
}
console.log(JSON.stringify({ flows: N, rounds: Number(a.rounds), loadavg: (await import('node:os')).loadavg(), ...res }, null, 1));
