import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { initFunction, runFunction } from '../../sdk/testing.js';
import { ids } from './index.js';

const b = (s: string) => Buffer.from(s, 'latin1');

/** the input cut into pieces of `size` bytes */
function chunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/** random bytes without the letters of our signatures (no accidental matches) */
function clean(n: number): Buffer {
  const d = randomBytes(n);
  for (let i = 0; i < n; i++) if (d[i]! >= 0x41 && d[i]! <= 0x7a) d[i] = d[i]! & 0x3f;
  return d;
}

test('ids block: a literal split across two chunks 100 ms apart is never delivered', async () => {
  const first = b('GET /index.html HTTP/1.1\r\nX-Data: EVIL');
  const second = b('PATTERN and more\r\n\r\n');
  const r = await runFunction(ids, {
    options: { action: 'block', signatures: [{ name: 'evil', pattern: 'EVILPATTERN' }] },
    upstream: [first, second],
    downstream: b('HTTP/1.1 200 OK\r\n\r\nfine'),
    chunkDelayMs: 100,
  });
  assert.equal(r.reset, 'ids_blocked');
  const at = Buffer.concat([first, second]).indexOf('EVILPATTERN');
  assert.ok(r.upstream.length > 0, 'bytes before the match were released');
  assert.ok(r.upstream.length <= at, `delivered ${r.upstream.length} bytes, the match starts at ${at}`);
  assert.deepEqual(r.upstream, first.subarray(0, r.upstream.length));
  assert.equal(r.upstream.includes('EVIL'), false, 'not even the first bytes of the match');
  assert.equal(r.metrics.get('ids_matches_total', { signature: 'evil', action: 'block' }), 1);
});

test('ids block: a regex match (downstream) resets the flow', async () => {
  const page = b('HTTP/1.1 200 OK\r\n\r\n<p>card 4111-1111-1111-1111 here</p>');
  const r = await runFunction(ids, {
    options: { action: 'block', window: 64, signatures: [{ name: 'card', regex: '\\b(?:\\d{4}-){3}\\d{4}\\b', direction: 'downstream' }] },
    upstream: b('GET / HTTP/1.1\r\n\r\n'),
    downstream: chunks(page, 7),
  });
  assert.equal(r.reset, 'ids_blocked');
  assert.ok(r.downstream.length <= page.indexOf('4111'));
  assert.equal(r.metrics.get('ids_matches_total', { signature: 'card', action: 'block' }), 1);
});

test('ids block: a signature for one direction does not fire in the other', async () => {
  const r = await runFunction(ids, {
    options: { action: 'block', signatures: [{ pattern: 'secret', direction: 'downstream' }] },
    upstream: b('my secret'),
    downstream: b('nothing to see'),
  });
  assert.equal(r.reset, undefined);
  assert.deepEqual(r.upstream, b('my secret'));
});

test('ids alert: data passes unchanged, every match is counted', async () => {
  const data = Buffer.concat([clean(100_000), b('attack'), clean(50_000), b('ATTACK'), clean(10), b('xx/etc/passwdyy')]);
  const r = await runFunction(ids, {
    options: {
      action: 'alert',
      caseInsensitive: true,
      signatures: [{ name: 'attack', pattern: 'attack' }, { name: 'passwd', regex: '/etc/(passwd|shadow)' }],
    },
    upstream: chunks(data, 4096),
    downstream: chunks(data, 1000),
  });
  assert.equal(r.reset, undefined);
  assert.ok(r.upstream.equals(data));
  assert.ok(r.downstream.equals(data));
  assert.equal(r.metrics.get('ids_matches_total', { signature: 'attack', action: 'alert' }), 4);
  assert.equal(r.metrics.get('ids_matches_total', { signature: 'passwd', action: 'alert' }), 2);
});

test('ids block: no false positive on 5 MiB of clean input, output intact', async () => {
  const data = clean(5 * 1024 * 1024);
  const r = await runFunction(ids, {
    options: { action: 'block', signatures: [{ pattern: 'EVILPATTERN' }, { hex: '4142434445' }, { regex: 'sel[e]ct.{0,20}from' }] },
    upstream: chunks(data, 65536),
    downstream: chunks(data, 16384),
  });
  assert.equal(r.reset, undefined);
  assert.ok(r.upstream.equals(data));
  assert.ok(r.downstream.equals(data));
});

