import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Journal, netnsCookie, netnsInode, readJournals, removeJournalsOf, type JournalFile, type Leftover } from './journal.js';

const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-journal-'));
process.env['SRV6PIPES_STATE_DIR'] = dir;
const ns = netnsInode()!;
const nft: Leftover = { kind: 'nft', family: 'ip6', table: 'srv6pipes' };
const rule: Leftover = { kind: 'rule', args: ['fwmark', '0x1000000/0x1000000', 'lookup', '7777', 'protocol', '177'] };

test('a journal file holds what is applied and goes when everything is reverted', () => {
  const path = join(dir, `${ns}-1.json`);
  const j = new Journal(path, { pid: 1, netns: ns, command: 'proxy' });
  j.add([nft]);
  j.add([rule]);
  assert.deepEqual((JSON.parse(readFileSync(path, 'utf8')) as JournalFile).leftovers, [nft, rule]);
  j.remove([rule]);
  assert.deepEqual((JSON.parse(readFileSync(path, 'utf8')) as JournalFile).leftovers, [nft]);
  j.remove([nft]);
  assert.equal(existsSync(path), false);
});

test('readJournals: this namespace only; a dead pid is not alive; another cookie (a deleted namespace with the same inode) is stale', () => {
  const cookie = netnsCookie();
  const write = (name: string, f: Partial<JournalFile>): void =>
    writeFileSync(join(dir, name), JSON.stringify({ pid: 2 ** 22 + 1, netns: ns, command: 'proxy', started: '2026-01-01T00:00:00Z', leftovers: [nft], ...f }));
  write(`${ns}-${2 ** 22 + 1}.json`, cookie !== undefined ? { cookie } : {});
  write(`${ns}-${2 ** 22 + 2}.json`, { pid: 2 ** 22 + 2, cookie: '1' });
  write(`${ns + 1}-5.json`, { netns: ns + 1 });
  write(`${ns}-${process.ppid}.json`, { pid: process.ppid, started: '2026-01-02T00:00:00Z', ...(cookie !== undefined ? { cookie } : {}) });
  const got = readJournals(ns, cookie).map((j) => ({ pid: j.pid, alive: j.alive, stale: j.stale }));
  const expectStale = cookie !== undefined;
  assert.deepEqual(got.sort((a, b) => a.pid - b.pid), [
    { pid: process.ppid, alive: true, stale: false },
    { pid: 2 ** 22 + 1, alive: false, stale: false },
    { pid: 2 ** 22 + 2, alive: false, stale: expectStale },
  ].sort((a, b) => a.pid - b.pid));
});

test('orphanJournals: a journal whose namespace and process are gone; not this namespace’s, not a live process’s', async () => {
  const { orphanJournals } = await import('./journal.js');
  const own = mkdtempSync(join(tmpdir(), 'srv6pipes-orphans-'));
  process.env['SRV6PIPES_STATE_DIR'] = own;
  try {
    const gone = join(own, `4000000000-${2 ** 22 + 3}.json`);
    writeFileSync(gone, '{}');
    writeFileSync(join(own, `${ns}-${2 ** 22 + 4}.json`), '{}');
    writeFileSync(join(own, `4000000001-${process.pid}.json`), '{}');
    assert.deepEqual(orphanJournals(), [gone]);
  } finally {
    process.env['SRV6PIPES_STATE_DIR'] = dir;
  }
});

test('a deleted lab namespace: its dead daemons\' journals go, a live process\'s and other namespaces\' stay', () => {
  const gone = 4_000_000_001;
  const other = 4_000_000_002;
  const dead = 2 ** 22 + 7; // above pid_max's default: no such process
  const files = [`${gone}-${dead}.json`, `${gone}-${process.pid}.json`, `${other}-${dead}.json`];
  for (const f of files) writeFileSync(join(dir, f), '{}');
  assert.deepEqual(removeJournalsOf([gone]), [`${gone}-${dead}.json`]);
  assert.deepEqual(files.map((f) => existsSync(join(dir, f))), [false, true, true]);
});
