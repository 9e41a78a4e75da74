/**
 * The reconciler over an in-memory index source (the real etcd runs in
 * controller/store/follow.test.ts): a watch that ends for compaction or a broken stream is followed
 * by a full re-list that catches up with what the watch missed; an expired record is not installed;
 * a refused install is counted, never thrown.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { MemoryAccessRouter } from './memory.js';
import { Reconciler, type IndexKeyValue, type IndexRecord, type IndexSource } from './reconcile.js';

const INDEX = '/p/route/ar2/';
const rec = (n: number, over: Partial<IndexRecord> = {}): IndexRecord => ({ key: `k${n}`, bsid: `fc00:e::${n}`, router: 'ar2', client: `fc00:4::${n}`, segments: ['fc00:a::1:0:0'], installedUntil: Date.now() + 60_000, ...over });

/** An index in memory: each watch ends at once with `ends.shift()` (then waits for the abort). */
class FakeSource implements IndexSource {
  readonly kv = new Map<string, string>();
  rev = 1;
  lists = 0;
  readonly ends: { compacted: boolean; reason: string }[] = [];

  put(r: IndexRecord): void {
    this.kv.set(INDEX + r.bsid, JSON.stringify(r));
    this.rev++;
  }

  listAt(prefix: string): Promise<{ kvs: IndexKeyValue[]; revision: string }> {
    this.lists++;
    const kvs = [...this.kv].filter(([k]) => k.startsWith(prefix)).map(([key, value]) => ({ key, value, modRevision: String(this.rev) }));
    return Promise.resolve({ kvs, revision: String(this.rev) });
  }

  watch(_prefix: string, after: string, _onEvents: unknown, signal?: AbortSignal): Promise<{ revision: string; compacted: boolean; reason: string }> {
    const end = this.ends.shift();
    if (end) return Promise.resolve({ revision: after, ...end });
    return new Promise((resolve) => signal?.addEventListener('abort', () => resolve({ revision: after, compacted: false, reason: 'stopped' }), { once: true }));
  }

  get(): Promise<IndexKeyValue | undefined> {
    return Promise.resolve(undefined);
  }
}

const decode = (v: string): IndexRecord | undefined => {
  try {
    return JSON.parse(v) as IndexRecord;
  } catch {
    return undefined;
  }
};

function reconciler(source: FakeSource, agent: MemoryAccessRouter, lines?: string[]): Reconciler {
  const log = lines ? pino({ level: 'info' }, { write: (l: string) => lines.push(l) }) : pino({ level: 'silent' });
  return new Reconciler({ router: 'ar2', index: INDEX, decode, source, agent, log, resyncMs: 60_000, probeMs: 60_000, timeoutMs: 1000, holdMs: 60_000, backoff: { minMs: 10, maxMs: 50 } });
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a watch that ends (compacted, or the stream broke) is followed by a full re-list that catches up with what it missed', async () => {
  const source = new FakeSource();
  const agent = new MemoryAccessRouter('ar2');
  const lines: string[] = [];
  source.put(rec(1));
  // the first watch: compacted (the changes below are never delivered as events); the second: broken
  source.ends.push({ compacted: true, reason: 'compacted at 7' }, { compacted: false, reason: 'the watch stream broke' });
  const r = reconciler(source, agent, lines);
  await r.start();
  source.put(rec(2));
  try {
    await until('the re-lists', () => source.lists >= 3);
    await until('the missed binding', () => agent.installed.has('fc00:e::2'));
    assert.ok(lines.some((l) => l.includes('etcd compacted the history: listing afresh')));
    assert.ok(lines.some((l) => l.includes('the watch ended: listing again') && l.includes('the watch stream broke')));
    assert.equal(r.stats.connected, true);
  } finally {
    await r.stop();
  }
});

test('a record past its expiry is not installed, an installed one past it is removed; a refused install is counted, not thrown', async () => {
  const source = new FakeSource();
  const agent = new MemoryAccessRouter('ar2');
  source.put(rec(1, { installedUntil: Date.now() - 1 }));
  await agent.install({ bsid: 'fc00:e::1', source: { prefix: 'fc00:4::1', length: 128 }, segments: ['fc00:a::1:0:0'], expiresAt: Date.now() + 1000 });
  source.put(rec(2));
  agent.fail = true;
  const r = reconciler(source, agent);
  await r.start();
  try {
    assert.equal(agent.installed.has('fc00:e::1'), false, 'expired in the store: removed');
    assert.equal(agent.installed.has('fc00:e::2'), false);
    assert.deepEqual([r.stats.removes, r.stats.failed, r.stats.installs], [1, 1, 0]);
  } finally {
    await r.stop();
  }
});
