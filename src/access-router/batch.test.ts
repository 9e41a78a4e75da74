/**
 * The local agent's batching (batch.ts, local.ts): changes that arrive together go to the kernel
 * together — one `ip -6 -force -batch -` and one nft transaction — while each BSID keeps its own
 * outcome and changes to one BSID keep their order.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { isSrError } from '../core/errors.js';
import { parsePrefix } from '../net/ip6.js';
import { fakeRunner } from '../../test/helpers/fake-agent-runner.js';
import { ipBatchFailures, ipBatchScript, queued, runsOf } from './batch.js';
import { LocalAccessRouter, type Runner } from './local.js';
import type { BsidPolicy } from './api.js';

const log = pino({ level: 'silent' });
const policy = (n: number, source = 'fc00:1::2'): BsidPolicy => ({ bsid: `fc00:f::${n.toString(16)}`, source: { prefix: source, length: 128 }, segments: ['fc00:a::1:0:0', 'fc00:c::2:0:0'], expiresAt: Date.now() + 60_000 });

/** the fake runner, with `ip -batch` lines and nft scripts that fail when they mention `failOn` */
function failingRunner(failOn: { ipLine?: string; nft?: string }): { runner: Runner; calls: string[] } {
  const { runner: answer, calls } = fakeRunner();
  const runner: Runner = async (argv, input) => {
    const r = await answer(argv, input);
    if (argv.includes('-batch') && failOn.ipLine && input) {
      const bad = input.split('\n').flatMap((l, i) => (l.includes(failOn.ipLine!) ? [i + 1] : []));
      if (bad.length) return { stdout: '', stderr: bad.map((n) => `RTNETLINK answers: Invalid argument\nCommand failed -:${n}\n`).join(''), code: 1 };
    }
    if (argv.includes('nft') && failOn.nft && input?.includes(failOn.nft)) return { stdout: '', stderr: 'Error: Could not process rule: No such file or directory\n', code: 1 };
    return r;
  };
  return { runner, calls };
}

