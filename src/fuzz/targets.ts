/**
 * The fuzz targets: every parser and loader that input from outside reaches. One descriptor per
 * target — its seeds (valid encodings), the arbitrary (seeds mutated, or random input) and the
 * oracle (what must hold for every input) — run by ./run.ts (`npm run fuzz`) and, with a small
 * count, by fuzz.test.ts (`npm test`). docs/security.md (Fuzzing) lists them.
 *
 * Oracles, for every target: only the project's typed error (SrError) escapes; a case takes under a
 * second (the runner checks). Per target: re-encoding what was decoded gives the same bytes (or the
 * same value) where the codec has an encoder; DNS answers always parse.
 */
import { PassThrough } from 'node:stream';
import type net from 'node:net';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { pino } from 'pino';
import YAML from 'yaml';
import { decodeConvertHeader, encodeConvertHeader, type ConvertHeader } from '../codec/convert.js';
import { clientReturnPathTlv, decodeReturnPathTlv, findReturnPath, replySrh, returnPathTlv, returnStep, TLV_RETURN_PATH } from '../codec/return-path.js';
import { decodeSid, encodeSid, sidLayout, type SidLayout } from '../codec/sid.js';
import { decodeSrh, describeSrh, encodeSrh, hmacTlv, onwardSrh, pathOf, srhForPath, SRH_MAX_SEGMENTS, type SrhTlv } from '../codec/srh.js';
import { BsidManager } from '../controller/bsid/manager.js';
import { parseResponse } from '../dns/query.js';
import { parseControllerConfig, validateControllerConfig } from '../controller/config.js';
import { handleMessage, type Services } from '../controller/dns/message.js';
import { decodeFunctionsOption, decodeHints, EDNS_OPTIONS, encodeFunctionsOption, encodeHints, OPT_APP_NAME, OPT_BANDWIDTH, OPT_FUNCTIONS, OPT_LATENCY, OPT_PORT } from '../dns/edns.js';
import {
  arpaName,
  decodeBsidRecord,
  decodeReturnHopRecord,
  decodeSrhRecord,
  encodeBsidRecord,
  encodeReturnHopRecord,
  encodeSrhRecord,
  RETURN_HOPS_NAME,
  TYPE_BSID_NAME,
  TYPE_RETURN_HOP_NAME,
  TYPE_RETURN_PATH_NAME,
  TYPE_SRH_NAME,
} from '../dns/records.js';
import { Resolver } from '../controller/resolver.js';
import { builtinTopologies, parseTopology } from '../lab/load.js';
import { readConfigText } from '../config/file.js';
import { readConvertHeader } from '../mptcp/converter.js';
import { readExample } from '../config/examples.js';
import { CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, decodeAttrs, encodeAttrs, genlMessage, NLMSG_ERROR, parseReplies, u16, u32, u8, type Attr } from '../mptcp/netlink.js';
import { buildCmsgs, parseCmsgs, type Cmsg } from '../native/cmsg.js';
import { formatAddress, parseAddress, parsePrefix } from '../net/ip6.js';
import { BindingLookup } from '../proxy/bindings.js';
import { classify, convertedPath, synPath } from '../proxy/classify.js';
import { parseProxyConfig } from '../proxy/config.js';
import { bytesArbitrary, bytesFrom, textArbitrary, textFrom, type LengthField, type MutatedBytes, type MutatedText } from './mutate.js';
import { check, Finding, same, total, typed, typedAsync } from './oracle.js';
import { MemoryAccessRouter } from '../access-router/memory.js';

/** One target, ready to run: the input arbitrary and the oracle for one input. */
export interface Prepared<T> {
  arbitrary: fc.Arbitrary<T>;
  /** runs one case; throws a Finding when an oracle fails */
  run(input: T): void | Promise<void>;
  /** the input as it was fed to the code under test (hex or text), for the report */
  show(input: T): string;
}

export interface FuzzTarget {
  name: string;
  /** what is fuzzed, and the oracles beyond "only SrError, under a second" */
  summary: string;
  /** where a finding is to be fixed */
  files: string[];
  prepare(): Prepared<any> | Promise<Prepared<any>>;
}

const a6 = (s: string): Buffer => parseAddress(s);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const showBytes = (b: Uint8Array): string => `${b.length} bytes: ${hex(b)}`;

/** A byte target from seeds, length fields and a check of one input. */
function bytesTarget(seeds: Buffer[], fields: LengthField[], run: (b: Buffer) => void | Promise<void>, maxRandom = 512): Prepared<MutatedBytes | Uint8Array> {
  return {
    arbitrary: bytesArbitrary(seeds, fields, maxRandom),
    run: (v) => run(bytesFrom(v, seeds, fields)),
    show: (v) => showBytes(bytesFrom(v, seeds, fields)),
  };
}

function textTarget(seeds: string[], run: (text: string) => void | Promise<void>): Prepared<MutatedText | string> {
  return { arbitrary: textArbitrary(seeds), run: (v) => run(textFrom(v, seeds)), show: (v) => JSON.stringify(textFrom(v, seeds)) };
}

// ---------------------------------------------------------------- SRH, SID, return path

const P1 = sidLayout('fc00:a::/80', 16);
const P1_RETURN = { id: 17, sid: a6('fc00:a::ffff') };

