// How long the elected controller takes to re-point N binding SIDs after a replica fails
// (BsidManager.repointAll over a real one-member etcd on loopback, Debian's etcd-server; the agent is
// in memory, so this is the store's and the controller's share, not an access router's installs).
// Not a test: it asserts nothing about speed. Usage (after scripts/setup.sh):
//   bash scripts/node.sh scripts/repoint-timing.mjs [N=10000] [CONCURRENCY:BATCH list=1:1,32:1,32:64] [repetitions=3]
// For each repetition and setting (interleaved), N records are created (64 at a time) under a fresh
// prefix, then one repointAll moves every one of them from p1a's SID to p1b's, CONCURRENCY records at
// a time, BATCH records per etcd transaction; the time of that call is printed.
import { pino } from 'pino';
import { startLoopbackEtcd } from '../dist/src/controller/store/test-etcd.js';
import { EtcdBsidStore } from '../dist/src/controller/store/etcd.js';
import { BsidManager } from '../dist/src/controller/bsid/manager.js';
import { MemoryAccessRouter } from '../dist/src/access-router/memory.js';
import { parsePrefix } from '../dist/src/net/ip6.js';

const n = Number(process.argv[2] ?? 10_000);
const settings = (process.argv[3] ?? '1:1,32:1,32:64').split(',');
const reps = Number(process.argv[4] ?? 3);
const silent = pino({ level: 'silent' });
const etcd = await startLoopbackEtcd();
const results = new Map(settings.map((c) => [c, []]));
try {
  let round = 0;
  for (let rep = 0; rep < reps; rep++) {
    for (const c of settings) {
      const [concurrency, batch] = c.split(':').map(Number);
      const prefix = `/timing${round++}`;
      const store = new EtcdBsidStore(etcd.client(5000), prefix, silent);
      const agent = new MemoryAccessRouter();
      const m = new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 600_000, log: silent, store, max: n + 10 });
      const until = Date.now() + 1_200_000;
      let next = 0;
      const create = async () => {
        while (next < n) {
          const i = next++;
          const key = `k${i}`;
          const spec = { from: 'net:c', to: 'net:s', destination: 'fc00:2::2', functions: [{ name: 'compress', argument: 0n }], tieKey: key };
          await store.create({ key, bsid: `fc00:f::${(i + 1).toString(16)}`, router: 'ar', client: `fc00:1::${(i + 1).toString(16)}`, segments: ['fc00:a::1:0:0', 'fc00:c::2:0:0'], installedUntil: until, spec }, 1_200_000);
        }
      };
      await Promise.all(Array.from({ length: 64 }, create));
      const t0 = performance.now();
      const r = await m.repointAll(() => ({ segments: ['fc00:b::1:0:0', 'fc00:c::2:0:0'] }), concurrency, batch);
      const ms = performance.now() - t0;
      if (r.moved !== n) throw new Error(`moved ${r.moved} of ${n}: ${JSON.stringify(r)}`);
      results.get(c).push(ms);
      process.stdout.write(`rep ${rep + 1} concurrency:batch ${c}: ${n} re-pointed in ${(ms / 1000).toFixed(2)} s\n`);
      await store.close();
    }
  }
} finally {
  await etcd.stop();
}
for (const [c, list] of results) {
  const s = list.map((x) => x / 1000);
  process.stdout.write(`concurrency:batch ${c}: median ${s.sort((a, b) => a - b)[Math.floor(s.length / 2)].toFixed(2)} s, min–max ${Math.min(...s).toFixed(2)}–${Math.max(...s).toFixed(2)} s over ${s.length} runs (${n} bindings)\n`);
}