describe('access-router batching', () => {
  test('runsOf: runs of one kind, split where a BSID repeats, in order', () => {
    const ops = [queued({ kind: 'install' as const, bsid: 'a' }), queued({ kind: 'install' as const, bsid: 'b' }), queued({ kind: 'install' as const, bsid: 'a' }), queued({ kind: 'remove' as const, bsid: 'b' }), queued({ kind: 'remove' as const, bsid: 'c' }), queued({ kind: 'install' as const, bsid: 'c' })];
    assert.deepEqual(runsOf(ops).map((r) => r.map((o) => `${o.kind[0]}${o.bsid}`)), [['ia', 'ib'], ['ia'], ['rb', 'rc'], ['ic']]);
    assert.deepEqual(runsOf([]), []);
  });

  test('the batch script drops `ip` and its options; failures are read by line with their message', () => {
    assert.equal(ipBatchScript([['ip', '-6', 'route', 'del', 'fc00:f::1/128'], ['ip', 'route', 'replace', 'x']]), 'route del fc00:f::1/128\nroute replace x\n');
    // what iproute2 6.1 prints (stderr) for two failed lines of four
    const stderr = 'RTNETLINK answers: No such process\nCommand failed -:2\nCannot find device "nonexist"\nCommand failed -:3\n';
    assert.deepEqual([...ipBatchFailures(stderr)], [[2, 'RTNETLINK answers: No such process'], [3, 'Cannot find device "nonexist"']]);
    assert.equal(ipBatchFailures('').size, 0);
  });

  test('installs that arrive together: one route lookup, one ip batch, one nft transaction; each resolves', async () => {
    const { runner, calls } = fakeRunner();
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), log, runner });
    await Promise.all([1, 2, 3, 4].map((n) => ar.install(policy(n, `fc00:1::${n}`))));
    assert.equal(calls.filter((c) => c.includes('route get')).length, 1, calls.join('\n'));
    const batches = calls.filter((c) => c.startsWith('ip -6 -force -batch -'));
    assert.equal(batches.length, 1, calls.join('\n'));
    assert.equal(batches[0]!.split('\n').filter((l) => l.startsWith('route replace fc00:f::')).length, 4);
    assert.match(batches[0]!, /^route replace fc00:f::3\/128 encap seg6local action End\.B6\.Encaps srh segs fc00:a::1:0:0,fc00:c::2:0:0 dev eth2$/m);
    const nft = calls.filter((c) => c.startsWith('nft -f -'));
    assert.equal(nft.length, 1);
    assert.equal(nft[0]!.split('\n').filter((l) => l.startsWith('add element ip6 srv6pipes_ar allowed')).length, 4);
    assert.deepEqual((await ar.list()).map((p) => p.bsid).sort(), ['fc00:f::1', 'fc00:f::2', 'fc00:f::3', 'fc00:f::4']);
  });

  test('a failed line fails its BSID alone; the others are installed, with their filter entries', async () => {
    const { runner, calls } = failingRunner({ ipLine: 'fc00:f::2/128' });
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), log, runner });
    const results = await Promise.allSettled([1, 2, 3].map((n) => ar.install(policy(n))));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    const err = (results[1] as PromiseRejectedResult).reason as Error;
    assert.ok(isSrError(err, 'COMMAND_FAILED') && /route replace fc00:f::2\/128.*Invalid argument/.test(err.message), err.message);
    assert.deepEqual((await ar.list()).map((p) => p.bsid).sort(), ['fc00:f::1', 'fc00:f::3']);
    const nft = calls.filter((c) => c.startsWith('nft -f -')).join('\n');
    assert.doesNotMatch(nft, /fc00:f::2 /, 'no filter entry for the BSID without a route');
  });

  test('a failed nft transaction is retried entry by entry: only the bad one fails', async () => {
    const { runner, calls } = failingRunner({ nft: 'fc00:f::3' });
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), log, runner });
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => ar.install(policy(n))));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    assert.ok(isSrError((results[2] as PromiseRejectedResult).reason, 'COMMAND_FAILED'));
    assert.equal(calls.filter((c) => c.startsWith('nft -f -')).length, 1 + 4, 'the batch, then one per entry');
    assert.deepEqual((await ar.list()).map((p) => p.bsid).sort(), ['fc00:f::1', 'fc00:f::2', 'fc00:f::4']);
  });

  test('install, remove, install of one BSID queued together: made in that order, the last one stands', async () => {
    const { runner, calls } = fakeRunner();
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), log, runner });
    await ar.install(policy(1));
    calls.length = 0;
    await Promise.all([ar.remove('fc00:f::1'), ar.install({ ...policy(1, 'fc00:1::9'), segments: ['fc00:b::1:0:0'] }), ar.remove('fc00:f::1'), ar.install(policy(1, 'fc00:1::7'))]);
    const changes = calls.filter((c) => /route (replace|del) fc00:f::1\/128|element/.test(c)).map((c) => (c.includes('delete element') ? 'filter-del' : c.includes('add element') ? 'filter-add' : c.includes('route del') ? 'route-del' : 'route-replace'));
    assert.deepEqual(changes, ['filter-del', 'route-del', 'route-replace', 'filter-add', 'filter-del', 'route-del', 'route-replace', 'filter-add']);
    const [p] = await ar.list();
    assert.equal(p?.source.prefix, 'fc00:1::7');
  });

  test('the BSID cap counts the batch: installs beyond it fail with AGENT_FULL, the rest go in', async () => {
    const { runner } = fakeRunner();
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), log, runner, limits: { maxBsids: 2 } });
    const results = await Promise.allSettled([1, 2, 3].map((n) => ar.install(policy(n))));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected']);
    assert.ok(isSrError((results[2] as PromiseRejectedResult).reason, 'AGENT_FULL'));
  });

  test('BSIDs that expire together are removed in one batch; a runner that cannot run fails every change of the run', async () => {
    const { runner, calls } = fakeRunner();
    let t = 1000;
    const ar = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), log, runner, now: () => t });
    await Promise.all([1, 2, 3].map((n) => ar.install({ ...policy(n, `fc00:1::${n}`), expiresAt: 2000 })));
    calls.length = 0;
    t = 2000;
    await ar.sweep();
    assert.equal((await ar.list()).length, 0);
    assert.equal(calls.filter((c) => c.startsWith('nft -f -')).length, 1);
    assert.equal(calls.filter((c) => c.startsWith('ip -6 -force -batch -')).length, 1);

    const broken = new LocalAccessRouter({ name: 'ar', bsidPrefix: parsePrefix('fc00:f::/64'), log, runner: (argv, input) => (argv.includes('-batch') ? Promise.reject(new Error('spawn ip ENOENT')) : fakeRunner().runner(argv, input)) });
    const results = await Promise.allSettled([1, 2].map((n) => broken.install(policy(n))));
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal((await broken.list()).length, 0);
  });
});