/** A binding SID with a long path behind it, as the controller may answer: expansions past 127 segments must be refused, not thrown. */
const BSID = a6('fc00:f::1');
const BSID_PATH = [a6('fc00:a::1:0:0'), a6('fc00:b::1:0:0'), a6('fc00:c::1:0:0')];

function srhSeeds(): Buffer[] {
  const path = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => a6(`fc00:${(i % 3) + 10}::${i + 1}:0:${i}`));
  return [
    srhForPath([a6('fc00:a::1:0:5a'), a6('fc00:2::2')]),
    srhForPath([a6('fc00:1::2'), a6('fc00:a::2:0:1'), a6('fc00:b::2:0:1'), a6('fc00:2::2')]),
    srhForPath([a6('fc00:a::1:0:0'), a6('fc00:2::2')], { tlvs: [clientReturnPathTlv([a6('fc00:b::ffff'), a6('fc00:a::ffff')], a6('fc00:1::2'))], tag: 17 }),
    srhForPath([a6('fc00:f::1'), a6('fc00:2::2')]), // a binding SID
    encodeSrh({ segments: path(5), segmentsLeft: 3, tlvs: [hmacTlv(7, Buffer.alloc(32, 0xab)), { type: 0, value: Buffer.alloc(0) }], flags: 0x80 }),
    encodeSrh({ segments: path(127), segmentsLeft: 126 }),
    encodeSrh({ segments: [...path(125), a6('fc00:a::3:0:0'), a6('fc00:2::2')].reverse(), segmentsLeft: 126 }),
    encodeSrh({ segments: path(2), segmentsLeft: 1, tlvs: [{ type: 4, value: Buffer.alloc(5) }, { type: TLV_RETURN_PATH, value: returnPathTlv([a6('fc00:a::ffff'), a6('::')], 1).value }] }),
    // binding SIDs whose expansion is long: 126 segments before the BSID; a BSID with a 15-hop return path
    srhForPath([...path(125), BSID, a6('fc00:2::2')]),
    srhForPath([BSID, ...path(124), a6('fc00:2::2')]),
    srhForPath([BSID, a6('fc00:2::2')], { tlvs: [clientReturnPathTlv(Array.from({ length: 14 }, (_, i) => a6(`fc00:${i + 20}::ffff`)), a6('fc00:1::2'))] }),
  ];
}
const SRH_FIELDS: LengthField[] = [
  { offset: 1, bytes: 1 }, // Hdr Ext Len
  { offset: 3, bytes: 1 }, // Segments Left
  { offset: 4, bytes: 1 }, // Last Entry
  { offset: 41, bytes: 1 }, // a TLV length (after two segments)
  { offset: 73, bytes: 1 }, // a TLV length (after four segments)
];


const srh: FuzzTarget = {
  name: 'srh',
  summary: 'decodeSrh on SYN routing headers; re-encoding what decodes gives the same bytes; the return-path TLV in it decodes or fails typed; classify() (the per-SYN decision, with binding SIDs and a return hop) returns a decision and never throws',
  files: ['src/codec/srh.ts', 'src/codec/return-path.ts', 'src/proxy/classify.ts'],
  prepare() {
    const seeds = srhSeeds();
    const functions = new Map([[1, 'copy'], [2, 'xor'], [3, 'meter']]);
    // the binding-SID step as bindings.ts takes it with BSID cached: its first use before the destination expanded
    const expanded = (path: Buffer[]): Buffer[] => {
      const i = path.findIndex((seg, k) => k < path.length - 1 && seg.equals(BSID));
      return i < 0 ? path : [...path.slice(0, i), ...BSID_PATH, ...path.slice(i + 1)];
    };
    return bytesTarget(seeds, SRH_FIELDS, (b) => {
      const d = typed('decodeSrh', () => decodeSrh(b));
      if (d.ok) {
        const s = d.value;
        const total8 = 8 * (b[1]! + 1);
        const re = typed('encodeSrh(decodeSrh(x))', () => encodeSrh({ nextHeader: s.nextHeader, segmentsLeft: s.segmentsLeft, flags: s.flags, tag: s.tag, segments: s.segments, tlvs: s.tlvs }));
        check(re.ok, `a decoded SRH does not re-encode: ${re.ok ? '' : re.error.message}`);
        same(hex(re.value), hex(b.subarray(0, total8)), 'encodeSrh(decodeSrh(x))');
        total('describeSrh', () => describeSrh(s));
        same(pathOf(s).length, s.segments.length, 'pathOf');
        const rp = typed('findReturnPath', () => findReturnPath(s.tlvs));
        if (rp.ok && rp.value) {
          const step = typed('returnStep', () => returnStep(rp.value!));
          if (step.ok) typed('replySrh', () => replySrh(step.value, pathOf(s), Math.min(1, s.segments.length - 1)));
        }
      }
      const syn = total('synPath', () => synPath(b));
      if (!syn.ok) return;
      for (const ret of [undefined, P1_RETURN]) {
        for (const path of [syn.path, expanded(syn.path)]) {
          const decision = total('classify', () => classify({ syn: { ...syn, path }, locators: [P1], lookup: (id) => functions.get(id), ...(ret ? { returnHop: ret } : {}) }));
          if (!decision.ok) continue;
          // an accepted onward path encodes (classify checked its size) into an SRH that decodes
          const next = typed('onwardSrh', () => onwardSrh(decision.onward));
          check(next.ok, `classify accepted an onward path that does not encode: ${next.ok ? '' : next.error.message}`);
          if (next.ok && next.value) check(typed('decodeSrh(onwardSrh)', () => decodeSrh(next.value!)).ok, 'classify produced an onward SRH that does not decode');
        }
      }
    });
  },
};

