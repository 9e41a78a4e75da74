import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { StreamScanner } from './scanner.js';
import { compileSignatures, idsOptions } from './signatures.js';

const compile = (raw: unknown) => compileSignatures(idsOptions.parse(raw), 'upstream');

/** Non-overlapping leftmost matches of one literal, over the whole input at once. */
function naive(data: Buffer, pat: Buffer): number[] {
  const out: number[] = [];
  for (let i = data.indexOf(pat); i >= 0; i = data.indexOf(pat, i + pat.length)) out.push(i);
  return out;
}

function feed(scanner: StreamScanner, data: Buffer, cuts: number[]) {
  const outs: Buffer[] = [];
  const found: { name: string; offset: number }[] = [];
  let at = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < data.length).sort((a, b) => a - b), data.length]) {
    if (cut <= at) continue;
    const r = scanner.push(data.subarray(at, cut));
    if (r.out) outs.push(Buffer.from(r.out));
    for (const m of r.matches) found.push({ name: m.signature.name, offset: m.offset });
    at = cut;
  }
  const r = scanner.push(null);
  if (r.out) outs.push(Buffer.from(r.out));
  for (const m of r.matches) found.push({ name: m.signature.name, offset: m.offset });
  return { out: Buffer.concat(outs), found };
}

test('scanner (alert): literal matches equal a whole-input search, whatever the chunking', () => {
  const sigs = compile({ action: 'alert', signatures: [{ pattern: 'abab' }, { pattern: 'ba' }, { hex: '6363' }] });
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a.map((b) => 0x61 + (b % 3)))),
      fc.array(fc.nat(300), { maxLength: 40 }),
      (data, cuts) => {
        const { out, found } = feed(new StreamScanner(sigs, false), data, cuts);
        assert.deepEqual(out, data);
        for (const [name, pat] of [['abab', 'abab'], ['ba', 'ba'], ['hex:6363', 'cc']] as const) {
          const got = found.filter((f) => f.name === name).map((f) => f.offset);
          assert.deepEqual(got, naive(data, Buffer.from(pat)), name);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('scanner (block): stops at the first match, released bytes never reach it', () => {
  const sigs = compile({ action: 'block', signatures: [{ pattern: 'abcab' }, { regex: 'c{3}' }], window: 16 });
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a.map((b) => 0x61 + (b % 3)))),
      fc.array(fc.nat(200), { maxLength: 30 }),
      (data, cuts) => {
        const { out, found } = feed(new StreamScanner(sigs, true), data, cuts);
        const first = Math.min(...[data.indexOf('abcab'), data.indexOf('ccc')].filter((i) => i >= 0));
        if (Number.isFinite(first)) {
          assert.equal(found.length, 1);
          assert.equal(found[0]!.offset, first);
          assert.ok(out.length <= first, `released ${out.length} bytes, match at ${first}`);
          assert.deepEqual(out, data.subarray(0, out.length));
        } else {
          assert.equal(found.length, 0);
          assert.deepEqual(out, data);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('scanner: regex anchors and look-behind see the stream, not the chunk', () => {
  const sigs = compile({ action: 'alert', signatures: [{ name: 'start', regex: '^GET ' }, { name: 'word', regex: '(?<![a-z])evil\\b' }], window: 32 });
  const data = Buffer.from('GET /x HTTP/1.1\r\nGET evil devil evils evil.');
  for (const cuts of [[], [1, 2, 3, 4, 5, 20, 21, 22, 23, 24, 25], [...Array(data.length).keys()]]) {
    const { found } = feed(new StreamScanner(sigs, false), data, cuts);
    assert.deepEqual(found, [
      { name: 'start', offset: 0 },
      { name: 'word', offset: 21 },
      { name: 'word', offset: 38 },
    ]);
  }
});

test('scanner: case-insensitive literals fold ASCII only', () => {
  const sigs = compile({ action: 'alert', caseInsensitive: true, signatures: [{ pattern: 'Select' }, { pattern: 'X', caseInsensitive: false }] });
  const { found } = feed(new StreamScanner(sigs, false), Buffer.from('SELECT select sElEcT x X'), [3, 9]);
  assert.deepEqual(found.map((f) => f.offset), [0, 7, 14, 23]);
});

test('scanner: memory stays bounded by hold + context', () => {
  const sigs = compile({ action: 'block', signatures: [{ pattern: 'needle' }, { regex: 'x{40}' }], window: 64 });
  const s = new StreamScanner(sigs, true);
  for (let i = 0; i < 1000; i++) s.push(Buffer.alloc(1000, 0x61));
  assert.ok(s.heldBytes <= 63, `held ${s.heldBytes}`);
  assert.ok((s as unknown as { tail: Buffer }).tail.length <= 64 + 63);
});

test('ids options: errors name the field', () => {
  const bad = [
    [{ action: 'block', signatures: [] }, /signatures/],
    [{ action: 'drop', signatures: [{ pattern: 'x' }] }, /action/],
    [{ action: 'block', signatures: [{ pattern: 'x', regex: 'y' }] }, /exactly one/],
    [{ action: 'block', signatures: [{ regex: '(' }] }, /not a valid regex/],
    [{ action: 'block', signatures: [{ regex: 'a*' }] }, /empty string/],
    [{ action: 'block', signatures: [{ pattern: 'x', flags: 'i' }] }, /regex signatures only/],
    [{ action: 'block', signatures: [{ hex: 'abc' }] }, /hex/],
  ] as const;
  for (const [raw, re] of bad) {
    const r = idsOptions.safeParse(raw);
    assert.equal(r.success, false, JSON.stringify(raw));
    if (!r.success) assert.match(JSON.stringify(r.error.issues), re);
  }
});
