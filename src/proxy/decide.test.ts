import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SrError } from '../core/errors.js';
import { decodeSrh, onwardSrh, pathOf, srhForPath } from '../codec/srh.js';
import { formatAddress, parseAddress, parsePrefix, prefixContains } from '../net/ip6.js';
import { bindingCandidates, type BindingSids } from './bindings.js';
import { synPath, type ReturnHop } from './classify.js';
import { parseProxyConfig } from './config.js';
import { decide } from './decide.js';

const cfg = parseProxyConfig(`
locators: [ { prefix: "fc00:b::/80" }, { prefix: "fc00:bb::/64", functionBits: 8 } ]
functions: [ { id: 1, function: copy }, { id: 2, function: xor } ]
netconf: off
`);
const P = (s: string) => parseAddress(s);
const lookup = (id: number) => cfg.functions.find((f) => f.id === id);

/**
 * Binding SIDs inside fc00:f::/64: what the controller says (a table), cached on the first prefetch
 * as BindingLookup does; records what was looked at, asked and invalidated.
 */
function bsids(table: Map<string, Buffer[]> | ((s: Buffer) => Buffer[] | undefined), maxCandidates = 1): BindingSids & { expanded: string[]; asked: string[]; invalidated: string[] } {
  const bsidPrefix = parsePrefix('fc00:f::/64');
  const answer = (s: Buffer) => (typeof table === 'function' ? table(s) : table.get(s.toString('hex')));
  const cache = new Map<string, Buffer[] | undefined>();
  const expanded: string[] = [];
  const asked: string[] = [];
  const invalidated: string[] = [];
  return {
    maxCandidates,
    expanded,
    asked,
    invalidated,
    isCandidate: (s) => prefixContains(bsidPrefix, s),
    expand: (s) => {
      expanded.push(formatAddress(s));
      return cache.get(s.toString('hex'));
    },
    prefetch: async (segs) => {
      for (const t of segs.slice(0, maxCandidates)) {
        asked.push(t);
        cache.set(P(t).toString('hex'), answer(P(t)));
      }
    },
    invalidate: (s) => {
      invalidated.push(s);
      cache.delete(P(s).toString('hex'));
    },
  };
}

/** The worker's SYN path: decoded once, the binding SID expanded when no segment is ours, classified once. */
async function run(srh: Buffer, bindings?: BindingSids, returnHop?: ReturnHop) {
  const syn = synPath(srh);
  assert.ok(syn.ok);
  const d = await decide(syn, { locators: cfg.locators, lookup, ...(bindings ? { bindings } : {}), ...(returnHop ? { returnHop } : {}) });
  return d.ok ? { ...d, nextSrh: onwardSrh(d.onward) } : d;
}

test('through a binding SID: [BSID, server] is expanded with what the BSID stands for, then classified once', async () => {
  const bsid = P('fc00:f::7');
  const table = new Map([[bsid.toString('hex'), [P('fc00:a::1:0:0'), P('fc00:b::2:0:5a'), P('fc00:c::3:0:0')]]]);
  const srh = srhForPath([bsid, P('fc00:2::2')]);
  const empty = bsids(new Map());
  const without = await run(srh, empty);
  assert.ok(!without.ok);
  assert.equal(without.code, 'FLOW_UNKNOWN_BSID');
  assert.deepEqual(empty.asked, ['fc00:f::7'], 'the segment looked up');
  assert.deepEqual(empty.invalidated, ['fc00:f::7'], 'an unknown BSID is asked again next time');
  const b = bsids(table);
  const d = await run(srh, b);
  assert.ok(d.ok);
  assert.equal(d.bsid, 'fc00:f::7');
  assert.equal(d.sid, 'fc00:b::2:0:5a');
  assert.deepEqual(d.path, ['fc00:a::1:0:0', 'fc00:b::2:0:5a', 'fc00:c::3:0:0', 'fc00:2::2']);
  assert.deepEqual(pathOf(decodeSrh(d.nextSrh!)).map((x) => formatAddress(x)), ['fc00:c::3:0:0', 'fc00:2::2']);
  // the next SYN through it: from the cache, nothing asked
  assert.ok((await run(srh, b)).ok);
  assert.deepEqual(b.asked, ['fc00:f::7']);
  // a BSID whose path does not contain us: named as such, and invalidated (the answer may be stale)
  const elsewhere = bsids(() => [P('fc00:a::1:0:0')]);
  const other = await run(srhForPath([bsid, P('fc00:2::2')]), elsewhere);
  assert.ok(!other.ok);
  assert.equal(other.code, 'FLOW_UNKNOWN_BSID');
  assert.match(other.reason, /binding SID fc00:f::7 stands for \[fc00:a::1:0:0\]/);
  assert.deepEqual(elsewhere.invalidated, ['fc00:f::7']);
  // our segment with an unknown function id behind a BSID: that error, not "not ours"
  const unknown = await run(srhForPath([bsid, P('fc00:2::2')]), bsids(() => [P('fc00:b::9:0:0')]));
  assert.ok(!unknown.ok);
  assert.equal(unknown.code, 'FLOW_UNKNOWN_FUNCTION');
});

test('a path with our own segment is classified at once, synchronously: no binding SID is looked at', () => {
  const b = bsids(new Map());
  const syn = synPath(srhForPath([P('fc00:f::7'), P('fc00:b::1:0:0'), P('fc00:2::2')]));
  assert.ok(syn.ok);
  const d = decide(syn, { locators: cfg.locators, lookup, bindings: b });
  assert.ok(!(d instanceof Promise));
  assert.ok(d.ok);
  assert.deepEqual([b.expanded, b.asked], [[], []]);
});