const sid: FuzzTarget = {
  name: 'sid',
  summary: 'sidLayout/decodeSid/encodeSid on any layout and address bytes: decode∘encode and encode∘decode are identities',
  files: ['src/codec/sid.ts'],
  prepare() {
    const arbitrary = fc.record({
      locator: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      length: fc.oneof(fc.constantFrom(0, 48, 64, 80, 96, 112, 127, 128), fc.integer({ min: -2, max: 130 })),
      functionBits: fc.oneof(fc.constantFrom(1, 8, 16, 32), fc.integer({ min: -1, max: 40 })),
      addr: fc.oneof(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 24 })),
      offset: fc.oneof(fc.constant(0), fc.integer({ min: -1, max: 10 })),
      fn: fc.oneof(fc.nat({ max: 70000 }), fc.constantFrom(-1, 2 ** 32, 0.5)),
      arg: fc.bigInt({ min: -1n, max: (1n << 128n) + 1n }),
    });
    return {
      arbitrary,
      show: (v: { locator: Uint8Array; addr: Uint8Array; arg: bigint }) => JSON.stringify({ ...v, locator: hex(v.locator), addr: hex(v.addr), arg: v.arg.toString() }),
      run(v: { locator: Uint8Array; length: number; functionBits: number; addr: Uint8Array; offset: number; fn: number; arg: bigint }) {
        const l = typed('sidLayout', () => sidLayout({ addr: Buffer.from(v.locator), length: v.length }, v.functionBits));
        if (!l.ok) return;
        const layout: SidLayout = l.value;
        const d = typed('decodeSid', () => decodeSid(layout, v.addr, v.offset));
        if (d.ok && d.value) {
          const re = typed('encodeSid(decodeSid(x))', () => encodeSid(layout, d.value!.fn, d.value!.arg));
          check(re.ok, `a decoded SID does not re-encode: ${re.ok ? '' : re.error.message}`);
          same(hex(re.value), hex(v.addr.subarray(v.offset, v.offset + 16)), 'encodeSid(decodeSid(x))');
        }
        const e = typed('encodeSid', () => encodeSid(layout, v.fn, v.arg));
        if (e.ok) same(decodeSid(layout, e.value), { fn: v.fn, arg: v.arg }, 'decodeSid(encodeSid(fn, arg))');
      },
    };
  },
};

const returnPath: FuzzTarget = {
  name: 'return-path',
  summary: 'decodeReturnPathTlv on TLV values; re-encoding gives the same value (reserved bytes zero); returnStep/replySrh on what decodes',
  files: ['src/codec/return-path.ts'],
  prepare() {
    const seeds = [
      returnPathTlv([a6('fc00:1::2')]).value,
      clientReturnPathTlv([a6('fc00:b::ffff'), a6('fc00:a::ffff')], a6('fc00:1::2')).value,
      returnPathTlv([a6('fc00:c::ffff'), a6('fc00:b::ffff'), a6('fc00:a::ffff'), a6('::')], 2).value,
      returnPathTlv(Array.from({ length: 15 }, (_, i) => a6(`fc00:${i + 1}::ffff`)), 14).value,
    ];
    return bytesTarget(seeds, [{ offset: 5, bytes: 1 }], (value) => {
      const d = typed('decodeReturnPathTlv', () => decodeReturnPathTlv({ type: TLV_RETURN_PATH, value }));
      if (!d.ok) return;
      const re = typed('returnPathTlv(decode(x))', () => returnPathTlv(d.value.path, d.value.segmentsLeft));
      check(re.ok, `a decoded return path does not re-encode: ${re.ok ? '' : re.error.message}`);
      const expected = Buffer.from(value);
      expected.fill(0, 0, 5);
      same(hex(re.value.value), hex(expected), 'returnPathTlv(decodeReturnPathTlv(x))');
      const step = typed('returnStep', () => returnStep(d.value));
      if (step.ok) {
        if (step.value.onward) check(typed('decode(onward)', () => decodeReturnPathTlv(step.value.onward!)).ok, 'the onward return-path TLV does not decode');
        typed('replySrh', () => replySrh(step.value, [a6('fc00:a::1:0:0'), a6('fc00:2::2')], 0));
      }
    }, 300);
  },
};

// ---------------------------------------------------------------- converter header

function convertSeeds(): Buffer[] {
  const base: ConvertHeader = { client: { address: 'fc00:1::2', port: 40000 }, server: { address: 'fc00:2::2', port: 80 }, sid: 'fc00:b::1:0:0', segments: [] };
  return [
    encodeConvertHeader(base),
    encodeConvertHeader({ ...base, segments: ['fc00:c::1:0:0', 'fc00:d::2:0:7'] }),
    encodeConvertHeader({ ...base, segments: ['fc00:c::1:0:0'], srhTlvs: [clientReturnPathTlv([a6('fc00:a::ffff')], a6('fc00:1::2'))] }),
    encodeConvertHeader({ ...base, segments: Array.from({ length: 15 }, (_, i) => `fc00:${i + 1}::1:0:0`) }),
    Buffer.concat([encodeConvertHeader({ ...base, srhTlvs: [{ type: 9, value: Buffer.from('abc') }] }), Buffer.from('GET / HTTP/1.1\r\n\r\n')]),
  ];
}
const CONVERT_FIELDS: LengthField[] = [
  { offset: 2, bytes: 2 }, // Header Length
  { offset: 57, bytes: 1 }, // the first TLV's length
  { offset: 59, bytes: 1 }, // an inner SRH TLV's length (SRH TLVs first)
];

