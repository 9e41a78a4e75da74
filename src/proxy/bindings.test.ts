import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { isSrError } from '../core/errors.js';
import { parseAddress, parsePrefix } from '../net/ip6.js';
import { addressFromArpa, arpaName, encodeSrhRecord, TYPE_SRH_NAME } from '../dns/records.js';
import type { ExchangeOptions, Exchanged } from '../dns/exchange.js';
import { responder } from '../dns/test-responder.js';
import { BindingLookup, type BindingLookupOptions } from './bindings.js';

type Rcode = 'NOERROR' | 'NXDOMAIN' | 'REFUSED' | 'SERVFAIL';
const RCODES: Record<Rcode, number> = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };

/** The controller's answer to a BSID lookup, from a table (an unknown BSID: NXDOMAIN). */
function answerFor(q: dnsPacket.DecodedPacket, table: Record<string, string[]>, o: { rcode?: Rcode; ttl?: number; name?: string } = {}): Buffer {
  const name = q.questions![0]!.name;
  const segs = table[addressFromArpa(name)!];
  return dnsPacket.encode({
    type: 'response',
    id: q.id!,
    flags: RCODES[o.rcode ?? (segs ? 'NOERROR' : 'NXDOMAIN')],
    questions: q.questions,
    answers: segs ? [{ name: o.name ?? name, type: TYPE_SRH_NAME as 'AAAA', class: 'IN', ttl: o.ttl ?? 30, data: encodeSrhRecord(segs) as unknown as string }] : [],
  } as dnsPacket.Packet);
}

/** A fake controller (no sockets): answers the BSID lookup from a table; `hold` keeps the answers back until released. */
function controller(table: Record<string, string[]>, o: { rcode?: Rcode; ttl?: number; fail?: boolean; hold?: boolean } = {}) {
  const asked: string[] = [];
  const held: (() => void)[] = [];
  const exchange = async (x: ExchangeOptions): Promise<Exchanged> => {
    const q = dnsPacket.decode(x.query(1234));
    asked.push(addressFromArpa(q.questions![0]!.name)!);
    assert.equal(x.mode, 'tcp', 'a private lookup goes over TCP');
    if (o.hold) await new Promise<void>((r) => held.push(r));
    if (o.fail) throw Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' });
    return { answer: answerFor(q, table, o), transport: 'tcp' };
  };
  return { asked, exchange, release: () => held.splice(0).forEach((r) => r()) };
}

const BASE = { controllers: ['[fc00:9::2]:53'], prefixes: [parsePrefix('fc00:f::/64')], timeoutMs: 1000, maxCacheMs: 60_000, negativeCacheMs: 1000, cacheSize: 4096, maxCandidates: 1, maxInflight: 16 };
const lookup = (o: Partial<BindingLookupOptions>) => new BindingLookup({ ...BASE, ...o });
const hex8 = (b: Buffer[] | undefined) => b?.map((x) => x.toString('hex').slice(0, 8));

