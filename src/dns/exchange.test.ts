import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { encodeReturnHopRecord, RETURN_HOPS_NAME, TYPE_RETURN_HOP_NAME } from './records.js';
import { answersQuery, exchange, expectationOf, tcpExchange, udpExchange } from './exchange.js';
import { buildQuery, fetchReturnHops, parseController, parseResponse } from './query.js';
import { responder } from './test-responder.js';

/** An AAAA answer to `q`, with the changes given (another id, name, type, no QR…). */
function answer(q: dnsPacket.DecodedPacket, address: string, o: { id?: number; name?: string; qtype?: string; query?: boolean; tc?: boolean } = {}): Buffer {
  const question = { ...q.questions![0]!, ...(o.name ? { name: o.name } : {}), ...(o.qtype ? { type: o.qtype as 'AAAA' } : {}) };
  return dnsPacket.encode({
    type: o.query ? 'query' : 'response',
    id: o.id ?? q.id!,
    flags: o.tc ? dnsPacket.TRUNCATED_RESPONSE : 0,
    questions: [question],
    answers: [{ name: question.name, type: 'AAAA', class: 'IN', ttl: 30, data: address }],
  });
}

const aaaaQuery = (name: string, id = 4242): Buffer => dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ type: 'AAAA', name, class: 'IN' }] });
const addressIn = (buf: Buffer): string => String((dnsPacket.decode(buf).answers![0] as { data: string }).data);

