import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { decodeFunctionsOption, decodeHints, decodePortOption, EDNS_OPTIONS, encodeFunctionsOption, encodeHints, encodePortOption, type QueryHints } from './edns.js';
import { buildQuery } from './query.js';

describe('EDNS0 options', () => {
  test('65004 functions: comma-separated UTF-8 names', () => {
    assert.deepEqual(decodeFunctionsOption(encodeFunctionsOption(['xor', 'copy'])), ['xor', 'copy']);
    assert.deepEqual(decodeFunctionsOption(Buffer.from(' xor , copy ')), ['xor', 'copy']);
    assert.deepEqual(decodeFunctionsOption(Buffer.alloc(0)), []);
    assert.equal(decodeFunctionsOption(Buffer.from('xor,,copy')), null);
    assert.equal(decodeFunctionsOption(Buffer.from([0xff, 0xfe])), null, 'not UTF-8');
    assert.equal(decodeFunctionsOption(Buffer.from('a;rm -rf')), null);
  });
  test('65005 port: u16', () => {
    assert.equal(decodePortOption(encodePortOption(9000)), 9000);
    assert.equal(decodePortOption(Buffer.from([0, 0])), null);
    assert.equal(decodePortOption(Buffer.from([1])), null);
  });
});

describe('the EDNS0 option table', () => {
  const all: Required<QueryHints> = { app: 'curl', bandwidthKbps: 50_000, maxLatencyMs: 20, functions: ['xor', 'copy'], port: 443 };

  test('the table: unique codes in the private-use range, one entry per hint field', () => {
    const codes = EDNS_OPTIONS.map((o) => o.code);
    assert.equal(new Set(codes).size, codes.length);
    for (const c of codes) assert.ok(c >= 65001 && c <= 65534, `${c} is a private-use code (RFC 6891 §9)`);
    assert.deepEqual(EDNS_OPTIONS.map((o) => o.field).sort(), Object.keys(all).sort());
  });

  test('every option round-trips: encodeHints → decodeHints gives the same hints, in table order', () => {
    const options = encodeHints(all);
    assert.deepEqual(
      options.map((o) => o.code),
      EDNS_OPTIONS.map((o) => o.code),
    );
    assert.deepEqual(decodeHints(options), { ok: true, hints: all });
    for (const o of EDNS_OPTIONS) {
      const one = { [o.field]: all[o.field] } as QueryHints;
      assert.deepEqual(decodeHints(encodeHints(one)), { ok: true, hints: one }, o.name);
    }
  });

  test('round trip through the wire: buildQuery and dns-packet carry every option', () => {
    const wire = buildQuery({ name: 'server.lab.example', ...all }, 7);
    const opt = dnsPacket.decode(wire).additionals!.find((r) => r.type === 'OPT') as unknown as { options: { code: number; data: Buffer }[] };
    assert.deepEqual(decodeHints(opt.options), { ok: true, hints: all });
  });

  test('property: any hints round-trip', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,20}$/);
    fc.assert(
      fc.property(
        fc.record(
          {
            app: fc.string({ minLength: 1, maxLength: 64 }).filter((s) => !s.includes('\uFFFD') && Buffer.from(s, 'utf8').toString('utf8') === s),
            bandwidthKbps: fc.integer({ min: 0, max: 0xffffffff }),
            maxLatencyMs: fc.integer({ min: 0, max: 0xffffffff }),
            functions: fc.array(name, { minLength: 1, maxLength: 10 }),
            port: fc.integer({ min: 1, max: 65535 }),
          },
          { requiredKeys: [] },
        ),
        (h) => {
          assert.deepEqual(decodeHints(encodeHints(h)), { ok: true, hints: { ...h } });
        },
      ),
    );
  });

  test('not sent: unset hints, an empty application name, an empty function list', () => {
    assert.deepEqual(encodeHints({}), []);
    assert.deepEqual(encodeHints({ app: '', functions: [] }), []);
  });

  test('an unknown option is ignored; of a repeated option the last counts', () => {
    const known = encodeHints({ port: 80 });
    assert.deepEqual(decodeHints([{ code: 10, data: Buffer.alloc(8) }, { code: 65100, data: Buffer.from('x') }, { code: 65004 }, ...known]), { ok: true, hints: { functions: [], port: 80 } });
    assert.deepEqual(decodeHints([...encodeHints({ port: 80 }), ...encodeHints({ port: 8080 })]), { ok: true, hints: { port: 8080 } });
  });

  test('a malformed value: the option named, with what it lacks (the FORMERR reason)', () => {
    assert.deepEqual(decodeHints([{ code: 65005, data: Buffer.from([0, 0]) }]), { ok: false, code: 65005, reason: 'bad option 65005 (port): 2 bytes, not 0' });
    assert.deepEqual(decodeHints([{ code: 65004, data: Buffer.from('a;b') }]), { ok: false, code: 65004, reason: 'bad option 65004 (functions): not a comma-separated list of names' });
    assert.deepEqual(decodeHints([{ code: 65002, data: Buffer.from([1]) }]), { ok: false, code: 65002, reason: 'bad option 65002 (bandwidth, kbit/s): 4 bytes' });
    assert.deepEqual(decodeHints([{ code: 65003 }]), { ok: false, code: 65003, reason: 'bad option 65003 (latency, ms): 4 bytes' });
  });

  test('the application name is kept to 64 characters (it is only logged)', () => {
    const r = decodeHints(encodeHints({ app: 'a'.repeat(100) }));
    assert.deepEqual(r, { ok: true, hints: { app: 'a'.repeat(64) } });
  });
});
