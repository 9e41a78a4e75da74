import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { parseControllerConfig } from '../config.js';
import { readExample } from '../../config/examples.js';

const FIG1_CONTROLLER_YAML = readExample('controller.yaml');
import { Resolver } from '../resolver.js';
import { handleMessage } from './message.js';
import { parseResponse } from '../../dns/query.js';
import { OPT_FUNCTIONS, OPT_PORT } from '../../dns/edns.js';
import { arpaName, decodeReturnHopRecord, decodeSrhRecord, TYPE_RETURN_HOP_NAME, TYPE_SRH_NAME } from '../../dns/records.js';

const resolver = new Resolver(parseControllerConfig(FIG1_CONTROLLER_YAML));
const C = 'fc00:1::2';

function query(name: string, o: { type?: string; functions?: string; edns?: boolean; size?: number; options?: { code: number; data: Buffer }[]; version?: number } = {}): Buffer {
  const options = [...(o.functions !== undefined ? [{ code: OPT_FUNCTIONS, data: Buffer.from(o.functions) }] : []), ...(o.options ?? [])];
  const edns = o.edns ?? (options.length > 0 || o.size !== undefined || o.version !== undefined);
  return dnsPacket.encode({
    type: 'query',
    id: 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: (o.type ?? 'AAAA') as 'AAAA', name }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: o.size ?? 1232, ednsVersion: o.version ?? 0, options } as unknown as dnsPacket.Answer] : [],
  });
}

async function ask(buf: Buffer, transport: 'udp' | 'tcp' = 'udp', client = C) {
  const h = await handleMessage({ resolver }, buf, client, transport);
  return { ...h, packet: h.response ? dnsPacket.decode(h.response) : undefined };
}

const rcodeOf = (r: Buffer): number => r.readUInt16BE(2) & 0xf;

