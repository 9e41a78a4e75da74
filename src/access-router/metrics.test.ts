import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { pino } from 'pino';
import { fakeRunner } from '../../test/helpers/fake-agent-runner.js';
import { isSrError } from '../core/errors.js';
import { parsePrefix } from '../net/ip6.js';
import type { BsidPolicy } from './api.js';
import { HttpAccessRouter, serveAgent } from './http.js';
import { LocalAccessRouter } from './local.js';

const log = pino({ level: 'silent' });
const policy = (i: number, length = 128): BsidPolicy => ({ bsid: `fc00:f::${i}`, source: { prefix: 'fc00:1::2', length }, segments: ['fc00:a::1:0:0'], expiresAt: Date.now() + 60_000 });

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '::1', port, path, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
    }).on('error', reject);
  });
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('the agent’s GET /metrics: Prometheus text without the token (as the proxy admin’s), installs and refusals counted, the filter’s drops, the limits', async () => {
  const agent = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), log, runner: fakeRunner().runner, limits: { maxBsids: 50 } });
  const server = await serveAgent(agent, { address: '::1', port: 0, token: 'sekrit', log });
  try {
    const remote = new HttpAccessRouter('ar', { endpoint: `[::1]:${server.port}`, token: 'sekrit' });
    await remote.install(policy(1));
    await remote.install(policy(2));
    await remote.remove('fc00:f::2');
    // a /64 source: refused by the agent's limits
    await assert.rejects(remote.install(policy(3, 64)), (e: unknown) => isSrError(e, 'BSID_POLICY_REFUSED'));
    assert.equal((await get(server.port, '/bsids')).status, 401, 'the other reads still need the token');
    const m = await get(server.port, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain; version=0\.0\.4/);
    assert.equal(sample(m.text, 'srv6pipes_agent_installs_total{result="ok"}'), 2);
    assert.equal(sample(m.text, 'srv6pipes_agent_installs_total{result="failed"}'), 1);
    assert.equal(sample(m.text, 'srv6pipes_agent_removals_total{result="ok"}'), 1);
    assert.equal(sample(m.text, 'srv6pipes_agent_bsids_installed'), 1);
    assert.equal(sample(m.text, 'srv6pipes_agent_requests_in_flight'), 0);
    assert.equal(sample(m.text, 'srv6pipes_agent_limit{limit="bsids"}'), 50);
    assert.equal(sample(m.text, 'srv6pipes_agent_refused_total{code="AGENT_UNAUTHORISED"}'), 1);
    assert.equal(sample(m.text, 'srv6pipes_agent_dropped_packets_total{reason="unknown_bsid"}'), 3);
    assert.equal(sample(m.text, 'srv6pipes_agent_dropped_packets_total{reason="not_bsid"}'), 1);
    assert.equal(sample(m.text, 'srv6pipes_agent_dropped_packets_total{reason="unauthorised"}'), 0);
    assert.match(m.text, /^srv6pipes_build_info\{version="[^"]+",node="[^"]+",native="\w+"\} 1$/m);
    // open, but not to a browser page
    assert.equal((await get(server.port, '/metrics', { origin: 'http://evil.example' })).status, 401);
  } finally {
    await server.close();
  }
  // an agent without a credential (loopback only): a foreign Host is refused on /metrics too (DNS rebinding)
  const bare = await serveAgent(agent, { address: '::1', port: 0, log });
  try {
    assert.equal((await get(bare.port, '/metrics', { host: 'evil.example' })).status, 401);
    assert.equal((await get(bare.port, '/metrics')).status, 200);
  } finally {
    await bare.close();
  }
});

test('an agent following the etcd store: its reconciler’s installs, removals, failures, corrupt values, holds, etcd connection and last full sync', async () => {
  const agent = new LocalAccessRouter({ name: 'ar2', bsidPrefix: parsePrefix('fc00:e::/64'), log, runner: fakeRunner().runner });
  const stats = { installs: 4, removes: 2, failed: 1, corrupt: 3, held: 5, connected: true, lastFullSync: 1_800_000_000_500 };
  const server = await serveAgent(agent, { address: '::1', port: 0, log, reconcile: () => stats });
  const plain = await serveAgent(agent, { address: '::1', port: 0, log });
  try {
    let m = (await get(server.port, '/metrics')).text;
    assert.deepEqual(
      ['installs_total', 'removals_total', 'failed_total', 'corrupt_total', 'held_total'].map((s) => sample(m, `srv6pipes_agent_reconcile_${s}`)),
      [4, 2, 1, 3, 5],
    );
    assert.equal(sample(m, 'srv6pipes_agent_etcd_connected'), 1);
    assert.equal(sample(m, 'srv6pipes_agent_reconcile_last_sync_timestamp_seconds'), 1_800_000_000.5);
    stats.connected = false;
    stats.installs = 6;
    m = (await get(server.port, '/metrics')).text;
    assert.deepEqual([sample(m, 'srv6pipes_agent_etcd_connected'), sample(m, 'srv6pipes_agent_reconcile_installs_total')], [0, 6]);
    assert.doesNotMatch((await get(plain.port, '/metrics')).text, /reconcile|etcd_connected/, 'no store: no reconciler series');
  } finally {
    await server.close();
    await plain.close();
  }
});
