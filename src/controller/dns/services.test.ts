/** Binding-SID answers and lookups, and forwarding to an upstream, over real UDP/TCP on loopback. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import YAML from 'yaml';
import { parsePrefix } from '../../net/ip6.js';
import { BsidManager } from '../bsid/manager.js';
import { resolve } from '../../client/resolve.js';
import { tcpExchange, udpExchange } from '../../dns/exchange.js';
import { validateControllerConfig } from '../config.js';
import { readExample } from '../../config/examples.js';

const ACCESS_CONTROLLER_YAML = readExample('controller-access.yaml');
import { Resolver } from '../resolver.js';
import { arpaName, decodeReturnHopRecord, decodeSrhRecord, RETURN_HOPS_NAME, TYPE_RETURN_HOP_NAME, TYPE_SRH_NAME } from '../../dns/records.js';
import { startDnsServer, type DnsServer } from './server.js';
import { MemoryAccessRouter } from '../../access-router/memory.js';

const log = pino({ level: 'silent' });


/** The access lab's config with the loopback client ::1 behind the access router. */
function config(extra: (doc: Record<string, any>) => void = () => undefined) {
  const doc = YAML.parse(ACCESS_CONTROLLER_YAML) as Record<string, any>;
  doc['links'].push({ a: '::1/128', b: 'ar' });
  for (const p of doc['policies']) p.clients = ['fc00:1::/64', '::1/128'];
  extra(doc);
  return validateControllerConfig(doc);
}

function lookupQuery(bsid: string): Buffer {
  return dnsPacket.encode({ type: 'query', id: 77, questions: [{ type: TYPE_SRH_NAME as 'AAAA', name: arpaName(bsid) }] });
}

