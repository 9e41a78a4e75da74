/**
 * Path computation (pure): the cheapest walk from the client's attachment to the destination's that
 * applies the functions in order, each on one of its replicas. Dijkstra over a layered graph: the
 * state (node, k, fresh) means "at node, k functions done; fresh = the k-th was applied here on this
 * visit". Applying the (k+1)-th function at a node that hosts it costs 0 and is not allowed while
 * fresh: a proxy intercepts a flow once per visit, so two consecutive functions cannot run in one
 * proxy without leaving it (configure a chain function on the proxy for that).
 *
 * Ties: Dijkstra yields the distances; the path is then walked back from the goal through tight
 * predecessors, choosing among equals by a hash of (tieKey, predecessor). With the client's address
 * as tieKey the choice is stable for one client and spreads different clients over equal replicas.
 *
 * Termination (issue 12, item 8: costs ≥ 2e16 made the walk back loop through predecessor cycles, as
 * `d + 1 === d` in floating point): costs are integers, checked here, and a distance is the exact pair
 * (cost sum, tie sum), compared lexicographically; the request is refused ('bad-cost') unless every
 * sum stays a safe integer. Every link edge has a pair > (0, 0) and every 0-cost edge raises k, so a
 * tight predecessor is strictly smaller in (distance, k): the walk back cannot revisit a state. Both
 * loops still carry a bound (expansions ≤ states, walk ≤ states) that returns 'search-bound' instead
 * of hanging, should that reasoning ever be broken by a change.
 */

export interface Edge {
  to: string;
  /** an integer ≥ 0 (the config bounds link costs to 1..MAX_LINK_COST); sums are exact */
  cost: number;
  /** an integer ≥ 0 that breaks ties between equal costs (a latency-bound request: the configured cost) */
  tie?: number;
  /** Mbit/s, when the config says */
  capacity?: number;
  /** ms, when the config says */
  latency?: number;
}

export interface PathGraph {
  /** node → its links (both directions listed) */
  adjacency: ReadonlyMap<string, readonly Edge[]>;
  /** may a walk pass through this node? (attached prefixes may only start or end one) */
  transit?: (node: string) => boolean;
}

export interface Replica {
  node: string;
  /** the function SID on that node, with the argument, as text */
  sid: string;
}

export interface Stage {
  /** function name, for messages */
  name: string;
  replicas: readonly Replica[];
}

export interface PathRequest {
  from: string;
  to: string;
  /** the final segment: the destination address */
  destination: string;
  stages: readonly Stage[];
  /** stable per-client key for tie breaking (e.g. the client's address) */
  tieKey: string;
}

export interface Hop {
  function: string;
  node: string;
  sid: string;
}

export interface PathOk {
  ok: true;
  cost: number;
  /** the node walk, from `from` to `to` */
  nodes: string[];
  hops: Hop[];
  /** travel order: function SIDs, then the destination */
  segments: string[];
  /** the function SIDs in reverse order (the way back to the client) */
  returnSegments: string[];
}

export interface PathError {
  ok: false;
  reason: 'no-replica' | 'unreachable' | 'unknown-node' | 'bad-cost' | 'search-bound';
  message: string;
}

export type PathResult = PathOk | PathError;

/** FNV-1a, 32 bits. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

type State = string; // `${k}|${fresh}|${node}`
const key = (node: string, k: number, fresh: boolean): State => `${k}|${fresh ? 1 : 0}|${node}`;
function unkey(s: State): { node: string; k: number; fresh: boolean } {
  const a = s.indexOf('|');
  const b = s.indexOf('|', a + 1);
  return { k: Number(s.slice(0, a)), fresh: s.slice(a + 1, b) === '1', node: s.slice(b + 1) };
}

/** An exact distance: (cost sum, tie sum), compared lexicographically. */
type Dist = readonly [number, number];
const ZERO: Dist = [0, 0];
const less = (a: Dist, b: Dist): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
const same = (a: Dist, b: Dist): boolean => a[0] === b[0] && a[1] === b[1];
const plus = (a: Dist, cost: number, tie: number): Dist => [a[0] + cost, a[1] + tie];

/** A binary min-heap of [distance, state]. */
class Heap {
  private items: [Dist, State][] = [];
  get size(): number {
    return this.items.length;
  }
  push(item: [Dist, State]): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]![0], a[p]![0])) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): [Dist, State] {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]![0], a[m]![0])) m = l;
        if (r < a.length && less(a[r]![0], a[m]![0])) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Every edge cost an integer, every link edge > (0, 0), and no sum over a walk past 2^53: or why not. */
function checkCosts(g: PathGraph, states: number): string | undefined {
  let maxCost = 0;
  let maxTie = 0;
  for (const [node, edges] of g.adjacency) {
    for (const e of edges) {
      const tie = e.tie ?? 0;
      if (!isCount(e.cost) || !isCount(tie)) return `link ${node} → ${e.to}: cost ${e.cost}${e.tie !== undefined ? ` (tie ${e.tie})` : ''} is not an integer 0..2^53`;
      if (e.cost === 0 && tie === 0) return `link ${node} → ${e.to}: cost 0 (a link costs at least 1)`;
      maxCost = Math.max(maxCost, e.cost);
      maxTie = Math.max(maxTie, tie);
    }
  }
  // a walk visits each state at most once: its sums stay below max × states
  if (maxCost * states > Number.MAX_SAFE_INTEGER || maxTie * states > Number.MAX_SAFE_INTEGER) return `link costs up to ${maxCost} over ${states} states could exceed 2^53: lower the costs`;
  return undefined;
}

