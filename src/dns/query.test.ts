import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { isSrError } from '../core/errors.js';
import { responder } from './test-responder.js';
import { bsidLookupQuery, fetchReturnHops, parseBsidAnswer, rcodeError } from './query.js';
import { arpaName, encodeReturnHopRecord, encodeSrhRecord, RETURN_HOPS_NAME, TYPE_RETURN_HOP_NAME, TYPE_SRH_NAME } from './records.js';

describe('the controller’s answer codes (typed, DNS_<RCODE>)', () => {
  test('rcodeError: each rcode a controller sends has its code; any other is DNS_RCODE', () => {
    for (const [rcode, code] of [['REFUSED', 'DNS_REFUSED'], ['NXDOMAIN', 'DNS_NXDOMAIN'], ['SERVFAIL', 'DNS_SERVFAIL'], ['FORMERR', 'DNS_FORMERR'], ['NOTIMP', 'DNS_NOTIMP'], ['YXDOMAIN', 'DNS_RCODE'], ['RCODE_15', 'DNS_RCODE']] as const) {
      const e = rcodeError(rcode, `x: ${rcode}`);
      assert.ok(isSrError(e, code), `${rcode} → ${e.code}`);
      assert.equal(e.kind, 'input');
      assert.equal(e.message, `x: ${rcode}`);
      assert.ok(e.hint.length > 0);
    }
  });

  test('fetchReturnHops: a refusal rejects with DNS_REFUSED (not a plain Error)', async () => {
    const r = await responder('::1', (q, _t, reply) => reply(dnsPacket.encode({ type: 'response', id: q.id!, flags: 5, questions: q.questions! } as dnsPacket.Packet)));
    try {
      await assert.rejects(fetchReturnHops({ controller: `[::1]:${r.port}` }), (e: unknown) => isSrError(e, 'DNS_REFUSED') && /REFUSED for the return hops/.test((e as Error).message));
    } finally {
      await r.close();
    }
    assert.equal(RETURN_HOPS_NAME, 'return-hops.srv6pipes.arpa');
    assert.equal(TYPE_RETURN_HOP_NAME, 'UNKNOWN_65283');
  });

  test('fetchReturnHops with several controller instances: a closed port and a SERVFAIL are passed over (real sockets, TCP)', async () => {
    const hop = encodeReturnHopRecord({ id: 17, sid: 'fc00:a::ffff' });
    const answering = await responder('::1', (q, _t, reply) => reply(dnsPacket.encode({ type: 'response', id: q.id!, flags: 0, questions: q.questions!, answers: [{ name: RETURN_HOPS_NAME, type: TYPE_RETURN_HOP_NAME as 'AAAA', class: 'IN', ttl: 30, data: hop as unknown as string }] } as dnsPacket.Packet)));
    const failing = await responder('::1', (q, _t, reply) => reply(dnsPacket.encode({ type: 'response', id: q.id!, flags: 2, questions: q.questions! } as dnsPacket.Packet)));
    const closed = await responder('::1', () => undefined);
    const closedPort = closed.port;
    await closed.close();
    try {
      const hops = await fetchReturnHops({ controller: [`[::1]:${closedPort}`, `[::1]:${failing.port}`, `[::1]:${answering.port}`], timeoutMs: 1000 });
      assert.deepEqual(hops, [{ id: 17, sid: 'fc00:a::ffff' }]);
      assert.deepEqual(failing.asked, ['tcp'], 'the SERVFAIL instance was asked, over TCP');
      // only SERVFAILs: that answer stands (DNS_SERVFAIL)
      await assert.rejects(fetchReturnHops({ controller: [`[::1]:${failing.port}`, `[::1]:${failing.port}`] }), (e: unknown) => isSrError(e, 'DNS_SERVFAIL'));
    } finally {
      await answering.close();
      await failing.close();
    }
  });
});

describe('the binding-SID lookup (what a proxy asks)', () => {
  const bsid = 'fc00:f::7';
  const answer = (o: { rcode?: number; name?: string; data?: Buffer; ttl?: number } = {}): Buffer => {
    const q = dnsPacket.decode(bsidLookupQuery(bsid)(9));
    return dnsPacket.encode({
      type: 'response',
      id: 9,
      flags: o.rcode ?? 0,
      questions: q.questions,
      answers: [{ name: o.name ?? arpaName(bsid), type: TYPE_SRH_NAME as 'AAAA', class: 'IN', ttl: o.ttl ?? 30, data: (o.data ?? encodeSrhRecord(['fc00:a::1:0:0', 'fc00:c::2:0:0'])) as unknown as string }],
    } as dnsPacket.Packet);
  };

  test('the query: one TYPE 65281 question for the BSID’s ip6.arpa name, class IN, the id given', () => {
    const q = dnsPacket.decode(bsidLookupQuery(bsid)(4242));
    assert.equal(q.id, 4242);
    assert.deepEqual(q.questions, [{ name: arpaName(bsid), type: TYPE_SRH_NAME, class: 'IN' }]);
  });

  test('the answer: the segments and their TTL; another name, a bad record or an error rcode name none', () => {
    assert.deepEqual(parseBsidAnswer(answer({ ttl: 12 }), bsid), { rcode: 'NOERROR', segments: ['fc00:a::1:0:0', 'fc00:c::2:0:0'], ttl: 12 });
    assert.equal(parseBsidAnswer(answer({ name: arpaName('fc00:f::8') }), bsid).segments, null);
    assert.equal(parseBsidAnswer(answer({ data: Buffer.from([2, 1, 2]) }), bsid).segments, null);
    assert.deepEqual(parseBsidAnswer(answer({ rcode: 3 }), bsid).rcode, 'NXDOMAIN');
    assert.equal(parseBsidAnswer(answer({ rcode: 5 }), bsid).segments, null);
    assert.throws(() => parseBsidAnswer(Buffer.from('000081800001', 'hex'), bsid), (e: unknown) => isSrError(e, 'DNS_BAD_ANSWER'));
  });
});
