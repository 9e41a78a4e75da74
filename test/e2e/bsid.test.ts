/**
 * Binding SIDs end to end, in the `access` lab: the access-router agent in `ar`, the controller in
 * `ctl`, proxies p1a and p1b (compress, two replicas) and p2 (decompress), a server. The client only
 * ever sees a BSID; the access router expands it, drops what it should, and a failed replica is
 * replaced behind the same BSID.
 */
// run-tests: relay-independent (the control plane: BSID routes, drops at the access router, failover; the proxies run compress and decompress, which the native relay declines: their bytes go through the JavaScript relay in both passes)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { readExample } from '../../src/config/examples.js';

const ACCESS_CONTROLLER_YAML = readExample('controller-access.yaml');
const accessProxyYaml = (host: 'p1a' | 'p1b' | 'p2'): string => readExample(`proxy-access-${host}.yaml`);
import { arpaName } from '../../src/dns/records.js';
import { formatAddress } from '../../src/net/ip6.js';
import { runClient, startDaemon, startProxy, startServer, withLab, writeConfig, type DaemonHandle, type ProxyHandle } from '../helpers/harness.js';
import { HAS_OPENSSL, makeTestPki, type TestPki } from '../helpers/tls.js';

const CTL = 'fc00:9::2';

interface Setup {
  ar: DaemonHandle;
  ctl: DaemonHandle;
  proxies: Record<'p1a' | 'p1b' | 'p2', ProxyHandle>;
}

/**
 * The agent and the controller share a token (ar.token beside the controller's config, the agent's
 * --token-file); with `pki`, the agent serves HTTPS and requires the controller's client certificate.
 */