describe('binding SIDs and upstream forwarding (DNS server on loopback)', () => {
  const agent = new MemoryAccessRouter();
  let bsidServer: DnsServer;
  let lookupServer: DnsServer;
  let upstream: DnsServer;
  let forwarder: DnsServer;
  let deadForwarder: DnsServer;
  let closedForwarder: DnsServer;
  let limitedForwarder: DnsServer;
  before(async () => {
    const cfg = config();
    const bsids = new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 120_000, log });
    bsidServer = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(cfg), bsids, log });
    // the same BSIDs, answered to ::1 as if it were a proxy
    const lookupCfg = config((d) => (d['bindingSids'].lookupFrom = ['::1/128']));
    lookupServer = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(lookupCfg), bsids, log });
    upstream = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(validateControllerConfig({ nodes: {}, zones: { 'other.example': { www: 'fc00:77::1', '@': ['2001:db8::1', '2001:db8::2'] } } })), log });
    forwarder = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(config((d) => (d['upstream'] = { server: `[::1]:${upstream.port}`, allow: ['::1/128'] }))), log });
    deadForwarder = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(config((d) => (d['upstream'] = { server: '[::1]:9', allow: ['::/0'] }))), log });
    // the old form (a string): forwarding for nobody; `allow` without ::1: not for this client
    closedForwarder = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(config((d) => (d['upstream'] = `[::1]:${upstream.port}`))), log });
    limitedForwarder = await startDnsServer({
      address: '::1',
      port: 0,
      resolver: new Resolver(config((d) => (d['upstream'] = { server: `[::1]:${upstream.port}`, allow: ['::1/128'], rate: { perSecond: 0.01, burst: 3 } }))),
      log,
    });
  });
  after(async () => {
    for (const s of [bsidServer, lookupServer, upstream, forwarder, deadForwarder, closedForwarder, limitedForwarder]) await s.close();
  });

  test('an SR answer carries a BSID (TYPE 65280), installed before the answer; no segment list', async () => {
    const r = await resolve({ name: 'server.lab.example', controller: `[::1]:${bsidServer.port}` });
    assert.equal(r.rcode, 'NOERROR');
    const bsid = r.paths[0]!.bsid!;
    assert.match(bsid, /^fc00:f::/);
    assert.deepEqual(r.paths[0]!.segments, [bsid, 'fc00:2::2']);
    assert.deepEqual(agent.installed.get(bsid)!.segments, ['fc00:a::1:0:0', 'fc00:c::2:0:0']);
    assert.deepEqual(agent.installed.get(bsid)!.source, { prefix: '::1', length: 128 });
    // no function applies: a plain answer, no BSID
    const www = await resolve({ name: 'www.lab.example', controller: `[::1]:${bsidServer.port}` });
    assert.deepEqual(www.paths, []);
    // a requested function gets its own BSID
    const copy = await resolve({ name: 'www.lab.example', controller: `[::1]:${bsidServer.port}`, functions: ['copy'] });
    assert.notEqual(copy.paths[0]!.bsid, bsid);
    assert.deepEqual(agent.installed.get(copy.paths[0]!.bsid!)!.segments, ['fc00:c::3:0:0']);
  });

  test('the BSID lookup: REFUSED unless the asker may, the segments when it may, NXDOMAIN when unknown', async () => {
    const bsid = (await resolve({ name: 'server.lab.example', controller: `[::1]:${bsidServer.port}` })).paths[0]!.bsid!;
    const refused = dnsPacket.decode(await udpExchange({ address: '::1', port: bsidServer.port }, lookupQuery(bsid), 2000));
    assert.equal((refused as { rcode?: string }).rcode, 'REFUSED');
    const ok = dnsPacket.decode(await tcpExchange({ address: '::1', port: lookupServer.port }, lookupQuery(bsid), 2000));
    assert.equal((ok as { rcode?: string }).rcode, 'NOERROR');
    assert.deepEqual(decodeSrhRecord((ok.answers![0] as { data: Buffer }).data), ['fc00:a::1:0:0', 'fc00:c::2:0:0']);
    const unknown = dnsPacket.decode(await udpExchange({ address: '::1', port: lookupServer.port }, lookupQuery('fc00:f::dead'), 2000));
    assert.equal((unknown as { rcode?: string }).rcode, 'NXDOMAIN');
  });

  test('a name outside the zones is forwarded upstream (UDP and TCP), the answer relayed with the client’s id', async () => {
    const fwd = `[::1]:${forwarder.port}`;
    assert.deepEqual((await resolve({ name: 'www.other.example', controller: fwd })).addresses, ['fc00:77::1']);
    assert.deepEqual((await resolve({ name: 'other.example', controller: fwd, tcp: true })).addresses, ['2001:db8::1', '2001:db8::2']);
    assert.equal((await resolve({ name: 'nope.other.example', controller: fwd })).rcode, 'NXDOMAIN');
    const q = dnsPacket.encode({ type: 'query', id: 4321, questions: [{ type: 'AAAA', name: 'www.other.example' }] });
    assert.equal((await udpExchange({ address: '::1', port: forwarder.port }, q, 2000)).readUInt16BE(0), 4321);
    // names in its own zones are still answered locally
    assert.equal((await resolve({ name: 'www.lab.example', controller: fwd })).rcode, 'NOERROR');
    // an upstream that does not answer: SERVFAIL, not silence
    assert.equal((await resolve({ name: 'www.other.example', controller: `[::1]:${deadForwarder.port}`, timeoutMs: 4000 })).rcode, 'SERVFAIL');
  });

  test('issue 12 #3: forwarding only for upstream.allow (the old string form: for nobody), within upstream.rate', async () => {
    assert.equal((await resolve({ name: 'www.other.example', controller: `[::1]:${closedForwarder.port}` })).rcode, 'REFUSED');
    assert.equal((await resolve({ name: 'www.other.example', controller: `[::1]:${closedForwarder.port}`, tcp: true })).rcode, 'REFUSED');
    assert.equal((await resolve({ name: 'www.lab.example', controller: `[::1]:${closedForwarder.port}` })).rcode, 'NOERROR', 'its own zones: answered');
    const lim = `[::1]:${limitedForwarder.port}`;
    const rcodes = [];
    for (let i = 0; i < 5; i++) rcodes.push((await resolve({ name: 'www.other.example', controller: lim })).rcode);
    assert.deepEqual(rcodes, ['NOERROR', 'NOERROR', 'NOERROR', 'REFUSED', 'REFUSED'], 'a burst of 3, then nothing at 0.01/s');
    assert.equal((await resolve({ name: 'www.lab.example', controller: lim })).rcode, 'NOERROR', 'the zones are not rate-limited');
  });

  test('issue 12 #3: a forwarded answer over UDP is at most 1232 bytes, TC beyond, whatever the client asks', async () => {
    // a client that says it takes 65535 bytes, for a name of the upstream with 60 addresses (≈ 1.7 kB)
    const query = dnsPacket.encode({
      type: 'query',
      id: 99,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type: 'AAAA', name: 'big.example' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 65535 } as unknown as dnsPacket.Answer],
    });
    const many = await startDnsServer({
      address: '::1',
      port: 0,
      resolver: new Resolver(validateControllerConfig({ nodes: {}, zones: { 'big.example': { '@': Array.from({ length: 60 }, (_, i) => `2001:db8::${(i + 1).toString(16)}`) } } })),
      log,
    });
    const fwd = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(config((d) => (d['upstream'] = { server: `[::1]:${many.port}`, allow: ['::1/128'] }))), log });
    try {
      const direct = await tcpExchange({ address: '::1', port: many.port }, query, 2000);
      assert.ok(direct.length > 1232, `the whole answer is ${direct.length} bytes`);
      const viaUdp = await udpExchange({ address: '::1', port: fwd.port }, query, 2000);
      assert.ok(viaUdp.length <= 1232, `${viaUdp.length} bytes`);
      const p = dnsPacket.decode(viaUdp) as { flag_tc?: boolean; id?: number; questions?: unknown[] };
      assert.equal(p.flag_tc, true);
      assert.equal(p.id, 99);
      assert.equal(p.questions?.length, 1);
      const viaTcp = await tcpExchange({ address: '::1', port: fwd.port }, query, 2000);
      assert.equal(dnsPacket.decode(viaTcp).answers!.length, 60, 'over TCP: whole');
    } finally {
      await fwd.close();
      await many.close();
    }
  });

  test('issue 12 #4: the return hops and BSID lookups, over UDP and TCP, only to the private-lookup ACL', async () => {
    const hops = dnsPacket.encode({ type: 'query', id: 5, questions: [{ type: TYPE_RETURN_HOP_NAME as 'AAAA', name: RETURN_HOPS_NAME }] });
    const withHop = (d: Record<string, any>) => (d['nodes'].proxies[0].returnPath = { id: 17, sid: 'fc00:a::ffff' });
    const closed = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(config(withHop)), log });
    const bsids = new BsidManager(new Map([['ar', { agent: new MemoryAccessRouter(), prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 120_000, log });
    const open = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(config((d) => (withHop(d), (d['privateLookups'] = { allow: ['::1/128'] })))), bsids, log });
    // a proxy's health address is on the list by itself
    const asProxy = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(config((d) => (withHop(d), (d['nodes'].proxies[1].health.address = '::1')))), log });
    try {
      for (const ex of [udpExchange, tcpExchange]) {
        const no = dnsPacket.decode(await ex({ address: '::1', port: closed.port }, hops, 2000)) as { rcode?: string; answers?: unknown[] };
        assert.equal(no.rcode, 'REFUSED', ex.name);
        assert.equal(no.answers?.length ?? 0, 0);
        for (const srv of [open, asProxy]) {
          const yes = dnsPacket.decode(await ex({ address: '::1', port: srv.port }, hops, 2000));
          assert.equal((yes as { rcode?: string }).rcode, 'NOERROR', ex.name);
          assert.deepEqual(yes.answers!.map((a) => decodeReturnHopRecord((a as { data: Buffer }).data)), [{ id: 17, sid: 'fc00:a::ffff' }]);
        }
        const bsidNo = dnsPacket.decode(await ex({ address: '::1', port: closed.port }, lookupQuery('fc00:f::1'), 2000)) as { rcode?: string };
        assert.equal(bsidNo.rcode, 'REFUSED');
        const bsidOpen = dnsPacket.decode(await ex({ address: '::1', port: open.port }, lookupQuery('fc00:f::1'), 2000)) as { rcode?: string };
        assert.equal(bsidOpen.rcode, 'NXDOMAIN', 'allowed to ask; there is no such BSID');
      }
    } finally {
      for (const s of [closed, open, asProxy]) await s.close();
    }
  });
});
