/** The controller's DNS handling as decode → dispatch on QUERY_KINDS → encode: each kind, a malformed packet, an unknown type. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { parsePrefix } from '../../net/ip6.js';
import { BsidManager } from '../bsid/manager.js';
import { parseControllerConfig } from '../config.js';
import { readExample } from '../../config/examples.js';

const FIG1_CONTROLLER_YAML = readExample('controller.yaml');
const ACCESS_CONTROLLER_YAML = readExample('controller-access.yaml');
import { Resolver } from '../resolver.js';
import { buildQuery, parseResponse } from '../../dns/query.js';
import { arpaName, decodeReturnHopRecord, decodeSrhRecord, TYPE_RETURN_HOP_NAME, TYPE_SRH_NAME } from '../../dns/records.js';
import { decodeQuery, dispatch, handleMessage, QUERY_KINDS, type QueryLog, type Services } from './message.js';
import { MemoryAccessRouter } from '../../access-router/memory.js';

const C = 'fc00:1::2';
const log = pino({ level: 'silent' });

const withHops = `${FIG1_CONTROLLER_YAML.replace('functions: { copy: 1, xor: 2 }', 'functions: { copy: 1, xor: 2 }\n      returnPath: { id: 17, sid: "fc00:a::ffff" }')}
privateLookups: { allow: [ "fc00:1::/64" ] }
upstream: { server: "[fc00::53]:53", allow: [ "fc00:1::/64" ] }
`;
const resolver = new Resolver(parseControllerConfig(withHops));

const question = (name: string, type: string) => ({ name, type });
const raw = (name: string, type: string, id = 5): Buffer => dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: type as 'AAAA', name }] });
const rcodeOf = (r: Buffer): number => r.readUInt16BE(2) & 0xf;


describe('the table of query kinds', () => {
  test('its rules: unique names, the catch-all `path` last, the private lookups marked', () => {
    const names = QUERY_KINDS.map((k) => k.name);
    assert.deepEqual(names, ['return-hops', 'bsid-lookup', 'forward', 'path']);
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(
      QUERY_KINDS.filter((k) => k.private !== undefined).map((k) => k.name),
      ['return-hops', 'bsid-lookup'],
    );
    assert.equal(QUERY_KINDS.at(-1)!.match(question('anything', 'MX'), resolver), true, 'path takes every question');
  });

  test('dispatch: each question to its kind, with what the kind read from it', () => {
    const to = (name: string, type: string) => {
      const d = dispatch(question(name, type), resolver);
      return [d.kind.name, d.matched];
    };
    assert.deepEqual(to('Return-Hops.srv6pipes.arpa', TYPE_RETURN_HOP_NAME), ['return-hops', true]);
    assert.deepEqual(to(arpaName('fc00:f::1'), TYPE_SRH_NAME), ['bsid-lookup', 'fc00:f::1']);
    assert.deepEqual(to('www.elsewhere.example', 'AAAA'), ['forward', 'www.elsewhere.example is in no zone of this controller']);
    assert.deepEqual(to('plain.lab.example', 'AAAA'), ['path', true]);
    // near misses go to the path query
    assert.deepEqual(to('other.srv6pipes.arpa', TYPE_RETURN_HOP_NAME)[0], 'forward', 'TYPE 65283 for another name: an out-of-zone name');
    assert.deepEqual(to('plain.lab.example', TYPE_SRH_NAME), ['path', true], 'TYPE 65281 for a name that is no ip6.arpa address');
    const noUpstream = new Resolver(parseControllerConfig(FIG1_CONTROLLER_YAML));
    assert.equal(dispatch(question('www.elsewhere.example', 'AAAA'), noUpstream).kind.name, 'path', 'no upstream: the resolver refuses it');
  });
});

describe('decode', () => {
  test('a query: its question and the hints of its options', () => {
    const l: QueryLog = { client: C, transport: 'udp' };
    const d = decodeQuery(buildQuery({ name: 'plain.lab.example', functions: ['xor'], port: 80, app: 'curl', bandwidthKbps: 1000 }, 9), l);
    assert.ok(d.ok);
    assert.deepEqual(d.query.question, { name: 'plain.lab.example', type: 'AAAA' });
    assert.deepEqual(d.query.hints, { app: 'curl', functions: ['xor'], port: 80, bandwidthKbps: 1000 });
    assert.equal(d.query.id, 9);
    assert.deepEqual([l.app, l.requested, l.name, l.type], ['curl', ['xor'], 'plain.lab.example', 'AAAA']);
  });

  test('a malformed packet: FORMERR with the query id (header readable), silence (not), never a throw', async () => {
    const good = raw('plain.lab.example', 'AAAA', 0x4242);
    const cut = await handleMessage({ resolver }, good.subarray(0, good.length - 3), C, 'udp');
    assert.equal(rcodeOf(cut.response!), 1);
    assert.equal(cut.response!.readUInt16BE(0), 0x4242);
    assert.match(cut.log.reason!, /^malformed: /);
    assert.equal((await handleMessage({ resolver }, good.subarray(0, 11), C, 'udp')).response, null);
    const two = dnsPacket.encode({ type: 'query', id: 6, questions: [{ type: 'AAAA', name: 'a.lab.example' }, { type: 'AAAA', name: 'b.lab.example' }] });
    const h = await handleMessage({ resolver }, two, C, 'udp');
    assert.equal(rcodeOf(h.response!), 1);
    assert.match(h.log.reason!, /2 questions \(one expected\)/);
  });
});

describe('each kind, through handleMessage', () => {
  test('return-hops: every proxy’s return id and SID, to the private-lookup ACL only', async () => {
    const h = await handleMessage({ resolver }, raw('return-hops.srv6pipes.arpa', TYPE_RETURN_HOP_NAME), C, 'tcp');
    const p = dnsPacket.decode(h.response!);
    assert.equal((p as { rcode?: string }).rcode, 'NOERROR');
    assert.deepEqual(p.answers!.map((a) => decodeReturnHopRecord((a as { data: Buffer }).data)), [{ id: 17, sid: 'fc00:a::ffff' }]);
    const refused = await handleMessage({ resolver }, raw('return-hops.srv6pipes.arpa', TYPE_RETURN_HOP_NAME), 'fc00:99::1', 'tcp');
    assert.equal(rcodeOf(refused.response!), 5);
    assert.equal(refused.response!.length, 12, 'a refusal before any lookup: the header alone');
    assert.match(refused.log.reason!, /may not ask private lookups \(return hops\)/);
  });

  test('bsid-lookup: what a bound BSID stands for (its segments, a TTL within what is left); unknown → NXDOMAIN', async () => {
    const cfg = parseControllerConfig(`${ACCESS_CONTROLLER_YAML}\nprivateLookups: { allow: [ "fc00:1::/64" ] }\n`);
    const r = new Resolver(cfg);
    const bsids = new BsidManager(new Map([['ar', { agent: new MemoryAccessRouter(), prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: cfg.bindingSids!.lifetimeMs, log });
    const services: Services = { resolver: r, bsids };
    // a path query from a client behind the access router: the answer carries a BSID
    const path = await handleMessage(services, buildQuery({ name: 'server.lab.example' }, 3), C, 'udp');
    const res = parseResponse(path.response!, 'server.lab.example').result;
    const bsid = res.paths[0]!.bsid!;
    assert.deepEqual(res.paths[0]!.segments, [bsid, 'fc00:2::2']);
    assert.equal(path.log.paths![0]!.bsid, bsid);
    // the lookup
    const h = await handleMessage(services, raw(arpaName(bsid), TYPE_SRH_NAME), C, 'tcp');
    const p = dnsPacket.decode(h.response!);
    const a = p.answers![0] as unknown as { type: string; ttl: number; data: Buffer };
    assert.equal(a.type, TYPE_SRH_NAME);
    assert.deepEqual(decodeSrhRecord(a.data), ['fc00:a::1:0:0', 'fc00:c::2:0:0']);
    assert.ok(a.ttl >= 1 && a.ttl <= 30);
    assert.deepEqual(h.log.paths, [{ destination: bsid, segments: ['fc00:a::1:0:0', 'fc00:c::2:0:0'], bsid }]);
    const unknown = await handleMessage(services, raw(arpaName('fc00:f::dead'), TYPE_SRH_NAME), C, 'tcp');
    assert.equal(rcodeOf(unknown.response!), 3);
    assert.equal(dnsPacket.decode(unknown.response!).questions!.length, 1, 'an answer with the question, not a bare header');
  });

  test('forward: the upstream’s answer as it is, for clients in upstream.allow; REFUSED to others', async () => {
    const q = raw('www.elsewhere.example', 'AAAA', 77);
    const upstream = Buffer.from(q);
    upstream.writeUInt16BE(0x8180, 2); // QR RD RA, NOERROR
    const services: Services = { resolver, forward: () => Promise.resolve(upstream) };
    const h = await handleMessage(services, q, C, 'udp');
    assert.deepEqual(h.response, upstream);
    assert.equal(h.log.forwarded, true);
    assert.equal(h.log.rcode, 'NOERROR');
    const other = await handleMessage(services, q, 'fc00:99::1', 'udp');
    assert.equal(rcodeOf(other.response!), 5);
    assert.match(other.log.reason!, /not in upstream\.allow/);
    const none = await handleMessage({ resolver }, q, C, 'udp');
    assert.match(none.log.reason!, /in no zone of this controller \(no upstream\)/);
  });

  test('path: an AAAA query with options — the addresses and the SRH record of the requested functions', async () => {
    const h = await handleMessage({ resolver }, buildQuery({ name: 'plain.lab.example', functions: ['xor', 'xor'], port: 9000, app: 'test' }, 4), C, 'udp');
    const r = parseResponse(h.response!, 'plain.lab.example').result;
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.paths, [{ destination: 'fc00:2::2', segments: ['fc00:a::2:0:5a', 'fc00:b::2:0:5a', 'fc00:2::2'] }]);
    assert.equal(h.log.app, 'test');
    // an option that does not decode: FORMERR, named by the EDNS table, before any dispatch
    const bad = dnsPacket.encode({ type: 'query', id: 4, questions: [{ type: 'AAAA', name: 'www.elsewhere.example' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options: [{ code: 65005, data: Buffer.from([0, 0]) }] } as unknown as dnsPacket.Answer] });
    const f = await handleMessage({ resolver, forward: () => Promise.reject(new Error('not reached')) }, bad, C, 'udp');
    assert.equal(rcodeOf(f.response!), 1);
    assert.equal(f.log.reason, 'bad option 65005 (port): 2 bytes, not 0');
  });

  test('an unknown type: the path kind answers it — NOERROR without records in a zone, REFUSED with functions', async () => {
    for (const type of ['MX', 'UNKNOWN_65000']) {
      const h = await handleMessage({ resolver }, raw('plain.lab.example', type), C, 'udp');
      const p = dnsPacket.decode(h.response!);
      assert.equal((p as { rcode?: string }).rcode, 'NOERROR', type);
      assert.equal(p.answers!.length, 0);
      assert.equal(p.questions![0]!.type, type, 'the question echoed');
    }
    const withFunctions = await handleMessage({ resolver }, dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'MX', name: 'plain.lab.example' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options: [{ code: 65004, data: Buffer.from('xor') }] } as unknown as dnsPacket.Answer] }), C, 'udp');
    assert.equal(rcodeOf(withFunctions.response!), 5);
    assert.match(withFunctions.log.reason!, /functions are requested with an AAAA query, not MX/);
  });
});
