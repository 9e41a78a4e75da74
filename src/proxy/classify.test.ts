import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeSrh, encodeSrh, pathOf, srhForPath } from '../codec/srh.js';
import { formatAddress, parseAddress, parsePrefix, prefixContains } from '../net/ip6.js';
import { clientReturnPathTlv, decodeReturnPathTlv, findReturnPath, returnPathTlv } from '../codec/return-path.js';
import { classify, type BindingSids } from './classify.js';
import { parseProxyConfig } from './config.js';

const cfg = parseProxyConfig(`
locators: [ { prefix: "fc00:b::/80" }, { prefix: "fc00:bb::/64", functionBits: 8 } ]
functions: [ { id: 1, function: copy }, { id: 2, function: xor } ]
netconf: off
`);
const P = (s: string) => parseAddress(s);
const lookup = (id: number) => cfg.functions.find((f) => f.id === id);
const run = (path: string[]) => classify(srhForPath(path.map(P)), cfg.locators, lookup);

test('the first segment in our locators is ours; the rest is the next SRH', () => {
  const d = run(['fc00:a::2:0:1', 'fc00:b::2:0:5a', 'fc00:c::1:0:0', 'fc00:2::2']);
  assert.ok(d.ok);
  assert.equal(d.functionId, 2);
  assert.equal(d.argument, 0x5an);
  assert.equal(d.position, 1);
  assert.equal(d.sid, 'fc00:b::2:0:5a');
  assert.equal(d.entry.parts[0]!.function, 'xor');
  assert.ok(d.nextSrh);
  assert.deepEqual(pathOf(decodeSrh(d.nextSrh)).map((b) => formatAddress(b)), ['fc00:c::1:0:0', 'fc00:2::2']);
});

test('when only the destination remains, the next connection has no SRH', () => {
  const d = run(['fc00:b::1:0:0', 'fc00:2::2']);
  assert.ok(d.ok);
  assert.equal(d.nextSrh, null);
});

test('a second locator with its own layout', () => {
  const d = run(['fc00:bb::100:0:0:7', 'fc00:2::2']);
  assert.ok(d.ok);
  assert.equal(d.functionId, 1);
  assert.equal(d.argument, 7n);
});

test('rejections: no SRH, not ours, unknown function, malformed SRH', () => {
  assert.deepEqual(classify(null, cfg.locators, lookup), { ok: false, code: 'FLOW_NO_SRH', reason: 'the SYN carried no routing header' });
  const notOurs = run(['fc00:a::1:0:0', 'fc00:2::2']);
  assert.equal(notOurs.ok ? '' : notOurs.code, 'FLOW_NOT_OURS');
  const unknown = run(['fc00:b::9:0:0', 'fc00:2::2']);
  assert.equal(unknown.ok ? '' : unknown.code, 'FLOW_UNKNOWN_FUNCTION');
  assert.match(unknown.ok ? '' : unknown.reason, /function id 9/);
  // the final destination is never taken as our function, even inside our locator
  const dest = run(['fc00:a::1:0:0', 'fc00:b::1:0:0']);
  assert.equal(dest.ok ? '' : dest.code, 'FLOW_NOT_OURS');
  const bad = encodeSrh({ segments: [P('fc00:2::2'), P('fc00:b::1:0:0')], segmentsLeft: 0 });
  bad[2] = 3;
  const malformed = classify(bad, cfg.locators, lookup);
  assert.equal(malformed.ok ? '' : malformed.code, 'SRH_BAD_TYPE');
});

/** Binding SIDs inside fc00:f::/64, from a table (what bindings.ts would have cached). */
function bsids(table: Map<string, Buffer[]> | ((s: Buffer) => Buffer[] | undefined), maxCandidates = 1): BindingSids & { expanded: string[] } {
  const bsidPrefix = parsePrefix('fc00:f::/64');
  const expanded: string[] = [];
  return {
    maxCandidates,
    expanded,
    isCandidate: (s) => prefixContains(bsidPrefix, s),
    expand: (s) => {
      expanded.push(formatAddress(s));
      return typeof table === 'function' ? table(s) : table.get(s.toString('hex'));
    },
  };
}