async function setUp(lab: Lab, controllerYaml = ACCESS_CONTROLLER_YAML, pki?: TestPki): Promise<Setup> {
  const tls = pki ? `, tls: { ca: "${pki.caCert}", cert: "${pki.clientCert}", key: "${pki.clientKey}" }` : '';
  const yaml = controllerYaml.replace('tokenFile: ar.token }', `tokenFile: ar.token${tls} }`);
  assert.ok(yaml.includes('tokenFile: ar.token'), 'the example names the token file');
  // the controller's /metrics too, on [::1]:9153 in its namespace
  const ctlConfig = writeConfig(`${yaml}\nmetrics: {}\n`);
  const tokenFile = join(dirname(ctlConfig), 'ar.token');
  writeFileSync(tokenFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const tlsArgs = pki ? ['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--tls-client-ca', pki.caCert] : [];
  const ar = await startDaemon(lab, 'ar', ['access-router', '--bsid-prefix', 'fc00:f::/64', '--listen', '[fc00:9::1]:7780', '--client-interface', 'eth0', '--token-file', tokenFile, ...tlsArgs], 'access-router agent started');
  const proxies = {
    p1a: await startProxy(lab, 'p1a', accessProxyYaml('p1a')),
    p1b: await startProxy(lab, 'p1b', accessProxyYaml('p1b')),
    p2: await startProxy(lab, 'p2', accessProxyYaml('p2')),
  };
  const ctl = await startDaemon(lab, 'ctl', ['controller', '--config', ctlConfig], 'controller started');
  return { ar, ctl, proxies };
}

/** What a client of the access router gets from the agent's port: curl's HTTP status (000: no HTTP answer). */
async function curlAgent(lab: Lab, host: string, args: string[]): Promise<string> {
  const r = await lab.exec(host, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', ...args], { timeoutMs: 15000 });
  return r.stdout.trim();
}

async function tearDown(s: Setup): Promise<void> {
  await s.ctl.stop();
  await Promise.all(Object.values(s.proxies).map((p) => p.stop()));
  assert.equal(await s.ar.stop(), 0);
}

async function dig(lab: Lab, host: string, ...args: string[]): Promise<string> {
  const r = await lab.exec(host, ['dig', `@${CTL}`, '+time=2', '+tries=1', ...args], { timeoutMs: 15000 });
  return r.stdout + r.stderr;
}

/** The BSID in a TYPE65280 record of dig's output (RFC 3597 generic format: 35 bytes, BSID last). */
function bsidOf(out: string): string | undefined {
  const m = /\sTYPE65280\s+\\# 35 ([0-9A-Fa-f ]+)/.exec(out);
  if (!m) return undefined;
  const hex = m[1]!.replace(/\s/g, '').slice(38);
  return formatAddress(Buffer.from(hex, 'hex'));
}

async function bsidRoutes(lab: Lab): Promise<string> {
  return (await lab.exec('ar', ['ip', '-6', 'route', 'show'])).stdout.split('\n').filter((l) => l.includes('End.B6.Encaps')).join('\n');
}

async function counters(lab: Lab): Promise<Record<string, number>> {
  const r = await lab.exec('ar', ['nft', '-j', 'list', 'counters', 'table', 'ip6', 'srv6pipes_ar']);
  const out: Record<string, number> = {};
  for (const x of (JSON.parse(r.stdout) as { nftables: { counter?: { name: string; packets: number } }[] }).nftables) if (x.counter) out[x.counter.name] = x.counter.packets;
  return out;
}

/** A series' value in a /metrics text (undefined: absent). */
function sampleOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function metricsOf(lab: Lab, host: string, url: string): Promise<string> {
  const r = await lab.exec(host, ['curl', '-s', '--max-time', '5', url], { timeoutMs: 15000 });
  assert.match(r.stdout, /^# HELP /m, `${host} ${url}: ${r.stdout.slice(0, 200)}`);
  return r.stdout;
}

async function flowsOf(lab: Lab, host: string): Promise<number> {
  const r = await lab.exec(host, ['curl', '-s', 'http://[::1]:7778/stats']);
  return (JSON.parse(r.stdout) as { accepted: number }).accepted;
}

describe('binding SIDs (access lab: client — ar — p1a|p1b — p2 — server)', () => {
  test('a BSID answer, two functions behind it, drops at the access router, failover behind the same BSID', async () => {
    await withLab('access', async (lab) => {
      const s = await setUp(lab);
      const server = await startServer(lab, 'server', ['--port', '8080', '--reply', String(4 << 20), '--data', 'text']);
      try {
        // the client asks; the answer is a BSID, and the route is there when the answer arrives
        const out = await dig(lab, 'client', 'AAAA', 'server.lab.example');
        assert.match(out, /status: NOERROR/);
        assert.match(out, /^server\.lab\.example\.\s+30\s+IN\s+AAAA\s+fc00:2::2$/m);
        assert.doesNotMatch(out, /TYPE65281/, 'no segment list for the client: the path stays hidden');
        const bsid = bsidOf(out);
        assert.ok(bsid?.startsWith('fc00:f:'), `a BSID from fc00:f::/64 in:\n${out}`);
        const routes = await bsidRoutes(lab);
        assert.match(routes, new RegExp(`^${bsid}\\s.*segs 2 \\[ fc00:a::1:0:0 fc00:c::2:0:0 \\]`, 'm'));

        // the client cannot talk to the agent itself: no token, no listing, no install (and nothing installed)
        assert.equal(await curlAgent(lab, 'client', ['http://[fc00:9::1]:7780/bsids']), '401');
        const forged = JSON.stringify({ bsid: 'fc00:f::66', source: { prefix: '::', length: 0 }, segments: ['fc00:c::2:0:0'], ttlMs: 600_000_000 });
        assert.equal(await curlAgent(lab, 'client', ['-X', 'POST', '-H', 'content-type: application/json', '-H', 'authorization: Bearer guess', '--data', forged, 'http://[fc00:9::1]:7780/bsids/install']), '401');
        assert.doesNotMatch(await bsidRoutes(lab), /fc00:f::66/);

        // the same client asking again keeps its BSID
        assert.equal(bsidOf(await dig(lab, 'client', 'AAAA', 'server.lab.example')), bsid);

        // only proxies may ask what the BSID stands for
        assert.match(await dig(lab, 'client', 'TYPE65281', arpaName(bsid!)), /status: REFUSED/);
        const lookup = await dig(lab, 'p1a', 'TYPE65281', arpaName(bsid!));
        assert.match(lookup, /status: NOERROR/);
        const rdata = /IN\s+TYPE65281\s+\\# 33 ([0-9A-Fa-f ]+)/.exec(lookup)?.[1]?.replace(/\s/g, '').toLowerCase();
        assert.equal(rdata, '02' + 'fc00000a000000000000000100000000' + 'fc00000c000000000000000200000000', lookup);

        // end to end through the BSID: 1 MiB up, 4 MiB down, both intact; compress on p1a, decompress on p2
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', bsid!, '--send', String(1 << 20), '--data', 'text']);
        assert.equal(r.error, undefined, JSON.stringify(r));
        assert.equal(r.received, 4 << 20);
        const got = await server.out.next((l) => l['event'] === 'conn', 10000, 'server side of the flow');
        assert.equal(got['received'], 1 << 20);
        assert.equal(got['sha256Received'], r.sha256Sent);
        assert.equal(r.sha256Received, got['sha256Sent']);
        assert.equal(got['remote'], 'fc00:1::2', 'the server sees the client’s own address');
        assert.equal(await flowsOf(lab, 'p1a'), 1);
        assert.equal(await flowsOf(lab, 'p2'), 1);
        assert.equal(await flowsOf(lab, 'p1b'), 0);

        // dropped at the access router: an unknown BSID, an SRH that bypasses the BSID, an unauthorised source
        const before = await counters(lab);
        const unknown = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', 'fc00:f::1234', '--send', '10', '--timeout', '1500']);
        assert.ok(unknown.error, 'an unknown BSID goes nowhere');
        const bypass = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', 'fc00:a::1:0:0,fc00:c::2:0:0', '--send', '10', '--timeout', '1500']);
        assert.ok(bypass.error, 'a client cannot put proxy SIDs in its own SRH');
        // a second client address, deprecated so that it is used only when asked for
        await lab.exec('client', ['ip', '-6', 'addr', 'add', 'fc00:1::99/64', 'dev', 'eth0', 'nodad', 'preferred_lft', '0']);
        const other = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', bsid!, '--local', 'fc00:1::99', '--send', '10', '--timeout', '1500']);
        assert.ok(other.error, 'the BSID is installed for fc00:1::2 only');
        const after = await counters(lab);
        assert.ok(after['unknown_bsid']! > before['unknown_bsid']!, JSON.stringify({ before, after }));
        assert.ok(after['not_bsid']! > before['not_bsid']!, JSON.stringify({ before, after }));
        assert.ok(after['unauthorised']! > before['unauthorised']!, JSON.stringify({ before, after }));

        // what the three programs measured (issue 15 item 7): the proxy's BSID lookups, the controller's
        // queries, BSIDs and installs, the agent's installs, refusals and the filter's drops (no token for /metrics)
        const p1a = await metricsOf(lab, 'p1a', 'http://[::1]:7778/metrics');
        assert.ok((sampleOf(p1a, 'srv6pipes_bsid_lookup_seconds_count{result="ok"}') ?? 0) >= 1, 'the flow through the BSID was looked up');
        assert.equal(sampleOf(p1a, 'srv6pipes_flows_accepted_total{fn="1",function="compress"}'), 1);
        const ctl = await metricsOf(lab, 'ctl', 'http://[::1]:9153/metrics');
        assert.ok((sampleOf(ctl, 'srv6pipes_controller_queries_total{type="AAAA",rcode="NOERROR",transport="udp",forwarded="no"}') ?? 0) >= 2, ctl);
        assert.ok((sampleOf(ctl, 'srv6pipes_controller_queries_total{type="UNKNOWN_65281",rcode="REFUSED",transport="udp",forwarded="no"}') ?? 0) >= 1);
        assert.ok((sampleOf(ctl, 'srv6pipes_controller_queries_total{type="UNKNOWN_65281",rcode="NOERROR",transport="tcp",forwarded="no"}') ?? 0) >= 1, 'the proxy asked over TCP');
        assert.ok((sampleOf(ctl, 'srv6pipes_controller_answer_seconds_count{transport="udp"}') ?? 0) >= 3);
        assert.match(ctl, /^srv6pipes_controller_bsids\{router="[^"]+",state="installed"\} 1$/m);
        assert.match(ctl, /^srv6pipes_controller_bsid_installs_total\{router="[^"]+",result="ok"\} [1-9]/m);
        for (const p of ['p1a', 'p1b', 'p2']) assert.equal(sampleOf(ctl, `srv6pipes_controller_proxy_up{proxy="${p}"}`), 1, p);
        const agent = await metricsOf(lab, 'ar', 'http://[fc00:9::1]:7780/metrics');
        assert.ok((sampleOf(agent, 'srv6pipes_agent_installs_total{result="ok"}') ?? 0) >= 1, agent);
        assert.equal(sampleOf(agent, 'srv6pipes_agent_bsids_installed'), 1);
        assert.ok((sampleOf(agent, 'srv6pipes_agent_refused_total{code="AGENT_UNAUTHORISED"}') ?? 0) >= 2, 'the client’s tries');
        assert.ok((sampleOf(agent, 'srv6pipes_agent_dropped_packets_total{reason="unknown_bsid"}') ?? 0) >= after['unknown_bsid']!);

        // p1a fails (process and links gone): the controller notices and re-points the BSID to p1b
        s.proxies.p1a.child.kill('SIGKILL');
        await lab.exec('p1a', ['ip', 'link', 'del', 'eth0']);
        await lab.exec('p1a', ['ip', 'link', 'del', 'eth1']);
        await s.ctl.out.next((l) => l['msg'] === 'BSID re-pointed' && l['bsid'] === bsid, 15000, 'the BSID re-pointed');
        assert.match(await bsidRoutes(lab), new RegExp(`^${bsid}\\s.*segs 2 \\[ fc00:b::1:0:0 fc00:c::2:0:0 \\]`, 'm'));
        const again = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', bsid!, '--send', String(1 << 20), '--data', 'text']);
        assert.equal(again.error, undefined, JSON.stringify(again));
        assert.equal(again.received, 4 << 20);
        assert.equal(await flowsOf(lab, 'p1b'), 1, 'the new connection went through the other replica');
        assert.equal(bsidOf(await dig(lab, 'client', 'AAAA', 'server.lab.example')), bsid, 'the client keeps its BSID');

        // no replica left → REFUSED, with the reason logged
        s.proxies.p1b.child.kill('SIGKILL');
        await s.ctl.out.next((l) => l['msg'] === 'proxy down' && l['node'] === 'p1b', 15000, 'p1b down');
        assert.match(await dig(lab, 'client', 'AAAA', 'server.lab.example'), /status: REFUSED/);
        const refused = await s.ctl.out.next((l) => l['rcode'] === 'REFUSED' && l['name'] === 'server.lab.example', 5000, 'the refusal');
        assert.match(String(refused['reason']), /no live replica of function "compress"/);
        await s.ctl.out.next((l) => l['msg'] === 'BSID removed' && l['bsid'] === bsid, 5000, 'the BSID removed');
        assert.equal(await bsidRoutes(lab), '', 'a BSID with no path left is removed');
      } finally {
        server.stop();
        await tearDown(s);
      }
      const left = await lab.exec('ar', ['nft', 'list', 'tables']);
      assert.doesNotMatch(left.stdout, /srv6pipes_ar/, 'the agent removed its table');
    });
  });

  test('a BSID route expires; a restarted controller keeps answering', async () => {
    await withLab('access', async (lab) => {
      const s = await setUp(lab, ACCESS_CONTROLLER_YAML.replace('lifetime: 120s', 'lifetime: 3s'));
      try {
        const bsid = bsidOf(await dig(lab, 'client', 'AAAA', 'server.lab.example'));
        assert.ok(bsid);
        assert.match(await bsidRoutes(lab), new RegExp(`^${bsid}\\s`, 'm'));
        await s.ctl.out.next((l) => l['msg'] === 'BSID removed' && l['bsid'] === bsid, 10000, 'expiry');
        assert.equal(await bsidRoutes(lab), '', 'gone after expiry');
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', bsid, '--send', '10', '--timeout', '1500']);
        assert.ok(r.error, 'an expired BSID goes nowhere');
      } finally {
        await tearDown(s);
      }
    });
  });

  test('a remote agent over mutual TLS with a token: the controller installs through it, others cannot even connect', { skip: HAS_OPENSSL ? false : 'openssl is not installed: it makes the test certificates' }, async () => {
    const pki = makeTestPki(['fc00:9::1']);
    await withLab('access', async (lab) => {
      const s = await setUp(lab, ACCESS_CONTROLLER_YAML, pki);
      try {
        const bsid = bsidOf(await dig(lab, 'client', 'AAAA', 'server.lab.example'));
        assert.ok(bsid?.startsWith('fc00:f:'), 'a BSID, installed over HTTPS');
        assert.match(await bsidRoutes(lab), new RegExp(`^${bsid}\\s.*segs 2 \\[ fc00:a::1:0:0 fc00:c::2:0:0 \\]`, 'm'));
        // a client of the router, even trusting the CA and holding no certificate: no TLS session, no HTTP answer
        assert.equal(await curlAgent(lab, 'client', ['--cacert', pki.caCert, 'https://[fc00:9::1]:7780/health']), '000');
        assert.equal(await curlAgent(lab, 'client', ['http://[fc00:9::1]:7780/health']), '000', 'no plain HTTP on the agent port');
        // with the client certificate but without the token: 401
        assert.equal(await curlAgent(lab, 'client', ['--cacert', pki.caCert, '--cert', pki.clientCert, '--key', pki.clientKey, 'https://[fc00:9::1]:7780/health']), '401');
      } finally {
        await tearDown(s);
      }
    });
  });
});
