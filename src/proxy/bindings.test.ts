import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { parseAddress } from '../net/ip6.js';
import { addressFromArpa } from '../controller/dns/records.js';
import { encodeSrhRecord, TYPE_SRH_NAME } from '../controller/dns/records.js';
import { BindingLookup } from './bindings.js';

/** A fake controller: answers the BSID lookup from a table. */
function controller(table: Record<string, string[]>, o: { rcode?: string; ttl?: number; fail?: boolean } = {}) {
  const asked: string[] = [];
  const exchange = (q: Buffer): Promise<Buffer> => {
    if (o.fail) return Promise.reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    const p = dnsPacket.decode(q);
    const name = p.questions![0]!.name;
    const bsid = addressFromArpa(name)!;
    asked.push(bsid);
    const segs = table[bsid];
    return Promise.resolve(
      dnsPacket.encode({
        type: 'response',
        id: p.id,
        flags: (o.rcode === 'REFUSED' ? 5 : segs ? 0 : 3) as number,
        questions: p.questions,
        answers: segs ? [{ name, type: TYPE_SRH_NAME as 'AAAA', class: 'IN', ttl: o.ttl ?? 30, data: encodeSrhRecord(segs) as unknown as string }] : [],
      } as dnsPacket.Packet),
    );
  };
  return { asked, exchange };
}

describe('binding-SID lookups (proxy side)', () => {
  test('prefetch asks once (concurrent flows share the question); expand answers from the cache until the TTL', async () => {
    let t = 0;
    const c = controller({ 'fc00:f::7': ['fc00:a::1:0:0', 'fc00:c::2:0:0'] }, { ttl: 5 });
    const b = new BindingLookup({ controller: '[fc00:9::2]:53', timeoutMs: 1000, maxCacheMs: 60_000, exchange: c.exchange, now: () => t });
    assert.equal(b.expand(parseAddress('fc00:f::7')), undefined);
    await Promise.all([b.prefetch(['fc00:f::7']), b.prefetch(['fc00:f::7'])]);
    assert.deepEqual(c.asked, ['fc00:f::7']);
    assert.deepEqual(b.expand(parseAddress('fc00:f::7'))!.map((x) => x.toString('hex').slice(0, 8)), ['fc00000a', 'fc00000c']);
    await b.prefetch(['fc00:f::7']);
    assert.equal(c.asked.length, 1, 'cached');
    t = 5000;
    assert.equal(b.expand(parseAddress('fc00:f::7')), undefined, 'expired with the TTL');
    b.invalidate('fc00:f::7');
  });

  test('an unknown BSID is cached as unknown briefly; refusal and silence are BSID_LOOKUP_FAILED', async () => {
    let t = 0;
    const c = controller({});
    const b = new BindingLookup({ controller: 'fc00:9::2', timeoutMs: 1000, maxCacheMs: 60_000, exchange: c.exchange, now: () => t });
    await b.prefetch(['fc00:f::8']);
    assert.equal(b.expand(parseAddress('fc00:f::8')), undefined);
    await b.prefetch(['fc00:f::8']);
    assert.equal(c.asked.length, 1);
    t = 1500;
    await b.prefetch(['fc00:f::8']);
    assert.equal(c.asked.length, 2, 'asked again after the negative entry expired');
    const refused = new BindingLookup({ controller: 'fc00:9::2', timeoutMs: 1000, maxCacheMs: 60_000, exchange: controller({}, { rcode: 'REFUSED' }).exchange });
    await assert.rejects(refused.prefetch(['fc00:f::8']), (e: Error & { code?: string }) => e.code === 'BSID_LOOKUP_FAILED' && /refused/.test(e.message));
    const silent = new BindingLookup({ controller: 'fc00:9::2', timeoutMs: 1000, maxCacheMs: 60_000, exchange: controller({}, { fail: true }).exchange });
    await assert.rejects(silent.prefetch(['fc00:f::8']), (e: Error & { code?: string }) => e.code === 'BSID_LOOKUP_FAILED' && /no answer/.test(e.message));
  });
});