describe('DNS messages', () => {
  test('plain AAAA: authoritative answer, id and RD echoed, no SRH record', async () => {
    const { packet } = await ask(query('plain.lab.example'));
    assert.equal(packet!.id, 4242);
    assert.equal((packet as { rcode?: string }).rcode, 'NOERROR');
    assert.equal((packet as { flag_aa?: boolean }).flag_aa, true);
    assert.equal((packet as { flag_rd?: boolean }).flag_rd, true);
    assert.deepEqual(packet!.answers!.map((a) => [a.type, (a as { data: unknown }).data]), [['AAAA', 'fc00:2::2']]);
    assert.equal(packet!.additionals!.length, 0, 'no EDNS in the query, none in the answer');
  });

  test('SR request: the AAAA plus a TYPE 65281 record with the segments; OPT echoed', async () => {
    const { packet, log } = await ask(query('plain.lab.example', { functions: 'xor,xor' }));
    const srh = packet!.additionals!.find((a) => a.type === (TYPE_SRH_NAME as string)) as unknown as { name: string; data: Buffer };
    assert.equal(srh.name, 'plain.lab.example');
    assert.deepEqual(decodeSrhRecord(srh.data), ['fc00:a::2:0:5a', 'fc00:b::2:0:5a', 'fc00:2::2']);
    assert.ok(packet!.additionals!.some((a) => a.type === 'OPT'));
    assert.deepEqual(log.requested, ['xor', 'xor']);
    assert.equal(log.rcode, 'NOERROR');
  });

  test('a policy with returnPath: a TYPE 65282 record after the path, the downstream function per hop; the client pairs them', async () => {
    const yaml = FIG1_CONTROLLER_YAML.replace('functions: { xor: 2 }                # copy runs on p1 only', 'functions: { xor: 2, copy: 1, compress: 3 }').replace(
      'policies:\n',
      'policies:\n  - { clients: "fc00:1::/64", destination: server.lab.example, require: [ copy, copy ], returnPath: { downstream: { copy: compress } } }\n',
    );
    const cfg = parseControllerConfig(yaml.replace('functions: { copy: 1, xor: 2 }', 'functions: { copy: 1, xor: 2, compress: 3 }'));
    const h = await handleMessage({ resolver: new Resolver(cfg) }, query('server.lab.example', { edns: true }), C, 'udp');
    const r = parseResponse(h.response!, 'server.lab.example').result;
    assert.deepEqual(r.paths[0]!.segments, ['fc00:a::1:0:0', 'fc00:b::1:0:0', 'fc00:2::2']);
    assert.deepEqual(r.paths[0]!.returnPath, ['fc00:b::3:0:0', 'fc00:a::3:0:0'], 'last proxy first, each with its compress SID');
    assert.deepEqual(h.log.paths?.[0]?.returnPath, ['fc00:b::3:0:0', 'fc00:a::3:0:0']);
    // without returnPath in the policy: no such record
    const plain = parseResponse((await ask(query('plain.lab.example', { functions: 'xor,xor' }))).response!, 'plain.lab.example').result;
    assert.equal(plain.paths[0]!.returnPath, undefined);
  });

  test('returnPath config: the downstream function must run on every proxy that hosts the forward one', () => {
    const bad = FIG1_CONTROLLER_YAML.replace('policies:\n', 'policies:\n  - { clients: "fc00:1::/64", require: [ xor ], returnPath: { downstream: { xor: copy } } }\n');
    assert.throws(() => parseControllerConfig(bad), /policies\[0\]\.returnPath\.downstream\.xor.*proxy p2 hosts "xor" but not "copy"/);
  });

  test('return hops: a TYPE 65283 query for return-hops.srv6pipes.arpa lists every proxy with a returnPath (to the ACL)', async () => {
    const yaml = FIG1_CONTROLLER_YAML.replace('functions: { copy: 1, xor: 2 }', 'functions: { copy: 1, xor: 2 }\n      returnPath: { id: 17, sid: "fc00:a::ffff" }');
    const r = new Resolver(parseControllerConfig(`${yaml}\nprivateLookups: { allow: [ "fc00:1::/64" ] }\n`));
    const q = dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: TYPE_RETURN_HOP_NAME as 'AAAA', name: 'Return-Hops.srv6pipes.arpa.' }] });
    const h = await handleMessage({ resolver: r }, q, C, 'udp');
    const p = dnsPacket.decode(h.response!);
    assert.equal((p as { rcode?: string }).rcode, 'NOERROR');
    assert.deepEqual(p.answers!.map((a) => decodeReturnHopRecord((a as { data: Buffer }).data)), [{ id: 17, sid: 'fc00:a::ffff' }]);
    // a controller with none: an empty answer, not an error
    const noneR = new Resolver(parseControllerConfig(`${FIG1_CONTROLLER_YAML}\nprivateLookups: { allow: [ "fc00:1::/64" ] }\n`));
    const none = dnsPacket.decode((await handleMessage({ resolver: noneR }, q, C, 'udp')).response!);
    assert.equal((none as { rcode?: string }).rcode, 'NOERROR');
    assert.equal(none.answers!.length, 0);
  });

  test('issue 12 #4: return hops and BSID lookups are REFUSED to anyone off the private-lookup ACL, over UDP and TCP', async () => {
    const yaml = FIG1_CONTROLLER_YAML.replace('functions: { copy: 1, xor: 2 }', 'functions: { copy: 1, xor: 2 }\n      returnPath: { id: 17, sid: "fc00:a::ffff" }\n      health: { address: "fc00:a0::1" }');
    const r = new Resolver(parseControllerConfig(`${yaml}\nprivateLookups: { allow: [ "fc00:99::/64" ] }\n`));
    const hops = dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: TYPE_RETURN_HOP_NAME as 'AAAA', name: 'return-hops.srv6pipes.arpa' }] });
    const bsid = dnsPacket.encode({ type: 'query', id: 8, questions: [{ type: TYPE_SRH_NAME as 'AAAA', name: arpaName('fc00:f::1') }] });
    for (const transport of ['udp', 'tcp'] as const) {
      for (const [who, ok] of [[C, false], ['fc00:99::5', true], ['fc00:a0::1', true], ['fc00:a0::2', false], ['192.0.2.1', false], ['garbage', false]] as const) {
        const h = await handleMessage({ resolver: r }, hops, who, transport);
        assert.equal(rcodeOf(h.response!), ok ? 0 : 5, `${who} ${transport}`);
        if (!ok) assert.match(h.log.reason!, /may not ask private lookups \(return hops\)/);
        const b = await handleMessage({ resolver: r }, bsid, who, transport);
        assert.equal(rcodeOf(b.response!), 5, 'binding SIDs are off here: REFUSED to all, but the reason differs');
        assert.match(b.log.reason!, ok ? /binding SIDs are off/ : /may not ask private lookups \(binding SIDs\)/);
      }
    }
  });

  test('REFUSED (with the reason logged), NXDOMAIN, REFUSED outside the zones', async () => {
    const d = await ask(query('denied.lab.example'));
    assert.equal(rcodeOf(d.response!), 5);
    assert.match(d.log.reason!, /policies\[0\] denies/);
    assert.equal(rcodeOf((await ask(query('plain.lab.example', { functions: 'compress' }))).response!), 5);
    assert.equal(rcodeOf((await ask(query('nope.lab.example'))).response!), 3);
    assert.equal(rcodeOf((await ask(query('example.com'))).response!), 5);
  });

  test('malformed: FORMERR when the header is readable, silence otherwise, never a throw', async () => {
    const good = query('plain.lab.example');
    assert.equal((await ask(Buffer.alloc(0))).response, null);
    assert.equal((await ask(good.subarray(0, 11))).response, null, 'shorter than a header');
    const trunc = await ask(good.subarray(0, 20));
    assert.equal(rcodeOf(trunc.response!), 1);
    assert.equal(trunc.response!.readUInt16BE(0), 4242, 'the id is echoed');
    assert.equal(trunc.response!.length, 12);
    // huge counts with nothing behind them
    const huge = Buffer.from(good);
    huge.writeUInt16BE(0xffff, 4);
    huge.writeUInt16BE(0xffff, 10);
    assert.equal(rcodeOf((await ask(huge)).response!), 1);
    // two questions
    const two = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'AAAA', name: 'a.lab.example' }, { type: 'AAAA', name: 'b.lab.example' }] });
    assert.equal(rcodeOf((await ask(two)).response!), 1);
    // a compression pointer loop
    const loop = Buffer.concat([Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 12, 0, 28, 0, 1])]);
    assert.equal(rcodeOf((await ask(loop)).response!), 1);
    // a bad functions option
    assert.equal(rcodeOf((await ask(query('plain.lab.example', { functions: 'x,,y' }))).response!), 1);
    assert.equal(rcodeOf((await ask(query('plain.lab.example', { options: [{ code: OPT_PORT, data: Buffer.from([1, 2, 3]) }] }))).response!), 1);
    // a response is never answered (no reflection loops)
    const resp = Buffer.from(good);
    resp[2] = resp[2]! | 0x80;
    assert.equal((await ask(resp)).response, null);
    // opcode 2 (STATUS): NOTIMP
    const status = Buffer.from(good);
    status[2] = (status[2]! & 0x87) | (2 << 3);
    assert.equal(rcodeOf((await ask(status)).response!), 4);
    // random garbage: whatever comes back is a well-formed header, and nothing throws
    let seed = 1;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(Array.from({ length: 1 + (rnd() % 80) }, rnd));
      const h = await handleMessage({ resolver }, b, C, 'udp');
      if (h.response) assert.ok(h.response.length >= 12);
    }
  });

  test('EDNS version 1: BADVERS', async () => {
    const { packet } = await ask(query('plain.lab.example', { version: 1 }));
    const opt = packet!.additionals!.find((a) => a.type === 'OPT') as unknown as { extendedRcode: number };
    assert.equal(opt.extendedRcode, 1);
  });

  test('truncation: over 512 bytes on UDP sets TC and drops the answers; TCP and a large EDNS size get all', async () => {
    const small = await ask(query('big.lab.example'));
    assert.equal((small.packet as { flag_tc?: boolean }).flag_tc, true);
    assert.equal(small.packet!.answers!.length, 0);
    assert.ok(small.response!.length <= 512);
    assert.equal(small.log.truncated, true);
    const tcp = await ask(query('big.lab.example'), 'tcp');
    assert.equal((tcp.packet as { flag_tc?: boolean }).flag_tc, false);
    assert.equal(tcp.packet!.answers!.length, 40);
    const edns512 = await ask(query('big.lab.example', { size: 100 }));
    assert.equal((edns512.packet as { flag_tc?: boolean }).flag_tc, true, 'a size under 512 counts as 512');
  });

  test('issue 12 #3: over UDP at most 1232 bytes whatever the EDNS size (51 B → 4164 B before); TCP in full', async () => {
    const full = (await ask(query('big.lab.example', { size: 1232 }), 'tcp')).response!;
    assert.ok(full.length > 1232, `the whole answer: ${full.length} bytes`);
    for (const size of [1232, 4096, 65535]) {
      const q = query('big.lab.example', { size });
      const r = await ask(q);
      assert.ok(r.response!.length <= 1232, `EDNS ${size}: ${r.response!.length} bytes`);
      assert.equal((r.packet as { flag_tc?: boolean }).flag_tc, true, `EDNS ${size}: TC`);
      assert.ok(r.response!.length / q.length < 2, `no amplification: ${q.length} B → ${r.response!.length} B`);
    }
  });
  test('options 65002 (bandwidth) and 65003 (latency): 4 bytes each, else FORMERR', async () => {
    const four = Buffer.alloc(4);
    four.writeUInt32BE(1000);
    assert.equal(rcodeOf((await ask(query('plain.lab.example', { options: [{ code: 65002, data: four }, { code: 65003, data: four }] }))).response!), 0);
    const bad = await ask(query('plain.lab.example', { options: [{ code: 65003, data: Buffer.from([1, 2]) }] }));
    assert.equal(rcodeOf(bad.response!), 1);
    assert.match(bad.log.reason!, /bad option 65003 \(latency, ms\): 4 bytes/);
  });
});