/** What OP does with a decoded header: the path its classification starts from, a decision or a typed rejection, never a throw. */
function operatorSide(h: ConvertHeader): void {
  const syn = total('convertedPath', () => convertedPath(h));
  if (!syn.ok) return;
  check(syn.path.length <= SRH_MAX_SEGMENTS, `a converter header gives a path of ${syn.path.length} segments`);
  total('classify(convertedPath)', () => classify({ syn, locators: [P1], lookup: () => 'copy' }));
}

function convertOracle(b: Buffer): void {
  const d = typed('decodeConvertHeader', () => decodeConvertHeader(b));
  if (!d.ok) return;
  const h = d.value.header;
  const len = b.readUInt16BE(2);
  same(hex(d.value.rest), hex(b.subarray(len)), 'rest = the bytes after Header Length');
  const re = typed('encodeConvertHeader(decode(x))', () => encodeConvertHeader(h));
  check(re.ok, `a decoded converter header does not re-encode: ${re.ok ? '' : re.error.message}`);
  const again = typed('decode(encode(decode(x)))', () => decodeConvertHeader(re.value));
  check(again.ok, `a re-encoded converter header does not decode: ${again.ok ? '' : again.error.message}`);
  same(again.value.header, h, 'decode(encode(decode(x)))');
  operatorSide(h);
}

const convert: FuzzTarget = {
  name: 'convert',
  summary: 'decodeConvertHeader on whole headers: rest is what follows Header Length; decode∘encode∘decode = decode; the operator side can build its SRH from what decodes',
  files: ['src/codec/convert.ts'],
  prepare: () => bytesTarget(convertSeeds(), CONVERT_FIELDS, convertOracle),
};

/** A stream that stands in for the accepted MPTCP socket (readConvertHeader uses only stream methods). */
function fakeSocket(): PassThrough {
  return new PassThrough();
}