test('through a binding SID: [BSID, server] is expanded with what the BSID stands for', () => {
  const bsid = P('fc00:f::7');
  const table = new Map([[bsid.toString('hex'), [P('fc00:a::1:0:0'), P('fc00:b::2:0:5a'), P('fc00:c::3:0:0')]]]);
  const srh = srhForPath([bsid, P('fc00:2::2')]);
  const without = classify(srh, cfg.locators, lookup, bsids(new Map()));
  assert.ok(!without.ok);
  assert.equal(without.code, 'FLOW_NOT_OURS');
  assert.deepEqual(without.candidates, ['fc00:f::7'], 'the segment to look up');
  const d = classify(srh, cfg.locators, lookup, bsids(table));
  assert.ok(d.ok);
  assert.equal(d.bsid, 'fc00:f::7');
  assert.equal(d.sid, 'fc00:b::2:0:5a');
  assert.deepEqual(d.path, ['fc00:a::1:0:0', 'fc00:b::2:0:5a', 'fc00:c::3:0:0', 'fc00:2::2']);
  assert.deepEqual(pathOf(decodeSrh(d.nextSrh!)).map((b) => formatAddress(b)), ['fc00:c::3:0:0', 'fc00:2::2']);
  // a BSID whose path does not contain us: still not ours, and named as such
  const other = classify(srhForPath([bsid, P('fc00:2::2')]), cfg.locators, lookup, bsids(() => [P('fc00:a::1:0:0')]));
  assert.ok(!other.ok);
  assert.match(other.reason, /binding SID fc00:f::7 stands for \[fc00:a::1:0:0\]/);
  // our segment with an unknown function id behind a BSID: that error, not "not ours"
  const unknown = classify(srhForPath([bsid, P('fc00:2::2')]), cfg.locators, lookup, bsids(() => [P('fc00:b::9:0:0')]));
  assert.ok(!unknown.ok);
  assert.equal(unknown.code, 'FLOW_UNKNOWN_FUNCTION');
});

test('binding-SID candidates: only segments in the BSID prefixes, at most maxCandidates per SYN, none without binding SIDs', () => {
  // 124 segments that are not ours nor BSIDs, two in the BSID prefix, the server: one candidate, the first BSID
  const noise = Array.from({ length: 124 }, (_, i) => P(`fc00:77::${(i + 1).toString(16)}`));
  const b = bsids(new Map());
  const many = classify(srhForPath([...noise, P('fc00:f::7'), P('fc00:f::8'), P('fc00:2::2')]), cfg.locators, lookup, b);
  assert.ok(!many.ok);
  assert.equal(many.code, 'FLOW_NOT_OURS');
  assert.deepEqual(many.candidates, ['fc00:f::7']);
  assert.deepEqual(b.expanded, ['fc00:f::7'], 'only the candidate is looked at in the cache');
  // a small number when configured, still the first ones in travel order
  const two = classify(srhForPath([P('fc00:f::1'), P('fc00:77::1'), P('fc00:f::2'), P('fc00:f::3'), P('fc00:2::2')]), cfg.locators, lookup, bsids(new Map(), 2));
  assert.deepEqual(two.ok ? [] : two.candidates, ['fc00:f::1', 'fc00:f::2']);
  // no segment in a BSID prefix: nothing to look up
  const none = classify(srhForPath([...noise, P('fc00:2::2')]), cfg.locators, lookup, bsids(new Map()));
  assert.ok(!none.ok);
  assert.equal(none.code, 'FLOW_NOT_OURS');
  assert.equal(none.candidates, undefined);
  // the destination is never a candidate, even inside a BSID prefix
  const dest = classify(srhForPath([P('fc00:77::1'), P('fc00:f::9')]), cfg.locators, lookup, bsids(new Map()));
  assert.equal(dest.ok ? 'ok' : dest.candidates, undefined);
  // without binding SIDs configured, no candidates at all
  const off = run([...noise.slice(0, 3).map((x) => formatAddress(x)), 'fc00:f::7', 'fc00:2::2']);
  assert.equal(off.ok ? 'ok' : off.candidates, undefined);
});

