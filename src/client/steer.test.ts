/**
 * steer: the pure route building, and the session logic against a fake `ip` (an in-memory route
 * table) — no `ip` ever runs on the host here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSrError } from '../core/errors.js';
import type { ResolveResult } from './resolve.js';
import {
  describeShown,
  installArgv,
  isOurs,
  parseRouteGet,
  planSteering,
  removeArgv,
  restoreArgv,
  runSteer,
  steerTargets,
  type RunningCommand,
  type SteerDeps,
  type ShownRoute,
} from './steer.js';

const SERVER = 'fc00:2::2';
const P1 = 'fc00:a::2:0:5a';
const P2 = 'fc00:b::2:0:5a';
const HOP = { dev: 'eth0', gateway: 'fc00:1::1' };

function answer(over: Partial<ResolveResult> = {}): ResolveResult {
  return { name: 'server.lab.example', rcode: 'NOERROR', addresses: [SERVER], paths: [{ destination: SERVER, segments: [P1, P2, SERVER] }], transport: 'udp', ttl: 30, ...over };
}

describe('steer: routes from an answer (pure)', () => {
  test('inline segments: the path in travel order, without the destination (the kernel puts it in segments[0])', () => {
    assert.deepEqual(steerTargets(answer()), [{ destination: SERVER, segs: [P1, P2] }]);
    const plan = planSteering(answer(), () => HOP);
    assert.deepEqual(installArgv(plan.routes[0]!), ['ip', '-6', 'route', 'replace', 'fc00:2::2/128', 'encap', 'seg6', 'mode', 'inline', 'segs', 'fc00:a::2:0:5a,fc00:b::2:0:5a', 'dev', 'eth0', 'via', 'fc00:1::1']);
    assert.deepEqual(removeArgv(plan.routes[0]!), ['ip', '-6', 'route', 'del', 'fc00:2::2/128', 'dev', 'eth0']);
    assert.equal(plan.ttl, 30);
  });

  test('a binding SID: the inline list is just [bsid]', () => {
    const r = answer({ paths: [{ destination: SERVER, segments: ['fc00:f::1', SERVER], bsid: 'fc00:f::1' }] });
    assert.deepEqual(steerTargets(r), [{ destination: SERVER, segs: ['fc00:f::1'], bsid: 'fc00:f::1' }]);
    const route = planSteering(r, (seg) => (assert.equal(seg, 'fc00:f::1'), HOP)).routes[0]!;
    assert.equal(installArgv(route).join(' '), 'ip -6 route replace fc00:2::2/128 encap seg6 mode inline segs fc00:f::1 dev eth0 via fc00:1::1');
  });

  test('no path (no function applies): nothing to install, the address is listed as plain', () => {
    const plan = planSteering(answer({ paths: [] }), () => assert.fail('no route lookup without a path'));
    assert.deepEqual(plan.routes, []);
    assert.deepEqual(plan.plain, [SERVER]);
  });

  test('several addresses: one route per address with a path; addresses are compared canonically', () => {
    const r = answer({ addresses: ['fc00:2::2', 'fc00:2::3'], paths: [{ destination: 'FC00:2:0::3', segments: [P1, 'fc00:2::3'] }] });
    const plan = planSteering(r, () => ({ dev: 'eth1' }));
    assert.deepEqual(plan.routes, [{ destination: 'fc00:2::3', segs: [P1], dev: 'eth1' }]);
    assert.deepEqual(plan.plain, ['fc00:2::2']);
    assert.equal(installArgv(plan.routes[0]!).slice(-2).join(' '), 'dev eth1', 'on-link: no via');
  });

  test('a refusal or an answer without an address is STEER_RESOLVE_FAILED', () => {
    assert.throws(() => steerTargets(answer({ rcode: 'REFUSED' })), (e) => isSrError(e, 'STEER_RESOLVE_FAILED') && /REFUSED/.test(e.message) && /policy/.test(e.hint));
    assert.throws(() => steerTargets(answer({ rcode: 'NXDOMAIN' })), (e) => isSrError(e, 'STEER_RESOLVE_FAILED'));
    assert.throws(() => steerTargets(answer({ addresses: [], paths: [] })), (e) => isSrError(e, 'STEER_RESOLVE_FAILED') && /no IPv6 address/.test(e.message));
  });

  test('route get: device and gateway; unreachable types are STEER_NO_ROUTE', () => {
    assert.deepEqual(parseRouteGet('[{"dst":"fc00:a::2:0:5a","from":"::","gateway":"fc00:1::1","dev":"eth0","prefsrc":"fc00:1::2","metric":1024,"flags":[],"pref":"medium"}]', P1), HOP);
    assert.deepEqual(parseRouteGet('[{"dst":"fc00:1::5","dev":"eth0","protocol":"kernel"}]', 'fc00:1::5'), { dev: 'eth0' });
    assert.throws(() => parseRouteGet('[{"type":"unreachable","dst":"fc00:77::1","dev":"lo"}]', 'fc00:77::1'), (e) => isSrError(e, 'STEER_NO_ROUTE'));
    assert.throws(() => parseRouteGet('[]', P1), (e) => isSrError(e, 'STEER_NO_ROUTE'));
    assert.throws(() => parseRouteGet('RTNETLINK', P1), (e) => isSrError(e, 'COMMAND_FAILED'));
  });

  test('isOurs reads iproute2’s JSON (inline segs end with the `::` slot); restoreArgv rebuilds what it can', () => {
    const plan = planSteering(answer(), () => HOP);
    const shown: ShownRoute = { dst: SERVER, encap: 'seg6', mode: 'inline', segs: [P1, P2, '::'], gateway: 'fc00:1::1', dev: 'eth0', metric: 1024 };
    assert.equal(isOurs(shown, plan.routes[0]!), true);
    assert.equal(isOurs({ ...shown, segs: [P2, P1, '::'] }, plan.routes[0]!), false);
    assert.equal(isOurs({ dst: SERVER, gateway: 'fc00:1::1', dev: 'eth0' }, plan.routes[0]!), false);
    assert.equal(restoreArgv({ dst: SERVER, gateway: 'fc00:1::1', dev: 'eth0', metric: 1024 }, SERVER)!.join(' '), 'ip -6 route replace fc00:2::2/128 dev eth0 via fc00:1::1 metric 1024');
    assert.equal(restoreArgv(shown, SERVER)!.join(' '), `ip -6 route replace fc00:2::2/128 encap seg6 mode inline segs ${P1},${P2} dev eth0 via fc00:1::1 metric 1024`);
    assert.equal(restoreArgv({ dst: SERVER, type: 'blackhole', dev: 'lo' }, SERVER), null);
    assert.equal(restoreArgv({ dst: SERVER, encap: 'mpls', dev: 'eth0' }, SERVER), null);
    assert.equal(describeShown(shown), `encap seg6 inline ${P1},${P2} via fc00:1::1 dev eth0`);
  });
});

/** A fake `ip`: an in-memory table of /128 routes, the commands it ran, canned route-get answers. */
function fakeIp(initial: Record<string, ShownRoute> = {}, unreachable: string[] = []) {
  const table = new Map(Object.entries(initial));
  const ran: string[] = [];
  const run = async (argv: string[]) => {
    ran.push(argv.join(' '));
    const ok = (stdout = '') => ({ stdout, stderr: '', code: 0 });
    const a = argv.slice(argv[1] === '-6' && argv[2] === '-j' ? 3 : 2);
    if (a[0] === 'route' && a[1] === 'get') {
      if (unreachable.includes(a[2]!)) return { stdout: '', stderr: 'RTNETLINK answers: No route to host\n', code: 2 };
      return ok(JSON.stringify([{ dst: a[2], gateway: 'fc00:1::1', dev: 'eth0' }]));
    }
    if (a[0] === 'route' && a[1] === 'show') return ok(JSON.stringify(table.has(a[3]!) ? [table.get(a[3]!)] : []));
    const dst = a[2]!;
    if (a[0] === 'route' && a[1] === 'replace') {
      const i = a.indexOf('segs');
      const via = a.indexOf('via');
      const mode = a.indexOf('mode');
      table.set(dst, { dst: dst.replace(/\/128$/, ''), dev: a[a.indexOf('dev') + 1]!, ...(via > 0 ? { gateway: a[via + 1]! } : {}), ...(i > 0 ? { encap: 'seg6', mode: a[mode + 1]!, segs: [...a[i + 1]!.split(','), ...(a[mode + 1] === 'inline' ? ['::'] : [])] } : {}) });
      return ok();
    }
    if (a[0] === 'route' && a[1] === 'del') {
      if (!table.delete(dst)) return { stdout: '', stderr: 'RTNETLINK answers: No such process\n', code: 2 };
      return ok();
    }
    throw new Error(`unexpected ip ${argv.join(' ')}`);
  };
  return { table, ran, run, mutations: () => ran.filter((l) => / route (replace|del) /.test(l)) };
}