const convertChunked: FuzzTarget = {
  name: 'convert-stream',
  summary: 'readConvertHeader (src/mptcp/converter.ts) on the same inputs cut into random chunks, then the stream ends: the same header or the same error code as decoding the whole, and the payload after the header stays in the stream',
  files: ['src/mptcp/converter.ts', 'src/codec/convert.ts'],
  prepare() {
    const seeds = convertSeeds();
    const bytes = bytesArbitrary(seeds, CONVERT_FIELDS, 300);
    return {
      arbitrary: fc.record({ input: bytes, cuts: fc.array(fc.nat({ max: 1200 }), { maxLength: 6 }) }),
      show: (v: { input: MutatedBytes | Uint8Array; cuts: number[] }) => `${showBytes(bytesFrom(v.input, seeds, CONVERT_FIELDS))} cut at ${JSON.stringify(v.cuts)}`,
      async run(v: { input: MutatedBytes | Uint8Array; cuts: number[] }) {
        const b = bytesFrom(v.input, seeds, CONVERT_FIELDS);
        let whole: { ok: true; header: ConvertHeader; rest: Buffer } | { ok: false; code: string };
        const w = typed('decodeConvertHeader', () => decodeConvertHeader(b));
        if (w.ok) whole = { ok: true, header: w.value.header, rest: Buffer.from(w.value.rest) };
        else whole = { ok: false, code: w.error.code };
        const socket = fakeSocket();
        const cuts = [...new Set(v.cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
        const pending = typedAsync('readConvertHeader', () => readConvertHeader(socket as unknown as net.Socket, 5000));
        let from = 0;
        for (const c of [...cuts, b.length]) {
          if (c > from) socket.write(b.subarray(from, c));
          from = Math.max(from, c);
          await new Promise((r) => setImmediate(r));
        }
        socket.end();
        const got = await pending;
        if (whole.ok) {
          check(got.ok, `the whole input decodes, the stream gives ${got.ok ? '' : got.error.code}`);
          same(got.value, whole.header, 'readConvertHeader vs decodeConvertHeader');
          const left: Buffer[] = [];
          socket.on('data', (c: Buffer) => left.push(c));
          socket.resume();
          await new Promise((r) => socket.once('end', r));
          same(hex(Buffer.concat(left)), hex(whole.rest), 'the payload after the header, left in the stream');
        } else {
          check(!got.ok, 'the stream gives a header where the whole input does not decode');
          // a header cut short by the end of the stream is CONVERT_TRUNCATED there, the same code otherwise
          if (whole.code !== 'CONVERT_TRUNCATED') same(got.error.code, whole.code, 'error code, stream vs whole');
          else same(got.error.code, 'CONVERT_TRUNCATED', 'error code for a header the stream ended inside');
        }
      },
    };
  },
};

// ---------------------------------------------------------------- netlink, cmsg

const netlink: FuzzTarget = {
  name: 'netlink',
  summary: 'parseReplies/decodeAttrs (src/mptcp/netlink.ts) on kernel answers: never throw; a well-formed message decodes to the attributes it was built from',
  files: ['src/mptcp/netlink.ts'],
  prepare() {
    const attrs: Attr[] = [
      { type: 4, value: u32(0x1234) },
      { type: 1, value: [{ type: 1, value: u16(10) }, { type: 4, value: a6('fc00:1::1') }, { type: 2, value: u8(2) }] },
    ];
    const family = (seq: number): Buffer => {
      const m = genlMessage(0x10, 1, 2, seq, [{ type: CTRL_ATTR_FAMILY_NAME, value: Buffer.from('mptcp_pm\0') }, { type: CTRL_ATTR_FAMILY_ID, value: u16(33) }]);
      return m;
    };
    const ack = (seq: number, errno: number): Buffer => {
      const b = Buffer.alloc(36);
      b.writeUInt32LE(36, 0);
      b.writeUInt16LE(NLMSG_ERROR, 4);
      b.writeUInt32LE(seq, 8);
      b.writeInt32LE(errno, 16);
      return b;
    };
    const seeds = [Buffer.concat([family(1), ack(1, 0)]), genlMessage(33, 10, 1, 7, attrs), ack(9, -107), Buffer.concat([ack(1, 0), ack(2, -22), genlMessage(33, 7, 1, 3, attrs)])];
    const fields: LengthField[] = [
      { offset: 0, bytes: 4, endian: 'le' },
      { offset: 20, bytes: 2, endian: 'le' },
      { offset: 36, bytes: 4, endian: 'le' },
    ];
    return bytesTarget(seeds, fields, (b) => {
      const replies = total('parseReplies', () => parseReplies(b));
      for (const r of replies) {
        if (r.attrs) for (const v of r.attrs.values()) total('decodeAttrs(nested)', () => decodeAttrs(v));
      }
      total('decodeAttrs', () => decodeAttrs(b));
      // a message as built decodes back to its attributes
      const rebuilt = genlMessage(33, 10, 1, 7, [...decodeAttrs(b.subarray(20))].map(([type, value]) => ({ type, value })));
      const back = parseReplies(rebuilt)[0];
      check(back !== undefined, 'a rebuilt message does not parse');
      same([...back.attrs!].map(([t, v]) => [t, hex(v)]), [...decodeAttrs(b.subarray(20))].map(([t, v]) => [t, hex(v)]), 'parseReplies(genlMessage(attrs))');
      total('encodeAttrs', () => encodeAttrs([...decodeAttrs(b)].map(([type, value]) => ({ type, value }))));
    });
  },
};

const cmsg: FuzzTarget = {
  name: 'cmsg',
  summary: 'parseCmsgs (src/native/cmsg.ts) on ancillary data: CMSG_MALFORMED or records; parse∘build∘parse = parse',
  files: ['src/native/cmsg.ts'],
  prepare() {
    const srhBytes = srhForPath([a6('fc00:a::1:0:0'), a6('fc00:2::2')]);
    const recs = (...r: Cmsg[]): Cmsg[] => r;
    const seeds = [
      buildCmsgs(recs({ level: 41, type: 57, data: srhBytes })),
      buildCmsgs(recs({ level: 41, type: 50, data: Buffer.alloc(20, 1) }, { level: 41, type: 57, data: srhBytes }, { level: 41, type: 8, data: Buffer.alloc(4) })),
      buildCmsgs(recs({ level: 41, type: 57, data: srhBytes }), 4),
      Buffer.alloc(0),
    ];
    const fields: LengthField[] = [
      { offset: 0, bytes: 8, endian: 'le' },
      { offset: 0, bytes: 4, endian: 'le' },
      { offset: 48, bytes: 8, endian: 'le' },
    ];
    return bytesTarget(seeds, fields, (b) => {
      for (const size of [8, 4]) {
        const p = typed(`parseCmsgs(x, ${size})`, () => parseCmsgs(b, size));
        if (!p.ok) continue;
        const again = typed('parseCmsgs(buildCmsgs(parseCmsgs(x)))', () => parseCmsgs(buildCmsgs(p.value, size), size));
        check(again.ok, 'rebuilt ancillary data does not parse');
        same(again.value.map((r) => [r.level, r.type, hex(r.data)]), p.value.map((r) => [r.level, r.type, hex(r.data)]), 'parse∘build∘parse');
      }
    });
  },
};

// ---------------------------------------------------------------- the controller's DNS handler


function dnsQuery(name: string, type: string, o: { id?: number; options?: { code: number; data: Buffer }[]; size?: number; version?: number; edns?: boolean } = {}): Buffer {
  const edns = o.edns ?? (o.options !== undefined || o.size !== undefined || o.version !== undefined);
  return dnsPacket.encode({
    type: 'query',
    id: o.id ?? 0x4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as 'AAAA', name }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: o.size ?? 1232, ednsVersion: o.version ?? 0, options: o.options ?? [] } as unknown as dnsPacket.Answer] : [],
  });
}

