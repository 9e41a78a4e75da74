import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import YAML from 'yaml';
import { resolve } from '../client/resolve.js';
import { readExample } from '../config/examples.js';
import { isSrError } from '../core/errors.js';
import type { AccessRouterAgent } from '../access-router/api.js';
import { validateControllerConfig } from './config.js';
import { startDnsServer, type DnsServer } from './dns/server.js';
import { ControllerMetrics, queryLabels, serveControllerMetrics } from './metrics.js';
import { Resolver } from './resolver.js';

const log = pino({ level: 'silent' });

/** The Fig. 1 config, with the loopback client ::1 attached to p1 and allowed like fc00:1::/64. */
function loopbackConfig(extra: Record<string, unknown> = {}) {
  const doc = YAML.parse(readExample('controller.yaml')) as { links: unknown[]; policies: { clients: unknown }[] };
  doc.links.push({ a: '::1/128', b: 'p1' });
  for (const p of doc.policies) p.clients = ['fc00:1::/64', '::1/128'];
  return validateControllerConfig({ ...doc, ...extra });
}

/** A GET with these headers (fetch would not send a Host of our choosing): the status. */
function get(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('config metrics: off by default; {} listens on [::1]:9153', () => {
  assert.equal(loopbackConfig().metrics, null);
  assert.deepEqual(loopbackConfig({ metrics: {} }).metrics, { address: '::1', port: 9153, hosts: [] });
  assert.throws(() => loopbackConfig({ metrics: { listen: 'x' } }), (e) => isSrError(e, 'CONFIG_INVALID') && /metrics/.test((e as Error).message));
});

test('query labels are bounded: an unusual type is `other`, an unanswered query `dropped`', () => {
  assert.deepEqual(queryLabels({ client: '::1', transport: 'udp', type: 'AAAA', rcode: 'NOERROR' }), { type: 'AAAA', rcode: 'NOERROR', transport: 'udp', forwarded: 'no' });
  assert.deepEqual(queryLabels({ client: '::1', transport: 'tcp', type: 'UNKNOWN_4711', rcode: 'BADCOOKIE', forwarded: true }), { type: 'other', rcode: 'other', transport: 'tcp', forwarded: 'yes' });
  assert.deepEqual(queryLabels({ client: '::1', transport: 'udp' }), { type: 'none', rcode: 'dropped', transport: 'udp', forwarded: 'no' });
});

describe('the controller /metrics (a DNS server and the listener in this process)', () => {
  let dns: DnsServer;
  let http_: http.Server;
  let url: string;
  const metrics = new ControllerMetrics(() => 1_000_000);
  before(async () => {
    dns = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(loopbackConfig()), log, onQuery: (l, since) => metrics.query(l, since) });
    http_ = await serveControllerMetrics({ address: '::1', port: 0, hosts: ['prometheus.example'] }, metrics, log);
    url = `http://[::1]:${(http_.address() as { port: number }).port}`;
  });
  after(async () => {
    await dns.close();
    await new Promise((r) => http_.close(r));
  });

  test('queries by type and rcode, the answer latency, BSIDs by state, installs and their failures, proxy health, build info', async () => {
    const controller = `[::1]:${dns.port}`;
    assert.equal((await resolve({ name: 'plain.lab.example', controller })).rcode, 'NOERROR');
    assert.equal((await resolve({ name: 'nope.lab.example', controller })).rcode, 'NXDOMAIN');
    assert.equal((await resolve({ name: 'denied.lab.example', controller, tcp: true })).rcode, 'REFUSED');
    metrics.sources = {
      bindings: () => [
        { bsid: 'fc00:f::1', router: 'ar1', client: 'fc00:1::10', key: 'a', segments: [], expiresAt: 2_000_000, installedUntil: 3_000_000 },
        { bsid: 'fc00:f::2', router: 'ar1', client: 'fc00:1::11', key: 'b', segments: [], expiresAt: 500_000, installedUntil: 1_500_000 },
        { bsid: 'fc00:f::3', router: 'ar1', client: 'fc00:1::12', key: 'c', segments: [], expiresAt: 500_000, installedUntil: 900_000 },
      ],
      proxies: () => [
        { node: 'p1', up: true },
        { node: 'p2', up: false },
      ],
    };
    let fail = false;
    const agent: AccessRouterAgent = {
      name: 'ar1',
      install: async () => {
        if (fail) throw new Error('agent unreachable');
      },
      remove: async () => undefined,
      list: async () => [],
      counters: async () => ({ unknownBsid: 0, unauthorised: 0, notBsid: 0 }),
    };
    const counted = metrics.agent('ar1', agent);
    const policy = { bsid: 'fc00:f::1', source: { prefix: 'fc00:1::10', length: 128 }, segments: ['fc00:a::1:0:0'], expiresAt: 0 };
    await counted.install(policy);
    fail = true;
    await assert.rejects(counted.install(policy), /agent unreachable/);
    await counted.remove('fc00:f::1');

    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.ok((sample(text, 'srv6pipes_controller_queries_total{type="AAAA",rcode="NOERROR",transport="udp",forwarded="no"}') ?? 0) >= 1, text);
    assert.ok((sample(text, 'srv6pipes_controller_queries_total{type="AAAA",rcode="NXDOMAIN",transport="udp",forwarded="no"}') ?? 0) >= 1);
    assert.ok((sample(text, 'srv6pipes_controller_queries_total{type="AAAA",rcode="REFUSED",transport="tcp",forwarded="no"}') ?? 0) >= 1);
    assert.ok((sample(text, 'srv6pipes_controller_answer_seconds_count{transport="udp"}') ?? 0) >= 2);
    assert.equal(sample(text, 'srv6pipes_controller_answer_seconds_bucket{le="+Inf",transport="tcp"}'), sample(text, 'srv6pipes_controller_answer_seconds_count{transport="tcp"}'));
    assert.equal(sample(text, 'srv6pipes_controller_bsids{router="ar1",state="allocated"}'), 3);
    assert.equal(sample(text, 'srv6pipes_controller_bsids{router="ar1",state="active"}'), 1);
    assert.equal(sample(text, 'srv6pipes_controller_bsids{router="ar1",state="installed"}'), 2);
    assert.equal(sample(text, 'srv6pipes_controller_bsid_installs_total{router="ar1",result="ok"}'), 1);
    assert.equal(sample(text, 'srv6pipes_controller_bsid_installs_total{router="ar1",result="failed"}'), 1);
    assert.equal(sample(text, 'srv6pipes_controller_bsid_removals_total{router="ar1",result="ok"}'), 1);
    assert.equal(sample(text, 'srv6pipes_controller_proxy_up{proxy="p1"}'), 1);
    assert.equal(sample(text, 'srv6pipes_controller_proxy_up{proxy="p2"}'), 0);
    assert.match(text, /^srv6pipes_build_info\{version="[^"]+",node="[^"]+",native="\w+"\} 1$/m);
  });

  test('with a shared store: the leader gauge follows the election, changes are counted, corrupt store values by kind', async () => {
    const corrupt = { binding: 0, health: 0 };
    metrics.sources = { ...metrics.sources, storeCorrupt: () => corrupt };
    const scrape = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
    assert.equal(sample(await scrape(), 'srv6pipes_controller_leader'), 0);
    metrics.leader(true);
    corrupt.binding = 2;
    let text = await scrape();
    assert.equal(sample(text, 'srv6pipes_controller_leader'), 1);
    assert.equal(sample(text, 'srv6pipes_controller_leader_changes_total'), 1);
    assert.equal(sample(text, 'srv6pipes_controller_store_corrupt_total{kind="binding"}'), 2);
    metrics.leader(false);
    corrupt.binding = 3;
    corrupt.health = 1;
    text = await scrape();
    assert.equal(sample(text, 'srv6pipes_controller_leader'), 0);
    assert.equal(sample(text, 'srv6pipes_controller_leader_changes_total'), 2);
    assert.equal(sample(text, 'srv6pipes_controller_store_corrupt_total{kind="binding"}'), 3);
    assert.equal(sample(text, 'srv6pipes_controller_store_corrupt_total{kind="health"}'), 1);
  });

  test('read-only and not for browsers: POST 405, a foreign Host or Origin 403, another path 404; a configured host name is accepted', async () => {
    assert.equal((await fetch(`${url}/metrics`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status, 405);
    assert.equal(await get(`${url}/metrics`, { host: 'evil.example' }), 403);
    assert.equal(await get(`${url}/metrics`, { origin: 'http://evil.example' }), 403);
    assert.equal((await fetch(`${url}/flows`)).status, 404);
    assert.equal(await get(`${url}/metrics`, { host: 'prometheus.example:9153' }), 200);
    assert.deepEqual(await (await fetch(`${url}/health`)).json(), { ok: true });
  });
});