export function computePath(g: PathGraph, req: PathRequest): PathResult {
  for (const n of [req.from, req.to]) {
    if (!g.adjacency.has(n)) return { ok: false, reason: 'unknown-node', message: `node "${n}" is not in the graph` };
  }
  const K = req.stages.length;
  for (const s of req.stages) {
    if (s.replicas.length === 0) return { ok: false, reason: 'no-replica', message: `no proxy hosts function "${s.name}"` };
  }
  // hostsAt[k]: node → replica of stage k
  const hostsAt = req.stages.map((s) => {
    const m = new Map<string, Replica>();
    for (const r of s.replicas) if (!m.has(r.node)) m.set(r.node, r);
    return m;
  });
  const transit = (n: string): boolean => n === req.from || n === req.to || (g.transit?.(n) ?? true);
  const neighbours = (s: State): { to: State; cost: number; tie: number }[] => {
    const { node, k, fresh } = unkey(s);
    const out: { to: State; cost: number; tie: number }[] = [];
    if (node === req.to && k === K) return out; // the goal
    if (transit(node) || node === req.from) {
      for (const e of g.adjacency.get(node) ?? []) {
        if (e.to === req.from && req.from !== req.to) continue; // never back through the client's attachment
        if (!transit(e.to)) continue;
        out.push({ to: key(e.to, k, false), cost: e.cost, tie: e.tie ?? 0 });
      }
    }
    if (k < K && !fresh && hostsAt[k]!.has(node)) out.push({ to: key(node, k + 1, true), cost: 0, tie: 0 });
    return out;
  };

  // states: (node, k, fresh) for every node, k = 0..K
  const states = g.adjacency.size * (K + 1) * 2;
  const bad = checkCosts(g, states);
  if (bad !== undefined) return { ok: false, reason: 'bad-cost', message: bad };

  const start = key(req.from, 0, false);
  const dist = new Map<State, Dist>([[start, ZERO]]);
  const heap = new Heap();
  heap.push([ZERO, start]);
  const done = new Set<State>();
  const edgesIn = new Map<State, { from: State; cost: number; tie: number }[]>();
  let goal: State | undefined;
  while (heap.size > 0) {
    const [d, s] = heap.pop();
    if (done.has(s)) continue;
    done.add(s);
    if (done.size > states) return { ok: false, reason: 'search-bound', message: `path search expanded more than ${states} states` };
    const u = unkey(s);
    if (u.node === req.to && u.k === K) {
      goal = s;
      break;
    }
    for (const { to, cost, tie } of neighbours(s)) {
      const list = edgesIn.get(to) ?? [];
      list.push({ from: s, cost, tie });
      edgesIn.set(to, list);
      const nd = plus(d, cost, tie);
      const old = dist.get(to);
      if (old === undefined || less(nd, old)) {
        dist.set(to, nd);
        heap.push([nd, to]);
      }
    }
  }
  if (goal === undefined) {
    const names = req.stages.map((s) => s.name).join(', ') || 'no function';
    return { ok: false, reason: 'unreachable', message: `no path from ${req.from} to ${req.to} through ${names}` };
  }

  // walk back through tight predecessors (exact: distance + edge = distance), ties broken by hash
  const walk: State[] = [goal];
  const onWalk = new Set<State>(walk);
  let cur = goal;
  while (cur !== start) {
    const dc = dist.get(cur)!;
    const tight = (edgesIn.get(cur) ?? []).filter((p) => done.has(p.from) && !onWalk.has(p.from) && same(plus(dist.get(p.from)!, p.cost, p.tie), dc));
    if (tight.length === 0 || walk.length > states) return { ok: false, reason: 'search-bound', message: `path search: no way back from ${cur} (a bug: please report it)` };
    let best = tight[0]!;
    let bestHash = fnv1a(`${req.tieKey}|${best.from}`);
    for (const p of tight.slice(1)) {
      const h = fnv1a(`${req.tieKey}|${p.from}`);
      if (h < bestHash || (h === bestHash && p.from < best.from)) {
        best = p;
        bestHash = h;
      }
    }
    cur = best.from;
    walk.push(cur);
    onWalk.add(cur);
  }
  walk.reverse();

  const nodes: string[] = [];
  const hops: Hop[] = [];
  for (const s of walk) {
    const { node, k, fresh } = unkey(s);
    if (nodes[nodes.length - 1] !== node) nodes.push(node);
    if (fresh && (hops.length < k)) {
      const r = hostsAt[k - 1]!.get(node)!;
      hops.push({ function: req.stages[k - 1]!.name, node, sid: r.sid });
    }
  }
  const sids = hops.map((h) => h.sid);
  return { ok: true, cost: dist.get(goal)![0], nodes, hops, segments: [...sids, req.destination], returnSegments: [...sids].reverse() };
}