function harness(o: { answers?: (ResolveResult | Error)[]; ip?: ReturnType<typeof fakeIp>; exitCode?: number; onSpawn?: (argv: string[]) => void } = {}) {
  const ip = o.ip ?? fakeIp();
  const out: string[] = [];
  const warnings: string[] = [];
  const spawned: string[][] = [];
  const killed: string[] = [];
  let handler: ((s: NodeJS.Signals) => void) | undefined;
  let asked = 0;
  const answers = o.answers ?? [answer()];
  const deps: SteerDeps = {
    run: ip.run,
    resolve: async () => {
      const a = answers[Math.min(asked++, answers.length - 1)]!;
      if (a instanceof Error) throw a;
      return a;
    },
    spawnCommand(argv): RunningCommand {
      spawned.push(argv);
      o.onSpawn?.(argv);
      return { exited: Promise.resolve(o.exitCode ?? 0), kill: (s) => void killed.push(s) };
    },
    print: (l) => void out.push(l),
    warn: (l) => void warnings.push(l),
    onSignal: (h) => {
      handler = h;
      return () => (handler = undefined);
    },
    minRefreshMs: 5,
    forwardSigint: true,
  };
  return { ip, out, warnings, spawned, killed, deps, signal: (s: NodeJS.Signals) => handler?.(s), asked: () => asked, subscribed: () => handler !== undefined };
}