describe('the message handler is total (issue 12)', () => {
  // every service present: binding SIDs, lookups, forwarding (an upstream that answers garbage or big)
  const yaml = `${FIG1_CONTROLLER_YAML.replace('functions: { copy: 1, xor: 2 }', 'functions: { copy: 1, xor: 2 }\n      returnPath: { id: 17, sid: "fc00:a::ffff" }')}
privateLookups: { allow: [ "fc00:1::/64" ] }
upstream: { server: "[fc00::53]:53", allow: [ "fc00:1::/64" ] }
`;
  const r = new Resolver(parseControllerConfig(yaml));
  const upstreamAnswers = [Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(4000, 0x41), Buffer.alloc(12)];
  let n = 0;
  const services = { resolver: r, forward: () => (n++ % 5 === 4 ? Promise.reject(new Error('timeout')) : Promise.resolve(Buffer.from(upstreamAnswers[n % upstreamAnswers.length]!))) };
  const seeds = [
    query('plain.lab.example', { functions: 'xor,xor', options: [{ code: 65002, data: Buffer.from([0, 0, 3, 232]) }, { code: 65003, data: Buffer.from([0, 0, 0, 9]) }, { code: 65001, data: Buffer.from('app') }] }),
    query('www.elsewhere.example', { size: 65535 }),
    dnsPacket.encode({ type: 'query', id: 9, questions: [{ type: TYPE_RETURN_HOP_NAME as 'AAAA', name: 'return-hops.srv6pipes.arpa' }] }),
    dnsPacket.encode({ type: 'query', id: 10, questions: [{ type: TYPE_SRH_NAME as 'AAAA', name: arpaName('fc00:f::1') }] }),
    query('big.lab.example', { size: 4096 }),
  ];

  test('mutated valid queries (2000 cases, fixed seed): no throw; silence or a parsable answer with the query id', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }),
        fc.nat(),
        fc.constantFrom('udp' as const, 'tcp' as const),
        async (which, flips, cut, transport) => {
          const b = Buffer.from(seeds[which]!);
          for (const [at, v] of flips) b[at % b.length] = v;
          const msg = cut % 4 === 0 ? b.subarray(0, cut % (b.length + 1)) : b;
          const h = await handleMessage(services, msg, C, transport);
          if (h.response === null) return;
          assert.ok(h.response.length >= 12);
          assert.ok(transport === 'tcp' || h.response.length <= 1232, `${h.response.length} bytes over UDP`);
          if (h.log.forwarded && !h.log.truncated) return; // relayed as it is (the server puts the id back)
          assert.equal(h.response.readUInt16BE(0), msg.readUInt16BE(0));
          dnsPacket.decode(h.response);
        },
      ),
      { numRuns: 2000, seed: 12 },
    );
  });

  test('the upstream answers garbage: a short answer is SERVFAIL, a huge one over UDP is TC', async () => {
    const q = query('www.elsewhere.example', { size: 65535 });
    const short = await handleMessage({ resolver: r, forward: () => Promise.resolve(Buffer.from([1, 2, 3])) }, q, C, 'udp');
    assert.equal(rcodeOf(short.response!), 2);
    const huge = await handleMessage({ resolver: r, forward: () => Promise.resolve(Buffer.alloc(4000)) }, q, C, 'udp');
    assert.equal(huge.response!.readUInt16BE(2) & 0x8200, 0x8200, 'QR and TC');
    assert.ok(huge.response!.length <= 1232);
  });
});

