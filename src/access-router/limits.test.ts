import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { fakeRunner, heldRunner } from '../../test/helpers/fake-agent-runner.js';
import { isSrError, type ErrorCode } from '../core/errors.js';
import { parsePrefix } from '../net/ip6.js';
import type { BsidPolicy } from './api.js';
import { agentLimits, checkPolicy, DEFAULT_AGENT_LIMITS, Gate } from './limits.js';
import { LocalAccessRouter } from './local.js';

const log = pino({ level: 'silent' });
const bsidPrefix = parsePrefix('fc00:f::/64');
const NOW = 1_000_000;
const ok: BsidPolicy = { bsid: 'fc00:f::7', source: { prefix: 'fc00:1::2', length: 128 }, segments: ['fc00:a::1:0:0', 'fc00:c::2:0:0'], expiresAt: NOW + 300_000 };
const check = (p: Partial<BsidPolicy>, limits = DEFAULT_AGENT_LIMITS): BsidPolicy => checkPolicy({ ...ok, ...p }, { bsidPrefix, limits, now: NOW });
const refused = (code: ErrorCode, re: RegExp) => (e: unknown) => isSrError(e, code) && re.test(e.message);

describe('access-router agent: what an install may ask for', () => {
  test('a /128 source is accepted and made canonical; a /64 (or ::/0) is refused by default, allowed with --min-source-length 64', () => {
    assert.deepEqual(check({ bsid: 'FC00:F:0::7', segments: ['fc00:a:0::1:0:0'] }), { ...ok, segments: ['fc00:a::1:0:0'] });
    assert.throws(() => check({ source: { prefix: 'fc00:1::', length: 64 } }), refused('BSID_POLICY_REFUSED', /\/64 is wider than \/128/));
    assert.throws(() => check({ source: { prefix: '::', length: 0 } }), refused('BSID_POLICY_REFUSED', /\/0 is wider/));
    const wide = agentLimits({ minSourceLength: 64 });
    assert.equal(check({ source: { prefix: 'fc00:1::', length: 64 } }, wide).source.length, 64);
    assert.throws(() => check({ source: { prefix: 'fc00:1::2', length: 64 } }, wide), refused('BSID_POLICY_REFUSED', /host bits/));
    assert.throws(() => agentLimits({ minSourceLength: 0 }), refused('BAD_ARGUMENT', /--min-source-length/));
  });

  test('the lifetime is bounded by --max-lifetime (default 1 h, at most 7 days)', () => {
    assert.equal(DEFAULT_AGENT_LIMITS.maxLifetimeMs, 3600_000);
    assert.equal(check({ expiresAt: NOW + 3600_000 }).expiresAt, NOW + 3600_000);
    assert.throws(() => check({ expiresAt: NOW + 3600_001 }), refused('BSID_POLICY_REFUSED', /longer than 3600 s \(--max-lifetime\)/));
    assert.throws(() => check({ expiresAt: NOW + 7 * 86400_000 }), refused('BSID_POLICY_REFUSED', /--max-lifetime/));
    assert.throws(() => check({ expiresAt: Number.POSITIVE_INFINITY }), refused('BSID_POLICY_REFUSED', /--max-lifetime/));
    assert.equal(check({ expiresAt: NOW + 86400_000 }, agentLimits({ maxLifetime: 86400 })).expiresAt, NOW + 86400_000);
    assert.throws(() => agentLimits({ maxLifetime: 7 * 86400 + 1 }), refused('BAD_ARGUMENT', /--max-lifetime/));
  });

  test('the BSID must be inside --bsid-prefix (not its own address); segments: at most --max-segments, unicast, outside the BSID prefix', () => {
    assert.throws(() => check({ bsid: 'fc00:e::7' }), refused('BSID_POLICY_REFUSED', /outside fc00:f::\/64/));
    assert.throws(() => check({ bsid: 'fc00:f::' }), refused('BSID_POLICY_REFUSED', /own address/));
    assert.throws(() => check({ bsid: 'not-an-address' }), refused('BSID_POLICY_REFUSED', /not an IPv6 address/));
    assert.throws(() => check({ segments: [] }), refused('BSID_POLICY_REFUSED', /no segments/));
    assert.equal(check({ segments: Array.from({ length: 16 }, (_, i) => `fc00:a::${i + 1}`) }).segments.length, 16);
    assert.throws(() => check({ segments: Array.from({ length: 17 }, (_, i) => `fc00:a::${i + 1}`) }), refused('BSID_POLICY_REFUSED', /17 segments, at most 16/));
    for (const bad of ['ff02::1', '::1', '::', 'fe80::1', '::ffff:10.0.0.1']) {
      assert.throws(() => check({ segments: ['fc00:a::1:0:0', bad] }), refused('BSID_POLICY_REFUSED', /not a unicast address/), bad);
    }
    assert.throws(() => check({ segments: ['fc00:f::8'] }), refused('BSID_POLICY_REFUSED', /inside the BSID prefix/));
    assert.throws(() => check({ segments: ['fc00:a::1', 'x'] }), refused('BSID_POLICY_REFUSED', /segment 1 "x"/));
    assert.throws(() => check({ source: { prefix: 'ff02::1', length: 128 } }), refused('BSID_POLICY_REFUSED', /source .* not a unicast/));
  });

  test('the gate runs one task at a time and refuses past its bound with AGENT_BUSY; internal tasks always pass', async () => {
    const gate = new Gate(2);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const order: number[] = [];
    const a = gate.run(async () => {
      await held;
      order.push(1);
    });
    const b = gate.run(() => Promise.resolve(order.push(2)));
    assert.equal(gate.inFlight, 2);
    await assert.rejects(gate.run(() => Promise.resolve(3)), refused('AGENT_BUSY', /2 requests in flight \(--max-in-flight 2\)/));
    const c = gate.run(() => Promise.resolve(order.push(4)), true);
    release();
    await Promise.all([a, b, c]);
    assert.deepEqual(order, [1, 2, 4]);
    assert.equal(gate.inFlight, 0);
    await gate.run(() => Promise.reject(new Error('x'))).catch(() => undefined);
    assert.equal(gate.inFlight, 0, 'a failed task frees its place');
  });

  test('local agent: installs in flight are capped (--max-in-flight), and at most one process runs at a time', async () => {
    const h = heldRunner();
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix, log, runner: h.runner, limits: { maxInFlight: 3 } });
    const at = (i: number): BsidPolicy => ({ ...ok, bsid: `fc00:f::${i}`, expiresAt: Date.now() + 60_000 });
    const accepted = [1, 2, 3].map((i) => ar.install(at(i)));
    await assert.rejects(ar.install(at(4)), refused('AGENT_BUSY', /--max-in-flight 3/));
    await assert.rejects(ar.counters(), refused('AGENT_BUSY', /in flight/), 'counter reads spawn nft too: capped by the same gate');
    assert.equal(h.started(), 1, 'one command at a time');
    assert.deepEqual(ar.stats(), { installed: 0, inFlight: 3 });
    h.release();
    await Promise.all(accepted);
    assert.deepEqual(ar.stats(), { installed: 3, inFlight: 0 });
    await ar.install(at(4));
  });

  test('local agent: BSIDs in total are capped (--max-bsids) with AGENT_FULL; replacing an installed one still works', async () => {
    const { runner } = fakeRunner();
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix, log, runner, limits: { maxBsids: 2 } });
    const at = (i: number, seg = 'fc00:a::1:0:0'): BsidPolicy => ({ ...ok, bsid: `fc00:f::${i}`, segments: [seg], expiresAt: Date.now() + 60_000 });
    await ar.install(at(1));
    await ar.install(at(2));
    await assert.rejects(ar.install(at(3)), refused('AGENT_FULL', /2 BSIDs installed \(--max-bsids 2\)/));
    await ar.install(at(2, 'fc00:b::1:0:0'));
    assert.deepEqual((await ar.list()).map((p) => p.segments[0]), ['fc00:a::1:0:0', 'fc00:b::1:0:0']);
    await ar.remove('fc00:f::1');
    await ar.install(at(3));
    assert.equal(ar.stats().installed, 2);
  });

});