describe('the DNS exchange (connected sockets, answers matched to the question)', () => {
  for (const host of ['::1', '127.0.0.1'] as const) {
    test(`UDP on ${host}: an answer from another port is not taken (connected socket)`, async () => {
      const r = await responder(host, async (q, _t, reply, spoof) => {
        // the spoofed answer leaves first and would be taken by an unconnected socket that checks the id only
        await spoof(answer(q, 'fc00:bad::1'));
        await reply(answer(q, 'fc00:2::2'));
      });
      try {
        assert.equal(addressIn(await udpExchange({ address: host, port: r.port }, aaaaQuery('server.lab.example'), 2000)), 'fc00:2::2');
      } finally {
        await r.close();
      }
    });
  }

  test('UDP and TCP: a wrong id, another question, another type and the query echoed back are all ignored', async () => {
    const r = await responder('::1', async (q, _t, reply) => {
      await reply(answer(q, 'fc00:bad::1', { id: (q.id! + 1) & 0xffff }));
      await reply(answer(q, 'fc00:bad::2', { name: 'evil.lab.example' }));
      await reply(answer(q, 'fc00:bad::3', { qtype: 'A' }));
      await reply(answer(q, 'fc00:bad::4', { query: true }));
      await reply(Buffer.from('not dns'));
      // the name's case may differ (0x20): still the same question
      await reply(answer(q, 'fc00:2::2', { name: q.questions![0]!.name.toUpperCase() }));
    });
    try {
      const server = { address: '::1', port: r.port };
      assert.equal(addressIn(await udpExchange(server, aaaaQuery('server.lab.example'), 2000)), 'fc00:2::2');
      assert.equal(addressIn(await tcpExchange(server, aaaaQuery('server.lab.example'), 2000)), 'fc00:2::2');
    } finally {
      await r.close();
    }
  });

  test('only answers that do not match: no answer (ETIMEDOUT), over UDP and TCP', async () => {
    const r = await responder('::1', (q, _t, reply) => reply(answer(q, 'fc00:bad::2', { name: 'evil.lab.example' })));
    try {
      const server = { address: '::1', port: r.port };
      await assert.rejects(udpExchange(server, aaaaQuery('server.lab.example'), 300), { code: 'ETIMEDOUT' });
      await assert.rejects(tcpExchange(server, aaaaQuery('server.lab.example'), 300), { code: 'ETIMEDOUT' });
    } finally {
      await r.close();
    }
  });

  test('TCP: the deadline is for the whole exchange (a server that trickles bytes does not hold the client)', { timeout: 10_000 }, async () => {
    const server = net.createServer((c) => {
      c.on('error', () => undefined);
      const t = setInterval(() => c.write(Buffer.from([0])), 50);
      c.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => server.listen(0, '::1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      await assert.rejects(tcpExchange({ address: '::1', port }, aaaaQuery('server.lab.example'), 300), { code: 'ETIMEDOUT' });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('udp-then-tcp: a truncated UDP answer is asked again over TCP; tcp mode never uses UDP; ids are random', async () => {
    const ids: number[] = [];
    const r = await responder('127.0.0.1', (q, t, reply) => {
      ids.push(q.id!);
      return reply(answer(q, t === 'udp' ? 'fc00:bad::1' : 'fc00:2::2', { tc: t === 'udp' }));
    });
    try {
      const server = { address: '127.0.0.1', port: r.port };
      const q = (id: number) => aaaaQuery('server.lab.example', id);
      const a = await exchange({ server, query: q, mode: 'udp-then-tcp', timeoutMs: 2000 });
      assert.equal(a.transport, 'tcp');
      assert.equal(addressIn(a.answer), 'fc00:2::2');
      assert.deepEqual(r.asked, ['udp', 'tcp']);
      const b = await exchange({ server, query: q, mode: 'tcp', timeoutMs: 2000 });
      assert.equal(b.transport, 'tcp');
      assert.deepEqual(r.asked, ['udp', 'tcp', 'tcp'], 'no UDP in tcp mode');
      for (let i = 0; i < 6; i++) await exchange({ server, query: q, mode: 'tcp', timeoutMs: 2000 });
      assert.ok(new Set(ids).size >= 4, `ids vary: ${ids.join(', ')}`);
    } finally {
      await r.close();
    }
  });

  test('a path query takes only the matching answer', async () => {
    const r = await responder('::1', async (q, _t, reply) => {
      await reply(answer(q, 'fc00:bad::1', { name: 'evil.lab.example' }));
      await reply(answer(q, 'fc00:2::2'));
    });
    try {
      const o = { name: 'server.lab.example' };
      const { answer: a, transport } = await exchange({ server: parseController(`[::1]:${r.port}`), query: (id) => buildQuery(o, id), mode: 'udp-then-tcp', timeoutMs: 2000 });
      assert.deepEqual(parseResponse(a, o.name).result.addresses, ['fc00:2::2']);
      assert.equal(transport, 'udp');
    } finally {
      await r.close();
    }
  });

  test('the return hops (TYPE 65283) are asked over TCP only; records of another name are dropped', async () => {
    const r = await responder('::1', (q, _t, reply) =>
      reply(
        dnsPacket.encode({
          type: 'response',
          id: q.id!,
          flags: 0,
          questions: q.questions!,
          answers: [
            { name: RETURN_HOPS_NAME, type: TYPE_RETURN_HOP_NAME as 'AAAA', class: 'IN', ttl: 30, data: encodeReturnHopRecord({ id: 18, sid: 'fc00:b::ffff' }) as unknown as string },
            { name: 'other.srv6pipes.arpa', type: TYPE_RETURN_HOP_NAME as 'AAAA', class: 'IN', ttl: 30, data: encodeReturnHopRecord({ id: 99, sid: 'fc00:bad::ffff' }) as unknown as string },
            { name: RETURN_HOPS_NAME, type: TYPE_RETURN_HOP_NAME as 'AAAA', class: 'IN', ttl: 30, data: encodeReturnHopRecord({ id: 17, sid: 'fc00:a::ffff' }) as unknown as string },
          ],
        } as dnsPacket.Packet),
      ),
    );
    try {
      assert.deepEqual(await fetchReturnHops({ controller: `[::1]:${r.port}` }), [
        { id: 17, sid: 'fc00:a::ffff' },
        { id: 18, sid: 'fc00:b::ffff' },
      ]);
      assert.deepEqual(r.asked, ['tcp']);
    } finally {
      await r.close();
    }
  });

  test('answersQuery (pure): QR, id and the question section', () => {
    const query = aaaaQuery('Server.Lab.Example.', 7);
    const e = expectationOf(query);
    const q = dnsPacket.decode(query);
    assert.ok(answersQuery(e, answer(q, 'fc00:2::2')));
    assert.ok(!answersQuery(e, query), 'the query itself is no answer');
    assert.ok(!answersQuery(e, answer(q, 'fc00:2::2', { id: 8 })));
    assert.ok(!answersQuery(e, answer(q, 'fc00:2::2', { name: 'server.lab.example.evil' })));
    assert.ok(!answersQuery(e, Buffer.alloc(11)));
    // no question section: taken only for an error that carries nothing (a server's header-only REFUSED, SERVFAIL, FORMERR)
    const headerOnly = (rcode: number, ancount = 0): Buffer => {
      const b = Buffer.alloc(12);
      b.writeUInt16BE(7, 0);
      b.writeUInt16BE(0x8000 | rcode, 2);
      b.writeUInt16BE(ancount, 6);
      return b;
    };
    assert.ok(answersQuery(e, headerOnly(5)), 'REFUSED');
    assert.ok(answersQuery(e, headerOnly(2)), 'SERVFAIL');
    assert.ok(!answersQuery(e, headerOnly(0)), 'NOERROR needs the question');
    assert.ok(!answersQuery(e, headerOnly(3)), 'NXDOMAIN needs the question');
    assert.ok(!answersQuery(e, headerOnly(5, 1)), 'an error with records needs the question');
    assert.throws(() => expectationOf(Buffer.from('x')), { code: 'EINVAL' });
  });
});
