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
 */

export interface Edge {
  to: string;
  cost: number;
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
  reason: 'no-replica' | 'unreachable' | 'unknown-node';
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

/** A binary min-heap of [cost, state]. */
class Heap {
  private items: [number, State][] = [];
  get size(): number {
    return this.items.length;
  }
  push(item: [number, State]): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]![0] <= a[i]![0]) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): [number, State] {
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
        if (l < a.length && a[l]![0] < a[m]![0]) m = l;
        if (r < a.length && a[r]![0] < a[m]![0]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

const EPS = 1e-9;

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
  const neighbours = (s: State): { to: State; cost: number }[] => {
    const { node, k, fresh } = unkey(s);
    const out: { to: State; cost: number }[] = [];
    if (node === req.to && k === K) return out; // the goal
    if (transit(node) || node === req.from) {
      for (const e of g.adjacency.get(node) ?? []) {
        if (e.to === req.from && req.from !== req.to) continue; // never back through the client's attachment
        if (!transit(e.to)) continue;
        out.push({ to: key(e.to, k, false), cost: e.cost });
      }
    }
    if (k < K && !fresh && hostsAt[k]!.has(node)) out.push({ to: key(node, k + 1, true), cost: 0 });
    return out;
  };

  const start = key(req.from, 0, false);
  const dist = new Map<State, number>([[start, 0]]);
  const heap = new Heap();
  heap.push([0, start]);
  const done = new Set<State>();
  const edgesIn = new Map<State, { from: State; cost: number }[]>();
  let goal: State | undefined;
  while (heap.size > 0) {
    const [d, s] = heap.pop();
    if (done.has(s)) continue;
    done.add(s);
    const u = unkey(s);
    if (u.node === req.to && u.k === K) {
      goal = s;
      break;
    }
    for (const { to, cost } of neighbours(s)) {
      const list = edgesIn.get(to) ?? [];
      list.push({ from: s, cost });
      edgesIn.set(to, list);
      const nd = d + cost;
      if (nd < (dist.get(to) ?? Infinity) - EPS) {
        dist.set(to, nd);
        heap.push([nd, to]);
      }
    }
  }
  if (goal === undefined) {
    const names = req.stages.map((s) => s.name).join(', ') || 'no function';
    return { ok: false, reason: 'unreachable', message: `no path from ${req.from} to ${req.to} through ${names}` };
  }

  // walk back through tight predecessors, ties broken by hash
  const walk: State[] = [goal];
  let cur = goal;
  while (cur !== start) {
    const dc = dist.get(cur)!;
    const tight = (edgesIn.get(cur) ?? []).filter((p) => done.has(p.from) && Math.abs(dist.get(p.from)! + p.cost - dc) < EPS);
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
  return { ok: true, cost: dist.get(goal)!, nodes, hops, segments: [...sids, req.destination], returnSegments: [...sids].reverse() };
}