describe('steer: a session against a fake ip', () => {
  test('with a command: install, run, remove; the exit code is the command’s', async () => {
    const h = harness({ exitCode: 7, onSpawn: () => assert.ok(h.ip.table.has('fc00:2::2/128'), 'the route is in place while the command runs') });
    const code = await runSteer({ name: 'server.lab.example', functions: ['xor'], command: ['curl', '-s', 'http://[fc00:2::2]/'] }, h.deps);
    assert.equal(code, 7);
    assert.deepEqual(h.spawned, [['curl', '-s', 'http://[fc00:2::2]/']]);
    assert.deepEqual(h.ip.mutations(), [
      `ip -6 route replace fc00:2::2/128 encap seg6 mode inline segs ${P1},${P2} dev eth0 via fc00:1::1`,
      'ip -6 route del fc00:2::2/128 dev eth0',
    ]);
    assert.equal(h.ip.table.size, 0);
    assert.match(h.out[0]!, /server\.lab\.example → fc00:2::2 through fc00:a::2:0:5a → fc00:b::2:0:5a \(dev eth0 via fc00:1::1\)/);
    assert.equal(h.subscribed(), false, 'signal handlers are removed');
  });

  test('no path: says so, installs nothing, still runs the command', async () => {
    const h = harness({ answers: [answer({ paths: [] })] });
    assert.equal(await runSteer({ name: 'plain.lab.example', command: ['true'] }, h.deps), 0);
    assert.deepEqual(h.ip.mutations(), []);
    assert.equal(h.spawned.length, 1);
    assert.match(h.out.join('\n'), /no function applies, not steered/);
  });

  test('an existing route: STEER_ROUTE_EXISTS, nothing changed, the command not run', async () => {
    const ip = fakeIp({ 'fc00:2::2/128': { dst: SERVER, gateway: 'fc00:1::1', dev: 'eth0', metric: 1024 } });
    const h = harness({ ip });
    await assert.rejects(runSteer({ name: 'server.lab.example', command: ['true'] }, h.deps), (e) => isSrError(e, 'STEER_ROUTE_EXISTS') && /via fc00:1::1 dev eth0/.test(e.message) && /--replace/.test(e.hint));
    assert.deepEqual(ip.mutations(), []);
    assert.deepEqual(h.spawned, []);
    assert.deepEqual(ip.table.get('fc00:2::2/128'), { dst: SERVER, gateway: 'fc00:1::1', dev: 'eth0', metric: 1024 });
  });

  test('--replace: takes the route over and puts the old one back', async () => {
    const ip = fakeIp({ 'fc00:2::2/128': { dst: SERVER, gateway: 'fc00:1::1', dev: 'eth0' } });
    const h = harness({ ip });
    assert.equal(await runSteer({ name: 'server.lab.example', command: ['true'], replace: true }, h.deps), 0);
    assert.deepEqual(ip.table.get('fc00:2::2/128'), { dst: SERVER, gateway: 'fc00:1::1', dev: 'eth0' });
    assert.equal(ip.mutations().at(-1), 'ip -6 route replace fc00:2::2/128 dev eth0 via fc00:1::1');
  });

  test('the command cannot start: the route is removed all the same', async () => {
    const h = harness();
    h.deps.spawnCommand = () => ({ exited: Promise.reject(Object.assign(new Error('nope'), { code: 'ENOENT' })), kill: () => undefined });
    await assert.rejects(runSteer({ name: 'server.lab.example', command: ['nosuch'] }, h.deps), /nope/);
    assert.equal(h.ip.table.size, 0);
  });

  test('someone changed the route meanwhile: it is left alone, with a warning', async () => {
    const h = harness({ onSpawn: () => h.ip.table.set('fc00:2::2/128', { dst: SERVER, dev: 'eth9' }) });
    await runSteer({ name: 'server.lab.example', command: ['true'] }, h.deps);
    assert.deepEqual(h.ip.table.get('fc00:2::2/128'), { dst: SERVER, dev: 'eth9' });
    assert.match(h.warnings.join('\n'), /changed by someone else/);
  });

  test('--dry-run: prints the ip command, changes nothing, runs nothing', async () => {
    const h = harness();
    assert.equal(await runSteer({ name: 'server.lab.example', command: ['curl', 'x'], dryRun: true }, h.deps), 0);
    assert.deepEqual(h.ip.mutations(), []);
    assert.deepEqual(h.spawned, []);
    assert.equal(h.out[0], `ip -6 route replace fc00:2::2/128 encap seg6 mode inline segs ${P1},${P2} dev eth0 via fc00:1::1`);
    const j = harness();
    await runSteer({ name: 'server.lab.example', dryRun: true, json: true }, j.deps);
    const obj = JSON.parse(j.out[0]!) as { event: string; routes: { segments: string[]; command: string }[]; ttl: number };
    assert.equal(obj.event, 'dry-run');
    assert.deepEqual(obj.routes[0]!.segments, [P1, P2]);
    assert.equal(obj.ttl, 30);
  });

  test('no answer or no route to the first segment: typed errors, nothing installed', async () => {
    const h = harness({ answers: [Object.assign(new Error('no answer from [fc00:2::2]:53 in 2000 ms'), { code: 'ETIMEDOUT' })] });
    await assert.rejects(runSteer({ name: 'server.lab.example', controller: 'fc00:2::2', command: ['true'] }, h.deps), (e) => isSrError(e, 'STEER_RESOLVE_FAILED') && /ETIMEDOUT/.test(e.message));
    const u = harness({ ip: fakeIp({}, [P1]) });
    await assert.rejects(runSteer({ name: 'server.lab.example', command: ['true'] }, u.deps), (e) => isSrError(e, 'STEER_NO_ROUTE') && e.message.includes(P1));
    assert.deepEqual(u.ip.mutations(), []);
  });

  test('holding: re-resolves when the TTL expires, replaces the route when the path changes, removes it on SIGTERM', async () => {
    const changed = answer({ ttl: 0, paths: [{ destination: SERVER, segments: ['fc00:a::1:0:0', P2, SERVER] }] });
    const h = harness({ answers: [answer({ ttl: 0 }), answer({ ttl: 0 }), changed] });
    const done = runSteer({ name: 'server.lab.example', json: true }, h.deps);
    while (h.asked() < 4) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(h.ip.table.get('fc00:2::2/128')?.segs, ['fc00:a::1:0:0', P2, '::'], 'the new path is installed');
    h.signal('SIGTERM');
    assert.equal(await done, 0);
    assert.equal(h.ip.table.size, 0);
    const events = h.out.map((l) => (JSON.parse(l) as { event: string }).event);
    assert.deepEqual(events, ['steering', 'changed', 'removed']);
    assert.equal(h.ip.mutations().filter((l) => l.includes('replace')).length, 2, 'replace only when the path changed');
  });

  test('holding: a failed re-resolution keeps the routes; a path that disappears removes the route', async () => {
    const h = harness({ answers: [answer({ ttl: 0 }), new Error('timeout'), answer({ ttl: 0, paths: [] })] });
    h.deps.minRefreshMs = 1; // the retry after a failure waits 5 s: wake it with SIGHUP
    const done = runSteer({ name: 'server.lab.example' }, h.deps);
    while (h.asked() < 2) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, 5));
    assert.ok(h.ip.table.has('fc00:2::2/128'), 'kept after the failure');
    assert.match(h.warnings.join('\n'), /keeping the current routes/);
    h.signal('SIGHUP');
    while (h.asked() < 3) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(h.ip.table.size, 0, 'no function applies any more: the route is gone');
    h.signal('SIGINT');
    assert.equal(await done, 0);
    assert.match(h.out.join('\n'), /path changed: server\.lab\.example → fc00:2::2: no function applies/);
  });

  test('with a command, signals go to the command; steer waits for it', async () => {
    let exit!: (c: number) => void;
    const h = harness();
    h.deps.spawnCommand = () => ({ exited: new Promise<number>((r) => (exit = r)), kill: (s) => (h.killed.push(s), exit(143)) });
    const done = runSteer({ name: 'server.lab.example', command: ['sleep', '100'] }, h.deps);
    while (!h.ip.table.size) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, 5));
    h.signal('SIGTERM');
    assert.equal(await done, 143);
    assert.deepEqual(h.killed, ['SIGTERM']);
    assert.equal(h.ip.table.size, 0);
  });
});