function dnsSeeds(): Buffer[] {
  const u32be = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return b;
  };
  return [
    dnsQuery('plain.lab.example', 'AAAA'),
    dnsQuery('server.lab.example', 'AAAA', { options: [{ code: OPT_FUNCTIONS, data: encodeFunctionsOption(['xor', 'xor']) }] }),
    dnsQuery('server.lab.example', 'AAAA', { options: [{ code: OPT_FUNCTIONS, data: encodeFunctionsOption(['copy']) }, { code: OPT_PORT, data: Buffer.from([0, 80]) }, { code: OPT_APP_NAME, data: Buffer.from('curl') }] }),
    dnsQuery('server.lab.example', 'AAAA', { options: [{ code: OPT_BANDWIDTH, data: u32be(50_000) }, { code: OPT_LATENCY, data: u32be(20) }, { code: OPT_FUNCTIONS, data: encodeFunctionsOption(['compress']) }] }),
    dnsQuery('big.lab.example', 'AAAA', { size: 512 }),
    dnsQuery('big.lab.example', 'AAAA', { size: 65535, options: [{ code: OPT_FUNCTIONS, data: encodeFunctionsOption(['xor']) }] }),
    dnsQuery(arpaName('fc00:f::1234'), TYPE_SRH_NAME),
    dnsQuery(RETURN_HOPS_NAME, TYPE_RETURN_HOP_NAME),
    dnsQuery('v4.lab.example', 'A'),
    dnsQuery('lab.example', 'ANY', { version: 1 }),
    dnsQuery('www.elsewhere.example', 'AAAA', { edns: true }),
    dnsQuery('denied.lab.example', 'AAAA', { options: [{ code: OPT_FUNCTIONS, data: Buffer.from('') }] }),
  ];
}
const DNS_FIELDS: LengthField[] = [
  { offset: 2, bytes: 2 }, // flags
  { offset: 4, bytes: 2 }, // QDCOUNT
  { offset: 6, bytes: 2 }, // ANCOUNT
  { offset: 8, bytes: 2 }, // NSCOUNT
  { offset: 10, bytes: 2 }, // ARCOUNT
];

/** The services the controller answers with: Fig. 1 (paths, return paths), and the access lab (binding SIDs, health). */
function dnsServices(): Services[] {
  const log = pino({ level: 'silent' });
  const fig1 = YAML.parse(readExample('controller.yaml')) as Record<string, any>;
  fig1['policies'].push({ clients: 'fc00:1::/64', destination: 'plain.lab.example', require: ['copy'], returnPath: true });
  const access = YAML.parse(readExample('controller-access.yaml')) as Record<string, any>;
  access['bindingSids'] = { ...access['bindingSids'], lookupFrom: ['::1/128'] };
  const accessCfg = validateControllerConfig(access);
  const bsids = new BsidManager(new Map([['ar', { agent: new MemoryAccessRouter(), prefix: accessCfg.accessRouters[0]!.bsidPrefix }]]), { lifetimeMs: 60_000, log });
  return [{ resolver: new Resolver(validateControllerConfig(fig1)) }, { resolver: new Resolver(accessCfg), bsids }];
}

const dns: FuzzTarget = {
  name: 'dns',
  summary: "the controller's DNS handler (handleMessage: UDP and TCP, Fig. 1 and access-lab configs with binding SIDs): never throws; silence or an answer that dns-packet parses, with the query's id and QR set",
  files: ['src/controller/dns/message.ts', 'src/dns/edns.ts', 'src/dns/records.ts', 'src/controller/binding.ts', 'src/controller/resolver.ts'],
  prepare() {
    const seeds = dnsSeeds();
    const services = dnsServices();
    const clients = ['fc00:1::2', '::1', 'fc00:99::1', 'fc00:11::2'];
    const bytes = bytesArbitrary(seeds, DNS_FIELDS, 300);
    type In = { input: MutatedBytes | Uint8Array; services: number; client: number; tcp: boolean };
    return {
      arbitrary: fc.record({ input: bytes, services: fc.nat({ max: services.length - 1 }), client: fc.nat({ max: clients.length - 1 }), tcp: fc.boolean() }),
      show: (v: In) => `${showBytes(bytesFrom(v.input, seeds, DNS_FIELDS))} (services ${v.services}, client ${clients[v.client]}, ${v.tcp ? 'tcp' : 'udp'})`,
      async run(v: In) {
        const b = bytesFrom(v.input, seeds, DNS_FIELDS);
        let h;
        try {
          h = await handleMessage(services[v.services]!, b, clients[v.client]!, v.tcp ? 'tcp' : 'udp');
        } catch (e) {
          throw new Finding(`handleMessage rejected: ${(e as Error).stack ?? String(e)}`, { cause: e });
        }
        check(!/internal error/.test(h.log.reason ?? ''), `SERVFAIL from an exception inside the handler: ${h.log.reason}`);
        if (h.response === null) return;
        const r = h.response;
        check(r.length >= 12, `an answer of ${r.length} bytes`);
        check(r.readUInt16BE(0) === b.readUInt16BE(0), 'the answer does not carry the query id');
        check((r.readUInt16BE(2) & 0x8000) !== 0, 'the answer has QR clear');
        total('dnsPacket.decode(answer)', () => dnsPacket.decode(r));
        if (!v.tcp) check(r.length <= 65535, `a UDP answer of ${r.length} bytes`);
      },
    };
  },
};

// ---------------------------------------------------------------- answers the proxies and clients parse