test('a return hop: the onward SRH carries its id as the tag and its SID as a visited segment, also when only the destination remains', () => {
  const d = classify(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')]), cfg.locators, lookup, undefined, { id: 17, sid: P('fc00:b::ffff') });
  assert.ok(d.ok);
  const next = decodeSrh(d.nextSrh!);
  assert.equal(next.tag, 17);
  assert.equal(next.segmentsLeft, 0);
  assert.deepEqual(pathOf(next).map((b) => formatAddress(b)), ['fc00:b::ffff', 'fc00:2::2'], 'our return SID, visited, then the destination');
  const plain = classify(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')]), cfg.locators, lookup);
  assert.ok(plain.ok);
  assert.equal(plain.nextSrh, null);
  assert.equal(plain.replySrh, null, 'nothing visited before us: replies go straight back');
});

test('reversed: replies go back along the segments visited before ours', () => {
  // what a previous proxy with return SID fc00:a::ffff sends: [fc00:a::ffff (visited), us, server]
  const d = classify(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')], { visited: [P('fc00:a::ffff')] }), cfg.locators, lookup);
  assert.ok(d.ok);
  assert.equal(d.position, 1);
  assert.equal(d.replyVia, 'fc00:a::ffff');
  assert.deepEqual(pathOf(decodeSrh(d.replySrh!)).map((b) => formatAddress(b)), ['fc00:a::ffff', '::']);
  assert.equal(d.nextSrh, null, 'the visited segment is not carried on');
  // two waypoints before us: reversed order
  const two = run(['fc00:a::1', 'fc00:c::1', 'fc00:b::1:0:0', 'fc00:2::2']);
  assert.ok(two.ok);
  assert.deepEqual(pathOf(decodeSrh(two.replySrh!)).map((b) => formatAddress(b)), ['fc00:c::1', 'fc00:a::1', '::']);
});

test('a malformed return-path TLV (type 6) rejects the flow with SRH_BAD_TLV; a good one is accepted', () => {
  const path = [P('fc00:b::1:0:0'), P('fc00:2::2')];
  const bad = classify(srhForPath(path, { tlvs: [{ type: 6, value: Buffer.alloc(6 + 10) }] }), cfg.locators, lookup);
  assert.ok(!bad.ok);
  assert.equal(bad.code, 'SRH_BAD_TLV');
  assert.match(bad.reason, /return-path TLV value is 16 bytes/);
  const sl = Buffer.alloc(6 + 16);
  sl[5] = 3;
  const badSl = classify(srhForPath(path, { tlvs: [{ type: 6, value: sl }] }), cfg.locators, lookup);
  assert.ok(!badSl.ok);
  assert.match(badSl.reason, /Segments Left 3 with 1 segments/);
  const good = classify(srhForPath(path, { tlvs: [returnPathTlv([P('fc00:a::1:0:0'), P('fc00:1::2')])] }), cfg.locators, lookup);
  assert.ok(good.ok);
});

test('a return path: replies via the sender’s entry, our entry picks the downstream function, the TLV goes on one step', () => {
  // client → fc00:a (p) → fc00:b (us, fn 1 = copy) → server; return entries: ours fc00:b::2:0:9 (xor), p's fc00:a::ffff
  const fromP = returnPathTlv([P('fc00:b::2:0:9'), P('fc00:a::ffff'), P('::')], 1);
  const d = classify(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')], { tlvs: [fromP] }), cfg.locators, lookup);
  assert.ok(d.ok);
  assert.equal(d.replyVia, 'fc00:a::ffff');
  const reply = decodeSrh(d.replySrh!);
  assert.equal(reply.segmentsLeft, 1);
  assert.deepEqual(pathOf(reply).map((b) => formatAddress(b)), ['fc00:a::ffff', '::'], 'the kernel writes the client over the last segment');
  assert.equal(d.downstream?.functionId, 2, 'our return entry names xor: it processes the downstream bytes');
  assert.equal(d.downstream?.argument, 9n);
  const next = decodeSrh(d.nextSrh!);
  assert.deepEqual(pathOf(next).map((b) => formatAddress(b)), ['fc00:2::2'], 'an SRH goes on to carry the TLV');
  const onward = findReturnPath(next.tlvs)!;
  assert.equal(onward.segmentsLeft, 2, 'the next hop replies through our entry');
  // straight from the client (SL 0): no reply SRH; an entry that is our plain return SID: symmetric
  const first = classify(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')], { tlvs: [clientReturnPathTlv([P('fc00:b::ffff')])] }), cfg.locators, lookup);
  assert.ok(first.ok);
  assert.equal(first.replySrh, null);
  assert.equal(first.downstream, undefined);
  assert.equal(decodeReturnPathTlv(decodeSrh(first.nextSrh!).tlvs.find((t) => t.type === 6)!).segmentsLeft, 1);
  // no entry for us: the TLV is not carried on (the next hop's replies would be steered to the wrong proxy)
  const spent = classify(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')], { tlvs: [returnPathTlv([P('fc00:a::ffff'), P('::')], 1)] }), cfg.locators, lookup);
  assert.ok(spent.ok);
  assert.equal(spent.nextSrh, null);
  assert.equal(spent.replyVia, 'fc00:a::ffff');
});

test('an expanded binding SID or a return hop past 127 onward segments: SRH_TOO_LONG, a rejection, not a throw (issue 12 item 5)', () => {
  const bsid = P('fc00:f::7');
  const pads = Array.from({ length: 125 }, (_, i) => P(`fc00:e::${(i + 1).toString(16)}`));
  const srh = srhForPath([bsid, ...pads, P('fc00:2::2')]); // 127 segments: the most an SRH holds
  const three = (seg: Buffer) => (seg.equals(bsid) ? [P('fc00:b::1:0:0'), P('fc00:c::1:0:0'), P('fc00:d::1:0:0')] : undefined);
  const d = classify(srh, cfg.locators, lookup, bsids(three));
  assert.equal(d.ok, false);
  assert.equal(d.ok ? '' : d.code, 'SRH_TOO_LONG');
  // a 2-segment path fits (127 onward), unless a return hop adds its SID as a visited segment
  const two = (seg: Buffer) => (seg.equals(bsid) ? [P('fc00:b::1:0:0'), P('fc00:c::1:0:0')] : undefined);
  assert.equal(classify(srh, cfg.locators, lookup, bsids(two)).ok, true);
  const ret = classify(srh, cfg.locators, lookup, bsids(two), { id: 7, sid: P('fc00:b::ffff:0:0') });
  assert.equal(ret.ok ? '' : ret.code, 'SRH_TOO_LONG');
});

test('property: classify never throws, whatever the path length, binding SID expansion and return hop', () => {
  const bsid = P('fc00:f::7');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 125 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), fc.boolean(), (pads, bsidAt, expandTo, withRet, ours) => {
      const rest = Array.from({ length: pads }, (_, i) => P(`fc00:e::${(i + 1).toString(16)}`));
      const path = bsidAt === 0 ? [bsid, ...rest, P('fc00:2::2')] : [...rest, bsid, P('fc00:2::2')];
      const inner = Array.from({ length: expandTo }, (_, i) => (i === 0 && ours ? P('fc00:b::1:0:0') : P(`fc00:c::${i + 1}`)));
      const d = classify(srhForPath(path), cfg.locators, lookup, bsids((s) => (s.equals(bsid) ? inner : undefined)), withRet ? { id: 7, sid: P('fc00:b::ffff:0:0') } : undefined);
      assert.equal(typeof d.ok, 'boolean');
      if (!d.ok) assert.match(d.code, /^(SRH_TOO_LONG|FLOW_NOT_OURS)$/);
    }),
    { numRuns: 1000 },
  );
});