describe('binding-SID lookups (proxy side)', () => {
  test('prefetch asks once (concurrent flows share the question); expand answers from the cache until the TTL', async () => {
    let t = 0;
    const c = controller({ 'fc00:f::7': ['fc00:a::1:0:0', 'fc00:c::2:0:0'] }, { ttl: 5 });
    const b = lookup({ exchange: c.exchange, now: () => t });
    assert.equal(b.expand(parseAddress('fc00:f::7')), undefined);
    await Promise.all([b.prefetch(['fc00:f::7']), b.prefetch(['fc00:f::7'])]);
    assert.deepEqual(c.asked, ['fc00:f::7']);
    assert.deepEqual(hex8(b.expand(parseAddress('fc00:f::7'))), ['fc00000a', 'fc00000c']);
    await b.prefetch(['fc00:f::7']);
    assert.equal(c.asked.length, 1, 'cached');
    t = 5000;
    assert.equal(b.expand(parseAddress('fc00:f::7')), undefined, 'expired with the TTL');
    await b.prefetch(['fc00:f::7']);
    assert.equal(c.asked.length, 2, 'asked again once expired');
  });

  test('candidates: only segments inside the BSID prefixes; prefetch looks up at most maxCandidates', async () => {
    const c = controller({ 'fc00:f::7': ['fc00:a::1:0:0'], 'fc00:f::8': ['fc00:a::1:0:0'] });
    const b = lookup({ exchange: c.exchange, prefixes: [parsePrefix('fc00:f::/64'), parsePrefix('fc00:e::/64')] });
    assert.ok(b.isCandidate(parseAddress('fc00:f::7')));
    assert.ok(b.isCandidate(parseAddress('fc00:e::1')));
    assert.ok(!b.isCandidate(parseAddress('fc00:f:0:1::7')), 'outside the /64');
    assert.ok(!b.isCandidate(parseAddress('fc00:2::2')));
    await b.prefetch(['fc00:f::7', 'fc00:f::8', 'fc00:f::9']);
    assert.deepEqual(c.asked, ['fc00:f::7'], 'one candidate per SYN by default');
  });

  test('negative entries: an unknown BSID and a refusal are remembered for negativeCacheMs; silence is not', async () => {
    let t = 0;
    const c = controller({});
    const b = lookup({ exchange: c.exchange, now: () => t, negativeCacheMs: 2000 });
    await b.prefetch(['fc00:f::8']);
    assert.equal(b.expand(parseAddress('fc00:f::8')), undefined);
    t = 1999;
    await b.prefetch(['fc00:f::8']);
    assert.equal(c.asked.length, 1, 'NXDOMAIN remembered');
    t = 2000;
    await b.prefetch(['fc00:f::8']);
    assert.equal(c.asked.length, 2, 'asked again after the negative entry expired');

    const r = controller({}, { rcode: 'REFUSED' });
    const refused = lookup({ exchange: r.exchange, now: () => t });
    for (let i = 0; i < 3; i++) await assert.rejects(refused.prefetch(['fc00:f::8']), (e: Error & { code?: string }) => e.code === 'BSID_LOOKUP_FAILED' && /refused/.test(e.message));
    assert.equal(r.asked.length, 1, 'a refusal is remembered too: one query, three flows refused');
    const s = controller({}, { rcode: 'SERVFAIL' });
    const servfail = lookup({ exchange: s.exchange, now: () => t });
    await assert.rejects(servfail.prefetch(['fc00:f::8']), /SERVFAIL/);
    await assert.rejects(servfail.prefetch(['fc00:f::8']), /SERVFAIL/);
    assert.equal(s.asked.length, 1);

    const q = controller({}, { fail: true });
    const silent = lookup({ exchange: q.exchange });
    await assert.rejects(silent.prefetch(['fc00:f::8']), (e: Error & { code?: string }) => e.code === 'BSID_LOOKUP_FAILED' && /no answer/.test(e.message));
    await assert.rejects(silent.prefetch(['fc00:f::8']));
    assert.equal(q.asked.length, 2, 'no answer is not an answer: not cached');
  });

  test('the cache is bounded: cacheSize entries, the least recently used goes first', async () => {
    const table: Record<string, string[]> = {};
    for (let i = 1; i <= 6; i++) table[`fc00:f::${i}`] = ['fc00:a::1:0:0'];
    const c = controller(table);
    const b = lookup({ exchange: c.exchange, cacheSize: 3 });
    for (const i of [1, 2, 3]) await b.prefetch([`fc00:f::${i}`]);
    assert.ok(b.expand(parseAddress('fc00:f::1')), 'used: now the most recent');
    await b.prefetch(['fc00:f::4']);
    assert.equal(b.size, 3);
    assert.ok(b.expand(parseAddress('fc00:f::1')));
    assert.equal(b.expand(parseAddress('fc00:f::2')), undefined, 'the least recently used was dropped');
    // unknown BSIDs (negative entries) count against the same bound
    for (let i = 0; i < 50; i++) await b.prefetch([`fc00:f::dead:${i.toString(16)}`]);
    assert.equal(b.size, 3);
  });

  test('lookups in flight are capped (BSID_LOOKUP_BUSY beyond); a lookup already in flight is shared, not counted again', async () => {
    const c = controller({ 'fc00:f::1': ['fc00:a::1:0:0'], 'fc00:f::2': ['fc00:a::1:0:0'] }, { hold: true });
    const b = lookup({ exchange: c.exchange, maxInflight: 2 });
    const one = b.prefetch(['fc00:f::1']);
    const two = b.prefetch(['fc00:f::2']);
    const shared = b.prefetch(['fc00:f::1']);
    await assert.rejects(b.prefetch(['fc00:f::3']), (e: Error & { code?: string }) => e.code === 'BSID_LOOKUP_BUSY');
    assert.equal(b.pending, 2);
    c.release();
    await Promise.all([one, two, shared]);
    assert.deepEqual(c.asked, ['fc00:f::1', 'fc00:f::2'], 'the third was never asked');
    assert.equal(b.pending, 0);
    // room again
    const three = b.prefetch(['fc00:f::3']);
    assert.equal(b.pending, 1);
    c.release();
    await three;
    assert.equal(c.asked.length, 3);
  });

  test('invalidate: a cached path without this proxy is asked again, but not more often than negativeCacheMs', async () => {
    let t = 0;
    const c = controller({ 'fc00:f::7': ['fc00:a::1:0:0'] });
    const b = lookup({ exchange: c.exchange, now: () => t });
    await b.prefetch(['fc00:f::7']);
    b.invalidate('fc00:f::7');
    assert.ok(b.expand(parseAddress('fc00:f::7')), 'fresh from the controller: kept');
    t = 1000;
    b.invalidate('fc00:f::7');
    assert.equal(b.expand(parseAddress('fc00:f::7')), undefined);
    await b.prefetch(['fc00:f::7']);
    assert.equal(c.asked.length, 2);
  });

  test('an answer record for another name is not taken', async () => {
    const b = lookup({ exchange: async (x) => {
      const q = dnsPacket.decode(x.query(1));
      return { answer: answerFor(q, { 'fc00:f::7': ['fc00:a::1:0:0'] }, { name: arpaName('fc00:f::8') }), transport: 'tcp' };
    } });
    await b.prefetch(['fc00:f::7']);
    assert.equal(b.expand(parseAddress('fc00:f::7')), undefined);
  });

  test('several controllers: one that does not answer or says SERVFAIL is passed over, and the one that answered is asked first next time', async () => {
    const asked: string[] = [];
    const down = new Set(['fc00:9::2']);
    const exchange = async (x: ExchangeOptions): Promise<Exchanged> => {
      asked.push(x.server.address);
      const q = dnsPacket.decode(x.query(7));
      if (down.has(x.server.address)) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      if (x.server.address === 'fc00:8::2') return { answer: answerFor(q, {}, { rcode: 'SERVFAIL' }), transport: 'tcp' };
      return { answer: answerFor(q, { 'fc00:f::7': ['fc00:a::1:0:0'], 'fc00:f::8': ['fc00:b::1:0:0'] }), transport: 'tcp' };
    };
    const b = lookup({ controllers: ['[fc00:9::2]:53', '[fc00:8::2]:53', '[fc00:7::2]:53'], exchange });
    await b.prefetch(['fc00:f::7']);
    assert.deepEqual(hex8(b.expand(parseAddress('fc00:f::7'))), ['fc00000a']);
    assert.deepEqual(asked, ['fc00:9::2', 'fc00:8::2', 'fc00:7::2'], 'the down one, the SERVFAIL one, then the one that answers');
    asked.length = 0;
    await b.prefetch(['fc00:f::8']);
    assert.deepEqual(asked, ['fc00:7::2'], 'the one that answered last is asked first');
    // every instance unreachable: BSID_LOOKUP_FAILED naming each
    const none = lookup({ controllers: ['[fc00:9::2]:53', '[fc00:6::2]:53'], exchange: async (x) => {
      throw new Error(`connect ECONNREFUSED ${x.server.address}`);
    } });
    await assert.rejects(none.prefetch(['fc00:f::7']), (e: unknown) => isSrError(e, 'BSID_LOOKUP_FAILED') && /\[fc00:9::2\]:53: connect ECONNREFUSED fc00:9::2; \[fc00:6::2\]:53: connect ECONNREFUSED fc00:6::2/.test((e as Error).message));
  });

  test('over real sockets: the lookup goes over TCP, never UDP', async () => {
    const r = await responder('::1', (q, _t, reply) => reply(answerFor(q, { 'fc00:f::7': ['fc00:a::1:0:0', 'fc00:c::2:0:0'] })));
    try {
      const b = lookup({ controllers: [`[::1]:${r.port}`] });
      await b.prefetch(['fc00:f::7']);
      assert.deepEqual(hex8(b.expand(parseAddress('fc00:f::7'))), ['fc00000a', 'fc00000c']);
      assert.deepEqual(r.asked, ['tcp']);
    } finally {
      await r.close();
    }
  });
});