function answerSeeds(): Buffer[] {
  const q = [{ type: TYPE_SRH_NAME as 'AAAA', name: arpaName('fc00:f::1') }];
  const rec = (segments: string[], ttl = 30) => ({ type: TYPE_SRH_NAME, name: arpaName('fc00:f::1'), ttl, class: 'IN', data: encodeSrhRecord(segments) }) as unknown as dnsPacket.Answer;
  return [
    dnsPacket.encode({ type: 'response', id: 1, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: q, answers: [rec(['fc00:a::1:0:0', 'fc00:b::1:0:0'])] }),
    dnsPacket.encode({ type: 'response', id: 1, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: q, answers: [rec(Array.from({ length: 127 }, (_, i) => `fc00:a::${i + 1}:0:0`), 0)] }),
    dnsPacket.encode({ type: 'response', id: 1, flags: 3, questions: q }), // NXDOMAIN
    dnsPacket.encode({ type: 'response', id: 1, flags: 5, questions: q }), // REFUSED
    dnsPacket.encode({ type: 'response', id: 1, flags: 0x0200, questions: q }), // TC
  ];
}

const bsidAnswer: FuzzTarget = {
  name: 'bsid-answer',
  summary: "the proxy's binding-SID lookup (src/proxy/bindings.ts) fed the controller's answer: resolves or fails with BSID_LOOKUP_FAILED; what it caches are 16-byte segments, at most 127",
  files: ['src/proxy/bindings.ts', 'src/dns/query.ts', 'src/dns/records.ts'],
  prepare() {
    const seeds = answerSeeds();
    return bytesTarget(seeds, DNS_FIELDS, async (b) => {
      const lookup = new BindingLookup({
        controllers: ['[::1]:53'],
        prefixes: [parsePrefix('fc00:f::/64')],
        timeoutMs: 100,
        maxCacheMs: 60_000,
        negativeCacheMs: 1000,
        cacheSize: 64,
        maxCandidates: 1,
        maxInflight: 4,
        exchange: () => Promise.resolve({ answer: b, transport: 'tcp' }),
      });
      await typedAsync('BindingLookup.prefetch', () => lookup.prefetch(['fc00:f::1']));
      const segs = total('BindingLookup.expand', () => lookup.expand(a6('fc00:f::1')));
      if (segs) {
        check(segs.length >= 1 && segs.length <= 127, `${segs.length} segments cached`);
        check(segs.every((s) => Buffer.isBuffer(s) && s.length === 16), 'a cached segment is not 16 bytes');
      }
    }, 300);
  },
};

const dnsAnswer: FuzzTarget = {
  name: 'dns-answer',
  summary: "the client's parsing of controller answers (parseResponse in src/client/resolve.ts (and src/dns/query.ts): resolve, steer, return-agent): a result or a typed error",
  files: ['src/client/resolve.ts (and src/dns/query.ts)'],
  prepare() {
    const seeds = [
      ...answerSeeds(),
      dnsPacket.encode({
        type: 'response',
        id: 2,
        flags: dnsPacket.AUTHORITATIVE_ANSWER,
        questions: [{ type: 'AAAA', name: 'server.lab.example' }],
        answers: [{ type: 'AAAA', name: 'server.lab.example', ttl: 30, data: 'fc00:2::2' }],
        additionals: [
          { type: TYPE_SRH_NAME, name: 'server.lab.example', ttl: 30, data: encodeSrhRecord(['fc00:a::2:0:5a', 'fc00:2::2']) },
          { type: TYPE_RETURN_PATH_NAME, name: 'server.lab.example', ttl: 30, data: encodeSrhRecord(['fc00:a::ffff', '::']) },
          { type: TYPE_BSID_NAME, name: 'server.lab.example', ttl: 30, data: encodeBsidRecord({ priority: 10, source: 'fc00:1::2', prefixLength: 128, bsid: 'fc00:f::9' }) },
        ] as unknown as dnsPacket.Answer[],
      }),
    ];
    return bytesTarget(seeds, DNS_FIELDS, (b) => void typed('parseResponse', () => parseResponse(b, 'server.lab.example')), 300);
  },
};

