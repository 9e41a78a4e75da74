/**
 * `npm run scale` (bash scripts/node.sh dist/src/bench/scale/main.js): the control plane at scale,
 * for docs/scaling.md. Parts (all by default, or `--parts installs,memory,repoint,dns`):
 *   installs  BSID route installs per second at one access router, up to --max BSIDs (installs.ts)
 *   memory    controller heap/RSS per binding, etcd's db size per binding (memory.ts)
 *   repoint   time to re-point N BSIDs after a replica fails (repoint.ts)
 *   dns       SR answers per second, cold and warm, one controller / on etcd / two on etcd (dns.ts)
 * Writes scale.json (every row, every repetition) and scale.txt (the table) to --out. Needs root
 * (labs of network namespaces), etcd-server and dnsperf (scripts/setup-debian.sh bench).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { summarize } from '../stats.js';
import type { ScaleContext, ScaleRow } from './common.js';

interface Part {
  id: string;
  run(ctx: ScaleContext, a: Args): Promise<void>;
}

interface Args {
  quick: boolean;
  reps: number;
  max: number;
  concurrency: number;
  bindings: number[];
  repoint: number;
  dnsSeconds: number;
  coldQueries: number;
}

const PARTS: Part[] = [
  {
    id: 'installs',
    async run(ctx, a) {
      const { measureInstalls } = await import('./installs.js');
      const levels = [1000, 10_000, 100_000].filter((l) => l <= a.max);
      if (!levels.includes(a.max)) levels.push(a.max);
      for (let r = 0; r < a.reps; r++) await measureInstalls(ctx, { max: a.max, concurrency: a.concurrency, levels }, 'LocalAccessRouter');
    },
  },
  {
    id: 'memory',
    async run(ctx, a) {
      const { measureMemory } = await import('./memory.js');
      await measureMemory(ctx, a.bindings);
    },
  },
  {
    id: 'repoint',
    async run(ctx, a) {
      const { measureRepoint } = await import('./repoint.js');
      await measureRepoint(ctx, a.repoint);
    },
  },
  {
    id: 'dns',
    async run(ctx, a) {
      const { measureDns } = await import('./dns.js');
      await measureDns(ctx, { seconds: a.dnsSeconds, coldQueries: a.coldQueries });
    },
  },
];

const fmt = (v: number): string => (!Number.isFinite(v) ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

export function table(rows: ScaleRow[]): string {
  const lines = ['| part | configuration | at | metric | median | min–max | n |', '|---|---|---|---|---:|---:|---:|'];
  for (const r of rows) {
    const s = summarize(r.values);
    lines.push(`| ${r.part} | ${r.config} | ${r.at} | ${r.metric} (${r.unit}) | ${fmt(s.median)} | ${fmt(s.min)}–${fmt(s.max)} | ${s.n} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      parts: { type: 'string' },
      out: { type: 'string', default: 'scale-results' },
      quick: { type: 'boolean', default: false },
      reps: { type: 'string' },
      max: { type: 'string' },
      concurrency: { type: 'string', default: '256' },
      bindings: { type: 'string' },
      repoint: { type: 'string' },
      'dns-seconds': { type: 'string' },
      'cold-queries': { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const num = (v: string | undefined, d: number): number => {
    const n = v === undefined ? d : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`not a positive integer: ${v}`);
    return n;
  };
  const a: Args = {
    quick,
    reps: num(values.reps, quick ? 1 : 3),
    max: num(values.max, quick ? 5000 : 100_000),
    concurrency: num(values.concurrency, 256),
    bindings: (values.bindings ?? (quick ? '1000,10000' : '1000,10000,100000')).split(',').map((x) => num(x, 0)),
    repoint: num(values.repoint, quick ? 1000 : 10_000),
    dnsSeconds: num(values['dns-seconds'], quick ? 3 : 10),
    coldQueries: num(values['cold-queries'], quick ? 200 : 400),
  };
  const ids = values.parts?.split(',') ?? PARTS.map((p) => p.id);
  for (const id of ids) if (!PARTS.some((p) => p.id === id)) throw new Error(`--parts: unknown part "${id}" (known: ${PARTS.map((p) => p.id).join(', ')})`);
  const out = resolve(values.out ?? 'scale-results');
  mkdirSync(out, { recursive: true });
  const rows: ScaleRow[] = [];
  const notes: string[] = [];
  const ctx: ScaleContext = {
    quick,
    reps: a.reps,
    say: (l) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${l}\n`),
    note: (l) => void notes.push(l),
    record(r, value) {
      let row = rows.find((x) => x.part === r.part && x.config === r.config && x.at === r.at && x.metric === r.metric);
      if (!row) rows.push((row = { ...r, values: [] }));
      row.values.push(value);
    },
  };
  const startedAt = new Date().toISOString();
  const load0 = loadavg()[0]!;
  let failed = 0;
  const save = (): void => {
    const info = { startedAt, endedAt: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, loadavgAtStart: load0, loadavgAtEnd: loadavg()[0], node: process.version, args: a, parts: ids, notes };
    writeFileSync(join(out, 'scale.json'), `${JSON.stringify({ ...info, rows }, null, 2)}\n`);
    writeFileSync(join(out, 'scale.txt'), `srv6pipes scale, ${startedAt}, ${cpus().length} CPUs, load ${load0.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}\n\n${table(rows)}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
  };
  for (const p of PARTS.filter((x) => ids.includes(x.id))) {
    ctx.say(`${p.id}…`);
    try {
      await p.run(ctx, a);
    } catch (e) {
      failed++;
      notes.push(`${p.id} failed: ${(e as Error).stack ?? String(e)}`);
      ctx.say(`${p.id} FAILED: ${(e as Error).message}`);
    }
    save();
  }
  process.stdout.write(`${table(rows)}\n\n${notes.map((n) => `- ${n}`).join('\n')}\nwrote ${join(out, 'scale.json')} and scale.txt\n`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`scale: ${(e as Error).message}\n`);
    process.exit(2);
  },
);
