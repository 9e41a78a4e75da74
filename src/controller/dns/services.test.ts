/** Binding-SID answers and lookups, and forwarding to an upstream, over real UDP/TCP on loopback. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import YAML from 'yaml';
import { parsePrefix } from '../../net/ip6.js';
import type { AccessRouterAgent, BsidPolicy } from '../access-router.js';
import { BsidManager } from '../bsid/manager.js';
import { resolve, tcpExchange, udpExchange } from '../client.js';
import { validateControllerConfig } from '../config.js';
import { ACCESS_CONTROLLER_YAML } from '../example.js';
import { Resolver } from '../resolver.js';
import { arpaName, decodeSrhRecord, TYPE_SRH_NAME } from './records.js';
import { startDnsServer, type DnsServer } from './server.js';

const log = pino({ level: 'silent' });

class MemoryAgent implements AccessRouterAgent {
  readonly name = 'ar';
  readonly installed = new Map<string, BsidPolicy>();
  install(p: BsidPolicy) {
    this.installed.set(p.bsid, p);
    return Promise.resolve();
  }
  remove(b: string) {
    this.installed.delete(b);
    return Promise.resolve();
  }
  list() {
    return Promise.resolve([...this.installed.values()]);
  }
  counters() {
    return Promise.resolve({ unknownBsid: 0, unauthorised: 0, notBsid: 0 });
  }
}

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
  const agent = new MemoryAgent();
  let bsidServer: DnsServer;
  let lookupServer: DnsServer;
  let upstream: DnsServer;
  let forwarder: DnsServer;
  let deadForwarder: DnsServer;
  before(async () => {
    const cfg = config();
    const bsids = new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 120_000, log });
    bsidServer = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(cfg), bsids, log });
    // the same BSIDs, answered to ::1 as if it were a proxy
    const lookupCfg = config((d) => (d['bindingSids'].lookupFrom = ['::1/128']));
    lookupServer = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(lookupCfg), bsids, log });
    upstream = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(validateControllerConfig({ nodes: {}, zones: { 'other.example': { www: 'fc00:77::1', '@': ['2001:db8::1', '2001:db8::2'] } } })), log });
    forwarder = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(config((d) => (d['upstream'] = `[::1]:${upstream.port}`))), log });
    deadForwarder = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(config((d) => (d['upstream'] = '[::1]:9'))), log });
  });
  after(async () => {
    for (const s of [bsidServer, lookupServer, upstream, forwarder, deadForwarder]) await s.close();
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
});
