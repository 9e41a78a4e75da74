import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chunksOf, sampleData } from '../../sdk/conformance.js';
import { initFunction, runFunction, spawnFlow } from '../../sdk/testing.js';
import type { SyncTransform, FunctionDescriptor } from '../../sdk/types.js';
import { decrypt } from '../decrypt/index.js';
import { encrypt } from './index.js';
import { HEADER_LEN, RECORD_HEADER_LEN, RECORD_MAX, TAG_LEN } from './records.js';

const baseDir = mkdtempSync(join(tmpdir(), 'srv6pipes-encrypt-'));
writeFileSync(join(baseDir, 'keys.yaml'), `keys:\n  "1": ${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
const AES = { keyring: 'keys.yaml' };
const CHACHA = { keyring: 'keys.yaml', cipher: 'chacha20-poly1305' };

/** client → encrypt → decrypt → server, and back (two separate flows; each one's output feeds the other) */
async function tunnel(up: Buffer[], down: Buffer[], o: { encOptions?: object; decOptions?: object; slowConsumer?: boolean } = {}) {
  const common = { argument: 1, baseDir, slowConsumer: !!o.slowConsumer };
  const a = await runFunction(encrypt, { ...common, options: o.encOptions ?? AES, upstream: up });
  const b = await runFunction(decrypt, { ...common, options: o.decOptions ?? AES, upstream: [a.upstream], downstream: down });
  const c = await runFunction(encrypt, { ...common, options: o.encOptions ?? AES, downstream: [b.downstream] });
  return { up: b.upstream, down: c.downstream, wireUp: a.upstream, wireDown: b.downstream, resets: [a.reset, b.reset, c.reset], pauses: a.pauses + b.pauses };
}

const OK = [undefined, undefined, undefined];

test('round trip: 20 MiB upstream and 5 MiB downstream, intact', async () => {
  const up = sampleData(20 << 20, 1);
  const down = sampleData(5 << 20, 2);
  const r = await tunnel(chunksOf(up, 1 << 20), chunksOf(down, 64 * 1024));
  assert.deepEqual(r.resets, OK);
  assert.ok(r.up.equals(up), 'upstream differs');
  assert.ok(r.down.equals(down), 'downstream differs');
});

test('1-byte chunks and 1 MiB chunks give the same plaintext after the pair', async () => {
  const small = sampleData(24 * 1024, 7);
  const a = await tunnel(chunksOf(small, 1), chunksOf(small, 1));
  const b = await tunnel([small], [small]);
  const big = sampleData(3 << 20, 9);
  const m = await tunnel(chunksOf(big, 1 << 20), chunksOf(big, 1 << 20));
  const k = await tunnel(chunksOf(big, 1500), chunksOf(big, 1500));
  for (const r of [a, b, m, k]) assert.deepEqual(r.resets, OK);
  assert.ok(a.up.equals(small) && a.down.equals(small) && b.up.equals(small) && b.down.equals(small));
  assert.ok(m.up.equals(big) && m.down.equals(big) && k.up.equals(big) && k.down.equals(big));
});

test('ChaCha20-Poly1305, and ends with different ciphers (each opens what the header names)', async () => {
  const data = sampleData(300_000, 3);
  const r = await tunnel([data], [data], { encOptions: CHACHA });
  assert.deepEqual(r.resets, OK);
  assert.ok(r.up.equals(data) && r.down.equals(data));
  assert.equal(r.wireUp[3], 2, 'cipher id 2 in the header');
  const mixed = await tunnel([data], [data], { encOptions: CHACHA, decOptions: AES });
  assert.deepEqual(mixed.resets, OK);
  assert.ok(mixed.up.equals(data) && mixed.down.equals(data));
  assert.equal(mixed.wireDown[3], 1);
});

test('the output of encrypt contains no plaintext, and differs from flow to flow (fresh salt)', async () => {
  const marker = Buffer.from('TOP-SECRET-MARKER-0123456789');
  const data = Buffer.concat(Array.from({ length: 5000 }, () => marker));
  const a = await runFunction(encrypt, { options: AES, argument: 1, baseDir, upstream: chunksOf(data, 7000) });
  const b = await runFunction(encrypt, { options: AES, argument: 1, baseDir, upstream: chunksOf(data, 7000) });
  assert.equal(a.reset, undefined);
  assert.equal(a.upstream.indexOf(marker.subarray(0, 8)), -1, 'plaintext found in the output');
  assert.ok(!a.upstream.subarray(HEADER_LEN).equals(b.upstream.subarray(HEADER_LEN)));
  assert.ok(!a.upstream.subarray(12, HEADER_LEN).equals(b.upstream.subarray(12, HEADER_LEN)), 'the salts are equal');
});

test('records: at most 16 KiB each, one batch per input chunk, then the final record', async () => {
  const chunk = 100 * 1024;
  const r = await runFunction(encrypt, { options: AES, argument: 1, baseDir, upstream: [randomBytes(chunk), randomBytes(10)] });
  const records = Math.ceil(chunk / RECORD_MAX) + 1 + 1; // the 100 KiB chunk, the 10-byte chunk, the final record
  assert.equal(r.upstream.length, HEADER_LEN + chunk + 10 + records * (RECORD_HEADER_LEN + TAG_LEN));
  const lengths: number[] = [];
  for (let at = HEADER_LEN; at < r.upstream.length; ) {
    const len = r.upstream.readUInt16BE(at + 1);
    lengths.push(len);
    at += RECORD_HEADER_LEN + len + TAG_LEN;
  }
  assert.deepEqual(lengths, [16384, 16384, 16384, 16384, 16384, 16384, 4096, 10, 0]);
});

test('an empty stream stays empty, no reset', async () => {
  const r = await tunnel([], []);
  assert.deepEqual(r.resets, OK);
  assert.equal(r.wireUp.length + r.wireDown.length + r.up.length + r.down.length, 0);
});

test('back-pressure: a slow consumer pauses the source and still gets everything', async () => {
  const data = sampleData(2 << 20, 5);
  const r = await tunnel(chunksOf(data, 64 * 1024), chunksOf(data, 64 * 1024), { slowConsumer: true });
  assert.deepEqual(r.resets, OK);
  assert.ok(r.up.equals(data) && r.down.equals(data));
  assert.ok(r.pauses > 0, 'the source was never paused');
});

test('a reset in the middle of a flow ends it cleanly, at either end', async () => {
  const data = sampleData(1 << 20, 11);
  const wire = (await runFunction(encrypt, { options: AES, argument: 1, baseDir, upstream: [data] })).upstream;
  for (const [d, input] of [[encrypt, data], [decrypt, wire]] as const) {
    const r = await runFunction(d, { options: AES, argument: 1, baseDir, upstream: chunksOf(input, 4096), chunkDelayMs: 2, resetAfterMs: 30 });
    assert.equal(r.reset, 'reset_by_test');
    assert.equal(r.error, undefined);
  }
});

async function live(d: FunctionDescriptor): Promise<{ up: SyncTransform; down: SyncTransform }> {
  const inst = await initFunction(d, AES, undefined, baseDir);
  const t = spawnFlow(d, inst.options, inst.state, { argument: 1n, reset: (r: string) => assert.fail(`reset: ${r}`) }).transforms;
  return { up: t.upstream as SyncTransform, down: t.downstream as SyncTransform };
}

test('interactive: each chunk is sealed and opened at once, without waiting for more', async () => {
  const client = await live(encrypt);
  const server = await live(decrypt);
  for (let i = 0; i < 3; i++) {
    const request = Buffer.from(`PING ${i}\n`);
    const wire = client.up.data(Buffer.from(request));
    assert.ok(wire && wire.length > request.length);
    assert.deepEqual(server.up.data(wire), request);
    const response = Buffer.from(`PONG ${i}\n`);
    assert.deepEqual(client.down.data(server.down.data(Buffer.from(response))!), response);
  }
});
