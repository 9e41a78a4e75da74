/**
 * A small DNS load generator for `srv6pipes scale` (run inside the client's namespace): AAAA
 * queries for one name, each from its own source address (`--base` + 1…`--count`, low 32 bits; the
 * addresses must be on an interface), at most `--window` outstanding, to `--server` port 53.
 * A source address is one client: its first query makes the controller allocate a binding (cold),
 * later ones refresh it (warm). `--rounds` asks every source that many times. Prints one JSON line:
 * sent, answered, by rcode, seconds, latencies' p50/p99 (ms).
 */
import { createSocket, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';
import dnsPacket from 'dns-packet';
import { nthAddress } from './common.js';

const { values } = parseArgs({
  options: {
    server: { type: 'string' },
    base: { type: 'string' },
    first: { type: 'string', default: '1' },
    count: { type: 'string' },
    window: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '1' },
    name: { type: 'string', default: 'server.lab.example' },
    timeout: { type: 'string', default: '15000' },
  },
});
const server = values.server!;
const first = Number(values.first);
const count = Number(values.count);
const window = Number(values.window);
const rounds = Number(values.rounds);
const timeoutMs = Number(values.timeout);

async function bound(addr: string): Promise<Socket> {
  const s = createSocket({ type: 'udp6' });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind({ address: addr, port: 0 }, () => resolve());
  });
  return s;
}

async function main(): Promise<void> {
  const latencies: number[] = [];
  const rcodes: Record<string, number> = {};
  let id = 0;
  let sent = 0;
  const jobs: number[] = [];
  for (let r = 0; r < rounds; r++) for (let i = 0; i < count; i++) jobs.push(first + i);
  let next = 0;
  // a socket per query, bound to its source, closed after the answer (thousands of sources, few descriptors)
  const ask = async (n: number, qid: number): Promise<{ rcode: string; ms: number }> => {
    const s = await bound(nthAddress(values.base!, n));
    try {
      const buf = dnsPacket.encode({ type: 'query', id: qid, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'AAAA', name: values.name! }] });
      const t = process.hrtime.bigint();
      const rcode = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('TIMEOUT'), timeoutMs);
        s.on('message', (msg) => {
          let p;
          try {
            p = dnsPacket.decode(msg);
          } catch {
            return;
          }
          if (p.id !== qid) return;
          clearTimeout(timer);
          resolve((p as { rcode?: string }).rcode ?? 'NOERROR');
        });
        sent++;
        s.send(buf, 53, server);
      });
      return { rcode, ms: Number(process.hrtime.bigint() - t) / 1e6 };
    } finally {
      s.close();
    }
  };
  const t0 = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    for (;;) {
      const j = next++;
      if (j >= jobs.length) return;
      const n = jobs[j]!;
      const { rcode, ms } = await ask(n, (id = (id + 1) & 0xffff));
      rcodes[rcode] = (rcodes[rcode] ?? 0) + 1;
      if (rcode !== 'TIMEOUT') latencies.push(ms);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, jobs.length) }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]! : NaN);
  process.stdout.write(`${JSON.stringify({ sent, answered: latencies.length, rcodes, seconds, p50: pct(50), p99: pct(99) })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`dnsload: ${(e as Error).message}\n`);
  process.exit(1);
});