test('a failed lookup rejects the flow with its code', async () => {
  const b: BindingSids = { ...bsids(new Map()), prefetch: () => Promise.reject(Object.assign(new Error('busy'), { code: 'NOT_SR' })) };
  const d = await run(srhForPath([P('fc00:f::7'), P('fc00:2::2')]), b);
  assert.ok(!d.ok);
  assert.equal(d.code, 'BSID_LOOKUP_FAILED', 'an untyped failure is BSID_LOOKUP_FAILED');
  const busy: BindingSids = { ...bsids(new Map()), prefetch: () => Promise.reject(new SrError('BSID_LOOKUP_BUSY', '8 in flight')) };
  const e = await run(srhForPath([P('fc00:f::7'), P('fc00:2::2')]), busy);
  assert.equal(e.ok ? '' : e.code, 'BSID_LOOKUP_BUSY');
});

test('binding-SID candidates: only segments in the BSID prefixes, at most maxCandidates per SYN, none without binding SIDs', async () => {
  // 124 segments that are not ours nor BSIDs, two in the BSID prefix, the server: one candidate, the first BSID
  const noise = Array.from({ length: 124 }, (_, i) => P(`fc00:77::${(i + 1).toString(16)}`));
  const b = bsids(new Map());
  const many = await run(srhForPath([...noise, P('fc00:f::7'), P('fc00:f::8'), P('fc00:2::2')]), b);
  assert.ok(!many.ok);
  assert.equal(many.code, 'FLOW_UNKNOWN_BSID');
  assert.deepEqual(b.asked, ['fc00:f::7']);
  assert.deepEqual(b.expanded, ['fc00:f::7', 'fc00:f::7'], 'only the candidate is looked at in the cache (before and after asking)');
  // a small number when configured, still the first ones in travel order
  const path = [P('fc00:f::1'), P('fc00:77::1'), P('fc00:f::2'), P('fc00:f::3'), P('fc00:2::2')];
  assert.deepEqual(bindingCandidates(path, bsids(new Map(), 2)).map((i) => formatAddress(path[i]!)), ['fc00:f::1', 'fc00:f::2']);
  // no segment in a BSID prefix: nothing to look up, not ours
  const nb = bsids(new Map());
  const none = await run(srhForPath([...noise, P('fc00:2::2')]), nb);
  assert.ok(!none.ok);
  assert.equal(none.code, 'FLOW_NOT_OURS');
  assert.deepEqual(nb.asked, []);
  // the destination is never a candidate, even inside a BSID prefix
  const db = bsids(new Map());
  const dest = await run(srhForPath([P('fc00:77::1'), P('fc00:f::9')]), db);
  assert.equal(dest.ok ? 'ok' : dest.code, 'FLOW_NOT_OURS');
  assert.deepEqual(db.asked, []);
  // without binding SIDs configured, no lookup at all
  const off = await run(srhForPath([...noise.slice(0, 3), P('fc00:f::7'), P('fc00:2::2')]));
  assert.equal(off.ok ? 'ok' : off.code, 'FLOW_NOT_OURS');
});

test('an expanded binding SID or a return hop past 127 onward segments: SRH_TOO_LONG, a rejection, not a throw (issue 12 item 5)', async () => {
  const bsid = P('fc00:f::7');
  const pads = Array.from({ length: 125 }, (_, i) => P(`fc00:e::${(i + 1).toString(16)}`));
  const srh = srhForPath([bsid, ...pads, P('fc00:2::2')]); // 127 segments: the most an SRH holds
  const three = (seg: Buffer) => (seg.equals(bsid) ? [P('fc00:b::1:0:0'), P('fc00:c::1:0:0'), P('fc00:d::1:0:0')] : undefined);
  const d = await run(srh, bsids(three));
  assert.equal(d.ok, false);
  assert.equal(d.ok ? '' : d.code, 'SRH_TOO_LONG');
  // a 2-segment path fits (127 onward), unless a return hop adds its SID as a visited segment
  const two = (seg: Buffer) => (seg.equals(bsid) ? [P('fc00:b::1:0:0'), P('fc00:c::1:0:0')] : undefined);
  const fits = await run(srh, bsids(two));
  assert.equal(fits.ok, true);
  assert.equal(fits.ok && decodeSrh(fits.nextSrh!).segments.length, 127, 'and it encodes');
  const ret = await run(srh, bsids(two), { id: 7, sid: P('fc00:b::ffff:0:0') });
  assert.equal(ret.ok ? '' : ret.code, 'SRH_TOO_LONG');
});

test('property: the SYN path never throws, whatever the path length, binding SID expansion and return hop; what it accepts encodes', async () => {
  const bsid = P('fc00:f::7');
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 125 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), fc.boolean(), async (pads, bsidAt, expandTo, withRet, ours) => {
      const rest = Array.from({ length: pads }, (_, i) => P(`fc00:e::${(i + 1).toString(16)}`));
      const path = bsidAt === 0 ? [bsid, ...rest, P('fc00:2::2')] : [...rest, bsid, P('fc00:2::2')];
      const inner = Array.from({ length: expandTo }, (_, i) => (i === 0 && ours ? P('fc00:b::1:0:0') : P(`fc00:c::${i + 1}`)));
      const d = await run(srhForPath(path), bsids((s) => (s.equals(bsid) ? inner : undefined)), withRet ? { id: 7, sid: P('fc00:b::ffff:0:0') } : undefined);
      assert.equal(typeof d.ok, 'boolean');
      if (!d.ok) assert.match(d.code, /^(SRH_TOO_LONG|FLOW_UNKNOWN_BSID)$/);
      else assert.ok(d.nextSrh === null || decodeSrh(d.nextSrh).segments.length <= 127);
    }),
    { numRuns: 500 },
  );
});
