import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chunksOf } from '../../sdk/conformance.js';
import { isSrError } from '../../core/errors.js';
import { BAD_ARGUMENT_ENDING } from '../../sdk/spawn.js';
import { MemoryMetrics, runFunction } from '../../sdk/testing.js';
import { encrypt } from '../encrypt/index.js';
import { HEADER_LEN, RECORD_HEADER_LEN, RECORD_MAX, TAG_LEN } from '../encrypt/records.js';
import { AUTH_REASON, decrypt } from './index.js';

const baseDir = mkdtempSync(join(tmpdir(), 'srv6pipes-decrypt-'));
const b64 = (): string => randomBytes(32).toString('base64');
writeFileSync(join(baseDir, 'keys.yaml'), `keys:\n  "1": ${b64()}\n  "2": ${b64()}\n`, { mode: 0o600 });
writeFileSync(join(baseDir, 'other.yaml'), `keys:\n  "1": ${b64()}\n`, { mode: 0o600 });
const OPTIONS = { keyring: 'keys.yaml' };

/** 40 records of 16 KiB, each one distinct, then the final record */
const RECORD = RECORD_HEADER_LEN + RECORD_MAX + TAG_LEN;
const DATA = randomBytes(40 * RECORD_MAX);

async function sealed(argument = 1, data = DATA): Promise<Buffer> {
  const r = await runFunction(encrypt, { options: OPTIONS, argument, baseDir, upstream: chunksOf(data, RECORD_MAX) });
  assert.equal(r.reset, undefined);
  return r.upstream;
}

/** where record i starts */
const rec = (i: number): number => HEADER_LEN + i * RECORD;

/**
 * Feeds `wire` to decrypt upstream: it must be reset with `reason`, having delivered whole records
 * of the plaintext only, and none at or after record `notPast` (when given).
 */
async function expectReset(wire: Buffer, notPast?: number, o: { argument?: number; options?: object; reason?: string; chunk?: number } = {}) {
  const metrics = new MemoryMetrics();
  const r = await runFunction(decrypt, { options: o.options ?? OPTIONS, argument: o.argument ?? 1, baseDir, metrics, upstream: chunksOf(wire, o.chunk ?? 5000) });
  const reason = o.reason ?? AUTH_REASON;
  assert.equal(r.reset, reason, String(r.error ?? ''));
  assert.equal(metrics.get('encrypt_failures_total', { reason }), 1);
  assert.equal(r.upstream.length % RECORD_MAX, 0, 'a partial record was delivered');
  assert.ok(DATA.subarray(0, r.upstream.length).equals(r.upstream), 'what was delivered is not a prefix of the plaintext');
  if (notPast !== undefined) assert.ok(r.upstream.length <= notPast * RECORD_MAX, `delivered ${r.upstream.length / RECORD_MAX} records, tampered at ${notPast}`);
  return r.upstream;
}

test('untampered, the records open (the control case)', async () => {
  const r = await runFunction(decrypt, { options: OPTIONS, argument: 1, baseDir, upstream: chunksOf(await sealed(), 5000) });
  assert.equal(r.reset, undefined);
  assert.ok(r.upstream.equals(DATA));
});

test('records arriving a byte at a time open the same', async () => {
  const data = DATA.subarray(0, 40_000);
  const r = await runFunction(decrypt, { options: OPTIONS, argument: 1, baseDir, upstream: chunksOf(await sealed(1, data), 1) });
  assert.equal(r.reset, undefined);
  assert.ok(r.upstream.equals(data));
});

test('the wrong key id at decrypt: reset, nothing delivered', async () => {
  assert.equal((await expectReset(await sealed(1), 0, { argument: 2 })).length, 0);
});

