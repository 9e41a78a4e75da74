import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeSrh, encodeSrh, pathOf, srhForPath } from '../codec/srh.js';
import { formatAddress, parseAddress } from '../net/ip6.js';
import { clientReturnPathTlv, decodeReturnPathTlv, findReturnPath, returnPathTlv } from '../codec/return-path.js';
import { onwardSrh } from '../codec/srh.js';
import { classify, convertedPath, synPath, type ReturnHop } from './classify.js';
import { parseProxyConfig } from './config.js';

const cfg = parseProxyConfig(`
locators: [ { prefix: "fc00:b::/80" }, { prefix: "fc00:bb::/64", functionBits: 8 } ]
functions: [ { id: 1, function: copy }, { id: 2, function: xor } ]
netconf: off
`);
const P = (s: string) => parseAddress(s);
const lookup = (id: number) => cfg.functions.find((f) => f.id === id);
/** The SYN path as the worker takes it without binding SIDs: decoded once, classified once; the onward path encoded as the socket does. */
function decideSrh(srh: Buffer | null, returnHop?: ReturnHop) {
  const syn = synPath(srh);
  if (!syn.ok) return syn;
  const d = classify({ syn, locators: cfg.locators, lookup, ...(returnHop ? { returnHop } : {}) });
  return d.ok ? { ...d, nextSrh: onwardSrh(d.onward) } : d;
}
const run = (path: string[]) => decideSrh(srhForPath(path.map(P)));

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
  assert.deepEqual(decideSrh(null), { ok: false, code: 'FLOW_NO_SRH', reason: 'the SYN carried no routing header' });
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
  const malformed = decideSrh(bad);
  assert.equal(malformed.ok ? '' : malformed.code, 'SRH_BAD_TYPE');
});

test('a return hop: the onward SRH carries its id as the tag and its SID as a visited segment, also when only the destination remains', () => {
  const d = decideSrh(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')]), { id: 17, sid: P('fc00:b::ffff') });
  assert.ok(d.ok);
  const next = decodeSrh(d.nextSrh!);
  assert.equal(next.tag, 17);
  assert.equal(next.segmentsLeft, 0);
  assert.deepEqual(pathOf(next).map((b) => formatAddress(b)), ['fc00:b::ffff', 'fc00:2::2'], 'our return SID, visited, then the destination');
  const plain = decideSrh(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')]));
  assert.ok(plain.ok);
  assert.equal(plain.nextSrh, null);
  assert.equal(plain.replySrh, null, 'nothing visited before us: replies go straight back');
});

test('reversed: replies go back along the segments visited before ours', () => {
  // what a previous proxy with return SID fc00:a::ffff sends: [fc00:a::ffff (visited), us, server]
  const d = decideSrh(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')], { visited: [P('fc00:a::ffff')] }));
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
  const bad = decideSrh(srhForPath(path, { tlvs: [{ type: 6, value: Buffer.alloc(6 + 10) }] }));
  assert.ok(!bad.ok);
  assert.equal(bad.code, 'SRH_BAD_TLV');
  assert.match(bad.reason, /return-path TLV value is 16 bytes/);
  const sl = Buffer.alloc(6 + 16);
  sl[5] = 3;
  const badSl = decideSrh(srhForPath(path, { tlvs: [{ type: 6, value: sl }] }));
  assert.ok(!badSl.ok);
  assert.match(badSl.reason, /Segments Left 3 with 1 segments/);
  const good = decideSrh(srhForPath(path, { tlvs: [returnPathTlv([P('fc00:a::1:0:0'), P('fc00:1::2')])] }));
  assert.ok(good.ok);
});

test('a return path: replies via the sender’s entry, our entry picks the downstream function, the TLV goes on one step', () => {
  // client → fc00:a (p) → fc00:b (us, fn 1 = copy) → server; return entries: ours fc00:b::2:0:9 (xor), p's fc00:a::ffff
  const fromP = returnPathTlv([P('fc00:b::2:0:9'), P('fc00:a::ffff'), P('::')], 1);
  const d = decideSrh(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')], { tlvs: [fromP] }));
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
  const first = decideSrh(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')], { tlvs: [clientReturnPathTlv([P('fc00:b::ffff')])] }));
  assert.ok(first.ok);
  assert.equal(first.replySrh, null);
  assert.equal(first.downstream, undefined);
  assert.equal(decodeReturnPathTlv(decodeSrh(first.nextSrh!).tlvs.find((t) => t.type === 6)!).segmentsLeft, 1);
  // no entry for us: the TLV is not carried on (the next hop's replies would be steered to the wrong proxy)
  const spent = decideSrh(srhForPath([P('fc00:b::1:0:0'), P('fc00:2::2')], { tlvs: [returnPathTlv([P('fc00:a::ffff'), P('::')], 1)] }));
  assert.ok(spent.ok);
  assert.equal(spent.nextSrh, null);
  assert.equal(spent.replyVia, 'fc00:a::ffff');
});


test('a converted flow: the path comes from the converter header, no SRH in between; a bad return-path TLV in it rejects', () => {
  const h = { client: { address: 'fc00:1::2', port: 40000 }, server: { address: 'fc00:2::2', port: 80 }, sid: 'fc00:b::1:0:0', segments: ['fc00:c::1:0:0'] };
  const syn = convertedPath({ ...h, srhTlvs: [returnPathTlv([P('fc00:b::2:0:9'), P('fc00:a::ffff'), P('::')], 1)] });
  assert.ok(syn.ok);
  assert.deepEqual(syn.path.map((b) => formatAddress(b)), ['fc00:b::1:0:0', 'fc00:c::1:0:0', 'fc00:2::2']);
  const d = classify({ syn, locators: cfg.locators, lookup });
  assert.ok(d.ok);
  assert.equal(d.functionId, 1);
  assert.deepEqual(d.onward.path.map((b) => formatAddress(b)), ['fc00:c::1:0:0', 'fc00:2::2'], 'the onward path, as segments');
  assert.equal(findReturnPath(d.onward.tlvs)?.segmentsLeft, 2, 'the return-path TLV goes on one step');
  const bad = convertedPath({ ...h, srhTlvs: [{ type: 6, value: Buffer.alloc(6 + 10) }] });
  assert.equal(bad.ok ? '' : bad.code, 'SRH_BAD_TLV');
});

test('the onward path is segments: encoded by the socket, with no SRH when only the destination is left and nothing to carry', () => {
  const d = run(['fc00:b::1:0:0', 'fc00:2::2']);
  assert.ok(d.ok);
  assert.deepEqual(d.onward, { path: [P('fc00:2::2')], tlvs: [] });
  assert.equal(onwardSrh(d.onward), null);
});
