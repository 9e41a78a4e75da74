import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { computePath, type Edge, type PathGraph, type Stage } from './path.js';

/** An undirected graph from [a, b, cost] triples. */
function graph(links: [string, string, number][]): PathGraph {
  const adjacency = new Map<string, Edge[]>();
  const add = (a: string, b: string, cost: number): void => {
    if (!adjacency.has(a)) adjacency.set(a, []);
    adjacency.get(a)!.push({ to: b, cost });
  };
  for (const [a, b, c] of links) {
    add(a, b, c);
    add(b, a, c);
  }
  return { adjacency, transit: (n) => !n.startsWith('net:') };
}

const stage = (name: string, nodes: string[]): Stage => ({ name, replicas: nodes.map((n) => ({ node: n, sid: `${n}-${name}` })) });
const req = (stages: Stage[], tieKey = 'fc00:1::2') => ({ from: 'net:c', to: 'net:s', destination: 'S', stages, tieKey });

describe('path computation', () => {
  // net:c — a — b — net:s, and a — x — b (a detour), x hosts fw
  const g = graph([
    ['net:c', 'a', 1],
    ['a', 'b', 1],
    ['b', 'net:s', 1],
    ['a', 'x', 5],
    ['x', 'b', 5],
  ]);

  test('no function: the segment list is the destination alone', () => {
    const r = computePath(g, req([]));
    assert.ok(r.ok);
    assert.deepEqual(r.segments, ['S']);
    assert.deepEqual(r.returnSegments, []);
    assert.deepEqual(r.nodes, ['net:c', 'a', 'b', 'net:s']);
    assert.equal(r.cost, 3);
  });

  test('functions are visited in order, even against the grain of the path', () => {
    const r = computePath(g, req([stage('f2', ['b']), stage('f1', ['a'])]));
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.segments, ['b-f2', 'a-f1', 'S']);
    assert.deepEqual(r.returnSegments, ['a-f1', 'b-f2']);
    assert.deepEqual(r.nodes, ['net:c', 'a', 'b', 'a', 'b', 'net:s']);
    assert.equal(r.cost, 5);
    assert.deepEqual(r.hops.map((h) => h.node), ['b', 'a']);
  });

  test('a detour to the only replica', () => {
    const r = computePath(g, req([stage('fw', ['x'])]));
    assert.ok(r.ok);
    assert.deepEqual(r.segments, ['x-fw', 'S']);
    assert.equal(r.cost, 12);
  });

  test('replicas: the cheaper one is chosen', () => {
    const r = computePath(g, req([stage('fw', ['x', 'b'])]));
    assert.ok(r.ok);
    assert.deepEqual(r.segments, ['b-fw', 'S']);
    assert.equal(r.cost, 3);
  });

  test('two consecutive functions need two visits: never twice in one proxy without leaving it', () => {
    const r = computePath(g, req([stage('xor', ['a', 'b']), stage('xor', ['a', 'b'])]));
    assert.ok(r.ok);
    assert.deepEqual(r.segments, ['a-xor', 'b-xor', 'S']);
    const one = computePath(g, req([stage('xor', ['a']), stage('xor', ['a'])]));
    assert.ok(one.ok);
    assert.deepEqual(one.segments, ['a-xor', 'a-xor', 'S']);
    assert.ok(one.nodes.filter((n) => n === 'a').length >= 2, `a is visited twice: ${one.nodes.join(' ')}`);
  });

  test('equal-cost replicas: stable per client, spread over clients', () => {
    // net:c — a — {m1, m2} — b — net:s, m1 and m2 both host fw at equal cost
    const eq = graph([
      ['net:c', 'a', 1],
      ['a', 'm1', 1],
      ['a', 'm2', 1],
      ['m1', 'b', 1],
      ['m2', 'b', 1],
      ['b', 'net:s', 1],
    ]);
    const chosen = new Map<string, number>();
    for (let i = 0; i < 64; i++) {
      const key = `fc00:1::${i.toString(16)}`;
      const r1 = computePath(eq, req([stage('fw', ['m1', 'm2'])], key));
      const r2 = computePath(eq, req([stage('fw', ['m2', 'm1'])], key));
      assert.ok(r1.ok && r2.ok);
      assert.equal(r1.cost, 4);
      assert.deepEqual(r1.segments, r2.segments, 'the choice does not depend on the replica order');
      chosen.set(r1.segments[0]!, (chosen.get(r1.segments[0]!) ?? 0) + 1);
    }
    assert.equal(chosen.size, 2, 'both replicas are used');
    for (const n of chosen.values()) assert.ok(n >= 16, `a fair share: ${[...chosen].join(' ')}`);
  });

  test('unreachable function, no replica, unknown node', () => {
    const cut = graph([
      ['net:c', 'a', 1],
      ['a', 'net:s', 1],
      ['island', 'other', 1],
    ]);
    const r = computePath(cut, req([stage('fw', ['island'])]));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'unreachable');
    const n = computePath(cut, req([stage('fw', [])]));
    assert.equal(!n.ok && n.reason, 'no-replica');
    const u = computePath(cut, { ...req([]), to: 'net:nowhere' });
    assert.equal(!u.ok && u.reason, 'unknown-node');
  });

  test('attached prefixes are not transit', () => {
    // the only way from a to b is through another client network: not allowed
    const g2 = graph([
      ['net:c', 'a', 1],
      ['a', 'net:lan', 1],
      ['net:lan', 'b', 1],
      ['b', 'net:s', 1],
    ]);
    const r = computePath(g2, req([]));
    assert.equal(r.ok, false);
  });

  /**
   * Issue 12, item 8: with a link cost of 2e16, `d + 1 === d` in floating point, so b and x are each
   * other's "tight" predecessor and the walk back grew without end (the controller ran out of memory).
   * Run in a worker with a small heap and a deadline, so that the old code fails the test instead of
   * taking the test runner down.
   */
  test('huge costs (2e16): the search ends, in a worker with a 64 MB heap and a 10 s deadline', async () => {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.url).then(({ computePath }) => {
        const adjacency = new Map();
        const add = (a, b, c) => { if (!adjacency.has(a)) adjacency.set(a, []); adjacency.get(a).push({ to: b, cost: c }); };
        for (const [a, b, c] of [['net:c', 'a', 2e16], ['a', 'b', 1], ['b', 'x', 1], ['x', 'net:s', 1]]) { add(a, b, c); add(b, a, c); }
        const r = computePath({ adjacency, transit: (n) => !n.startsWith('net:') },
          { from: 'net:c', to: 'net:s', destination: 'S', stages: [{ name: 'f', replicas: [{ node: 'x', sid: 'x-f' }] }], tieKey: 'k' });
        parentPort.postMessage(r);
      });`;
    const w = new Worker(code, { eval: true, workerData: { url: new URL('./path.js', import.meta.url).href }, resourceLimits: { maxOldGenerationSizeMb: 64 } });
    const result = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the path search did not end within 10 s')), 10_000);
      w.once('message', (m) => (clearTimeout(timer), resolve(m)));
      w.once('error', (e) => (clearTimeout(timer), reject(e)));
    }).finally(() => w.terminate());
    assert.deepEqual(result, { ok: false, reason: 'bad-cost', message: 'link net:c → a: cost 20000000000000000 is not an integer 0..2^53' });
  });

  test('costs must be integers ≥ 0 and a link more than (0, 0)', () => {
    const frac = computePath(graph([['net:c', 'a', 0.5], ['a', 'net:s', 1]]), req([]));
    assert.equal(!frac.ok && frac.reason, 'bad-cost');
    const zero = computePath(graph([['net:c', 'a', 0], ['a', 'net:s', 1]]), req([]));
    assert.equal(!zero.ok && zero.reason, 'bad-cost');
    const nan = computePath(graph([['net:c', 'a', Number.NaN], ['a', 'net:s', 1]]), req([]));
    assert.equal(!nan.ok && nan.reason, 'bad-cost');
    // safe integers each, but a walk could add up past 2^53
    const sum = computePath(graph([['net:c', 'a', 2 ** 52], ['a', 'net:s', 1]]), req([]));
    assert.deepEqual(sum, { ok: false, reason: 'bad-cost', message: `link costs up to ${2 ** 52} over 6 states could exceed 2^53: lower the costs` });
  });

  test('the largest config costs add exactly: 1e6 and 1 are told apart on long walks', () => {
    // two routes from a to b: 40 hops of cost 1e6 + 1 each, or 40 hops of 1e6 then one of 39 (cheaper by 1)
    const links: [string, string, number][] = [['net:c', 'a', 1], ['b', 'net:s', 1]];
    for (let i = 0; i < 40; i++) links.push([i === 0 ? 'a' : `u${i}`, i === 39 ? 'b' : `u${i + 1}`, 1_000_001]);
    for (let i = 0; i < 40; i++) links.push([i === 0 ? 'a' : `v${i}`, `v${i + 1}`, 1_000_000]);
    links.push(['v40', 'b', 39]);
    const r = computePath(graph(links), req([]));
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.cost, 2 + 40 * 1_000_000 + 39);
    assert.ok(r.nodes.includes('v40'));
  });

  test('ties: a (cost, tie) pair — equal costs are decided by the tie sum, exactly', () => {
    const adjacency = new Map<string, Edge[]>([
      ['net:c', [{ to: 'a', cost: 0, tie: 1 }]],
      ['a', [{ to: 'net:c', cost: 0, tie: 1 }, { to: 'm1', cost: 5_000_000, tie: 3 }, { to: 'm2', cost: 5_000_000, tie: 2 }]],
      ['m1', [{ to: 'a', cost: 5_000_000, tie: 3 }, { to: 'net:s', cost: 0, tie: 1 }]],
      ['m2', [{ to: 'a', cost: 5_000_000, tie: 2 }, { to: 'net:s', cost: 0, tie: 1 }]],
      ['net:s', [{ to: 'm1', cost: 0, tie: 1 }, { to: 'm2', cost: 0, tie: 1 }]],
    ]);
    const r = computePath({ adjacency, transit: (n) => !n.startsWith('net:') }, req([]));
    assert.ok(r.ok);
    assert.deepEqual(r.nodes, ['net:c', 'a', 'm2', 'net:s']);
    assert.equal(r.cost, 5_000_000);
  });
});