test('a key id not in the keyring: a bad argument, rejected before spawn, nothing passes either way', async () => {
  const d = await runFunction(decrypt, { options: OPTIONS, argument: 3, baseDir, upstream: [await sealed()], downstream: [DATA] });
  assert.equal(d.reset, BAD_ARGUMENT_ENDING);
  assert.ok(isSrError(d.error, 'FLOW_BAD_ARGUMENT'), String(d.error));
  assert.match((d.error as Error).message, /decrypt: argument 3: names no key of the keyring/);
  assert.equal(d.upstream.length + d.downstream.length, 0);
  const e = await runFunction(encrypt, { options: OPTIONS, argument: 2n ** 40n, baseDir, upstream: [DATA] });
  assert.equal(e.reset, BAD_ARGUMENT_ENDING);
  assert.ok(isSrError(e.error, 'FLOW_BAD_ARGUMENT'), String(e.error));
  assert.equal(e.upstream.length, 0);
  const huge = await runFunction(encrypt, { options: OPTIONS, argument: 2n ** 70n, baseDir, upstream: [DATA] });
  assert.equal(huge.reset, BAD_ARGUMENT_ENDING, 'a key id above 2^64 names no key either');
});

test('the wrong key under the right id: reset, nothing delivered', async () => {
  assert.equal((await expectReset(await sealed(), 0, { options: { keyring: 'other.yaml' } })).length, 0);
});

test('a flipped bit anywhere in a record: reset before that record', async () => {
  const wire = await sealed();
  for (const [i, off] of [[5, 0], [5, 1], [6, 2], [7, 100], [8, RECORD - 1], [9, RECORD - TAG_LEN]] as const) {
    const bad = Buffer.from(wire);
    bad[rec(i) + off] = bad[rec(i) + off]! ^ 0x01;
    await expectReset(bad, i);
  }
});

test('a flipped bit in the stream header (magic, version, cipher, key id, salt): nothing delivered', async () => {
  const wire = await sealed();
  for (const off of [0, 2, 3, 11, 12, HEADER_LEN - 1]) {
    const bad = Buffer.from(wire);
    bad[off] = bad[off]! ^ 0x01;
    assert.equal((await expectReset(bad, 0)).length, 0, `header byte ${off}`);
  }
});

test('truncation: cut inside a record, or just before the final record: reset', async () => {
  const wire = await sealed();
  await expectReset(wire.subarray(0, rec(10) + 100), 10);
  await expectReset(wire.subarray(0, 20), 0);
  const all = await expectReset(wire.subarray(0, rec(40)));
  assert.equal(all.length, DATA.length, 'every authenticated record is delivered; the missing end still resets');
});

test('two records swapped, one dropped, one replayed: reset at that point', async () => {
  const wire = await sealed();
  const r = (i: number): Buffer => wire.subarray(rec(i), rec(i + 1));
  const rest = (i: number): Buffer => wire.subarray(rec(i));
  const head = (i: number): Buffer => wire.subarray(0, rec(i));
  await expectReset(Buffer.concat([head(3), r(4), r(3), rest(5)]), 3);
  await expectReset(Buffer.concat([head(3), rest(4)]), 3);
  await expectReset(Buffer.concat([head(4), r(3), rest(4)]), 4);
  await expectReset(Buffer.concat([head(4), r(0), rest(4)]), 4);
});

test('records of another flow (same key) spliced in: reset', async () => {
  const a = await sealed();
  const b = await sealed();
  await expectReset(Buffer.concat([a.subarray(0, rec(2)), b.subarray(rec(2))]), 2);
});

test('bytes after the final record: reset', async () => {
  await expectReset(Buffer.concat([await sealed(), Buffer.from([0])]), undefined, { chunk: 1 << 30 });
  await expectReset(Buffer.concat([await sealed(), Buffer.from([0])]));
});

test('reflection: a direction’s own records sent back the other way do not open', async () => {
  const e = await runFunction(encrypt, { options: OPTIONS, argument: 1, baseDir, downstream: [await sealed()] });
  assert.equal(e.reset, AUTH_REASON);
  assert.equal(e.downstream.length, 0);
});

test('not a tunnel stream at all: reset, nothing delivered, even a short request that waits for its answer', async () => {
  assert.equal((await expectReset(Buffer.from(DATA.subarray(0, 100_000)), 0)).length, 0);
  const r = await runFunction(decrypt, { options: OPTIONS, argument: 1, baseDir, upstream: [Buffer.from('GET /\r\n')], chunkDelayMs: 300, resetAfterMs: 500 });
  assert.equal(r.reset, AUTH_REASON);
  assert.equal(r.upstream.length, 0);
});