test('ids block: held-back bytes are released at the end of the stream', async () => {
  // the input ends with a proper prefix of the pattern: held back until the FIN, then delivered
  const data = b('hello EVILPATTER');
  const r = await runFunction(ids, { options: { action: 'block', signatures: [{ pattern: 'EVILPATTERN' }] }, upstream: data, downstream: b('x') });
  assert.equal(r.reset, undefined);
  assert.deepEqual(r.upstream, data);
});

test('ids block: 1-byte chunks and 1 MiB chunks give the same result', async () => {
  const options = { action: 'block', window: 64, signatures: [{ name: 'lit', pattern: 'EVILPATTERN' }, { name: 're', regex: 'DROP +TABLE' }] };
  const body = clean(40_000);
  const dirty = Buffer.concat([body, b('x; DROP  TABLE users'), body.subarray(0, 1000)]);
  for (const data of [body, dirty]) {
    const seen = [];
    for (const size of [1, 1024 * 1024]) {
      const r = await runFunction(ids, { options, upstream: chunks(data, size) });
      if (data === body) assert.ok(r.upstream.equals(data), `size ${size}: output intact`);
      else assert.ok(r.upstream.length <= data.indexOf('DROP') && r.upstream.equals(data.subarray(0, r.upstream.length)));
      seen.push({ reset: r.reset, re: r.metrics.get('ids_matches_total', { signature: 're', action: 'block' }), lit: r.metrics.get('ids_matches_total', { signature: 'lit', action: 'block' }) });
    }
    assert.deepEqual(seen[0], seen[1]);
    assert.deepEqual(seen[0], data === body ? { reset: undefined, re: 0, lit: 0 } : { reset: 'ids_blocked', re: 1, lit: 0 });
  }
});

test('ids alert: 1-byte chunks and 1 MiB chunks count the same matches', async () => {
  const parts: Buffer[] = [];
  for (let i = 0; i < 200; i++) parts.push(clean(100 + ((i * 37) % 200)), b(i % 3 ? 'EVILPATTERN' : 'union  select'));
  const data = Buffer.concat(parts);
  const options = { action: 'alert', window: 32, signatures: [{ name: 'lit', pattern: 'EVILPATTERN' }, { name: 're', regex: 'union\\s+select' }] };
  const counts = [];
  for (const size of [1, 1024 * 1024]) {
    const r = await runFunction(ids, { options, upstream: chunks(data, size) });
    assert.ok(r.upstream.equals(data));
    counts.push([r.metrics.get('ids_matches_total', { signature: 'lit', action: 'alert' }), r.metrics.get('ids_matches_total', { signature: 're', action: 'alert' })]);
  }
  assert.deepEqual(counts, [
    [133, 67],
    [133, 67],
  ]);
});

test('ids block with flushAfterMs: held bytes go out after a pause, a later match is still blocked', async () => {
  const quiet = await runFunction(ids, {
    options: { action: 'block', flushAfterMs: 20, signatures: [{ pattern: 'EVILPATTERN' }] },
    upstream: [b('abcdef'), b('ghij')],
    chunkDelayMs: 100,
  });
  assert.equal(quiet.reset, undefined);
  assert.deepEqual(quiet.upstream, b('abcdefghij'));
  const late = await runFunction(ids, {
    options: { action: 'block', flushAfterMs: 20, signatures: [{ pattern: 'EVILPATTERN' }] },
    upstream: [b('xxEVIL'), b('PATTERN')],
    chunkDelayMs: 100,
  });
  assert.equal(late.reset, 'ids_blocked');
  assert.deepEqual(late.upstream, b('xxEVIL'), 'the held bytes were released by the timer');
});

test('ids options: defaults', async () => {
  const { options } = await initFunction(ids, { action: 'alert', signatures: [{ pattern: 'x' }] });
  assert.equal(options.window, 4096);
  assert.equal(options.caseInsensitive, false);
  assert.equal(options.flushAfterMs, 0);
  assert.equal(options.signatures[0]!.direction, 'both');
  await assert.rejects(initFunction(ids, { signatures: [{ pattern: 'x' }] }), /options\.action/);
  await assert.rejects(initFunction(ids, { action: 'block', signatures: [{ regex: '[' }] }), /options\.signatures\[0\]\.regex/);
});