describe('question names that do not encode back (fuzz finding)', () => {
  test('a label holding a dot, or bytes that are not UTF-8: FORMERR, and the answer parses', async () => {
    // labels "big", ".ab", "example" (dns-packet decodes this as big..ab.example)
    const dotted = Buffer.from('42420100000100000000000103626967032e6162076578616d706c6500001c0001000029ffff000000000007fdec0003786f72', 'hex');
    // a 63-byte label of 0xff bytes: U+FFFD replacements would make it 189 bytes
    const binary = Buffer.concat([Buffer.from('424201000001000000000000', 'hex'), Buffer.from([63]), Buffer.alloc(63, 0xff), Buffer.from('0000001c0001', 'hex')]);
    for (const buf of [dotted, binary]) {
      const h = await ask(buf);
      assert.ok(h.response);
      assert.equal(rcodeOf(h.response), 1);
      assert.doesNotThrow(() => dnsPacket.decode(h.response!));
    }
  });
});

test('parseResponse: an answer that does not parse is a typed error (DNS_BAD_ANSWER), not dns-packet’s plain Error', () => {
  for (const bad of [Buffer.alloc(0), Buffer.from('000001840000010001', 'hex')]) {
    assert.throws(() => parseResponse(bad, 'server.lab.example'), (e: unknown) => (e as { code?: string }).code === 'DNS_BAD_ANSWER');
  }
});