const dnsRecords: FuzzTarget = {
  name: 'dns-records',
  summary: 'the record decoders (src/dns/records.ts: SRH, BSID, return hop) and every EDNS option of the table (src/dns/edns.ts): null or a value that re-encodes to the same bytes (an option: to bytes that decode the same); never throw',
  files: ['src/dns/records.ts', 'src/dns/edns.ts'],
  prepare() {
    const seeds = [
      encodeSrhRecord(['fc00:a::1:0:0', 'fc00:2::2']),
      encodeBsidRecord({ priority: 10, source: 'fc00:1::', prefixLength: 64, bsid: 'fc00:f::1' }),
      encodeReturnHopRecord({ id: 17, sid: 'fc00:a::ffff' }),
      encodeFunctionsOption(['xor', 'copy', 'compress']),
      Buffer.from([0, 80]),
    ];
    return bytesTarget(seeds, [{ offset: 0, bytes: 1 }, { offset: 18, bytes: 1 }], (b) => {
      const srhRec = total('decodeSrhRecord', () => decodeSrhRecord(b));
      if (srhRec) same(hex(encodeSrhRecord(srhRec)), hex(b), 'encodeSrhRecord(decodeSrhRecord(x))');
      const bsid = total('decodeBsidRecord', () => decodeBsidRecord(b));
      if (bsid) same(hex(encodeBsidRecord(bsid)), hex(b), 'encodeBsidRecord(decodeBsidRecord(x))');
      const hop = total('decodeReturnHopRecord', () => decodeReturnHopRecord(b));
      if (hop) same(hex(encodeReturnHopRecord(hop)), hex(b), 'encodeReturnHopRecord(decodeReturnHopRecord(x))');
      const names = total('decodeFunctionsOption', () => decodeFunctionsOption(b));
      if (names && names.length > 0) same(decodeFunctionsOption(encodeFunctionsOption(names)), names, 'decode∘encode of the functions option');
      for (const o of EDNS_OPTIONS) {
        const got = total(`decodeHints(${o.code})`, () => decodeHints([{ code: o.code, data: b }]));
        if (!got.ok) continue;
        // what a decoded option encodes to decodes again and encodes to the same bytes (empty values are not sent)
        const once = encodeHints(got.hints);
        const again = decodeHints(once);
        check(again.ok, `option ${o.code} (${o.name}): encodeHints wrote what decodeHints refuses`);
        if (again.ok) same(encodeHints(again.hints).map((x) => hex(x.data)), once.map((x) => hex(x.data)), `encodeHints∘decodeHints∘encodeHints of option ${o.code} (${o.name})`);
      }
      total('formatAddress', () => b.length >= 16 && formatAddress(b));
    }, 64);
  },
};

// ---------------------------------------------------------------- config loaders

const proxyConfig: FuzzTarget = {
  name: 'proxy-config',
  summary: 'parseProxyConfig on YAML text (the examples, mutated): a config or CONFIG_SYNTAX/CONFIG_INVALID',
  files: ['src/proxy/config.ts', 'src/config/duration.ts', 'src/config/file.ts', 'src/config/schemas.ts', 'src/config/deprecated.ts'],
  prepare: () =>
    textTarget([...['mptcp-cp.yaml', 'mptcp-op.yaml', 'proxy-access-p1a.yaml', 'proxy-access-p2.yaml', 'proxy.yaml'].map(readExample), 'port: 7777\nworkers: 2\nlocators: [{ prefix: "fc00:a::/80", functionBits: 16 }]\nfunctions:\n  - { id: 1, function: copy }\n  - { id: 2, chain: [ { function: meter, options: { maxSeries: 10 } }, { function: xor, options: { passes: 2 } } ] }\ntimeouts: { connect: 5s, idle: 5m, drain: 10s }\nreturnPath: { id: 17, sid: "fc00:a::ffff" }\nreturnHops: [ { id: 18, sid: "fc00:b::ffff" } ]\nbindingSids: { controller: "[fc00:9::2]:53", timeout: 2s, maxCache: 60s }\nadmin: { address: "::1", port: 7778 }\nnetconf: { mark: 1, table: 100 }\n'], (text) => {
      const r = typed('parseProxyConfig', () => parseProxyConfig(text, 'fuzz.yaml', '/nonexistent'));
      if (r.ok) {
        const t = r.value.timeouts;
        for (const [k, v] of Object.entries(t)) check(Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 1, `timeouts.${k} = ${v}: not a duration a timer honours`);
      } else check(['CONFIG_SYNTAX', 'CONFIG_INVALID'].includes(r.error.code), `parseProxyConfig failed with ${r.error.code}`);
    }),
};

const controllerConfig: FuzzTarget = {
  name: 'controller-config',
  summary: 'parseControllerConfig on YAML text (Fig. 1 and access examples, mutated), then building the resolver: a config or CONFIG_SYNTAX/CONFIG_INVALID',
  files: ['src/controller/config.ts', 'src/config/schemas.ts', 'src/config/deprecated.ts', 'src/controller/resolver.ts', 'src/controller/graph/graph.ts'],
  prepare: () =>
    textTarget(['controller.yaml', 'controller-access.yaml'].map(readExample), (text) => {
      const r = typed('parseControllerConfig', () => parseControllerConfig(text, 'fuzz.yaml'));
      if (r.ok) typed('new Resolver(config)', () => new Resolver(r.value));
      else check(['CONFIG_SYNTAX', 'CONFIG_INVALID'].includes(r.error.code), `parseControllerConfig failed with ${r.error.code}`);
    }),
};

const labTopology: FuzzTarget = {
  name: 'lab-topology',
  summary: 'parseTopology on YAML text (the built-in topologies, mutated): a topology or TOPOLOGY_INVALID/CONFIG_SYNTAX',
  files: ['src/lab/topology.ts', 'src/lab/schema.ts', 'src/lab/load.ts'],
  prepare: () =>
    textTarget(
      builtinTopologies().map((t) => readConfigText(t.path)),
      (text) => {
        const r = typed('parseTopology', () => parseTopology(text, 'fuzz.yaml'));
        if (!r.ok) check(['TOPOLOGY_INVALID', 'CONFIG_SYNTAX'].includes(r.error.code), `parseTopology failed with ${r.error.code}`);
      },
    ),
};

/** Every target, in the order they run. Names are unique (fuzz.test.ts checks). */
export const FUZZ_TARGETS: readonly FuzzTarget[] = [srh, sid, returnPath, convert, convertChunked, netlink, cmsg, dns, bsidAnswer, dnsAnswer, dnsRecords, proxyConfig, controllerConfig, labTopology];

export type { SrhTlv };
