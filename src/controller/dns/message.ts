/**
 * One DNS message in, one out: decode → dispatch on the table of query kinds (QUERY_KINDS) → encode.
 * The wire format only: what to answer is the resolver's, binding.ts's and access.ts's decision.
 *
 * Query kinds, tried in order (the first that matches answers):
 *   return-hops  TYPE 65283 for return-hops.srv6pipes.arpa — private: every proxy's return id and SID
 *   bsid-lookup  TYPE 65281 for an ip6.arpa name — private: what a binding SID stands for (a proxy asks)
 *   forward      a name in no zone, with an upstream — forwarded (upstream.allow, upstream.rate)
 *   path         anything else: the path query (AAAA, with the EDNS0 options of dns/edns.ts)
 *
 * Never throws:
 *   shorter than a header, or a response (QR set) → no answer (silence);
 *   header readable but the rest malformed → FORMERR (header only, the query's id);
 *   opcode other than QUERY → NOTIMP; EDNS version ≠ 0 → BADVERS;
 *   over UDP, an answer larger than 512 bytes (or the query's EDNS0 payload size, at most 1232
 *   whatever the client says: no amplification past that) → TC set, answers dropped: the client
 *   retries over TCP, which gets the whole answer. A forwarded answer is held to the same size.
 * Access (access.ts): private lookups only from the proxies and `privateLookups.allow`, forwarding
 * only for `upstream.allow` and within `upstream.rate`; a binding SID cap → REFUSED.
 */
import dnsPacket from 'dns-packet';
import { SrError } from '../../core/errors.js';
import { mayForward, mayLookUpPrivate } from '../access.js';
import { answerPaths, lookupBinding, within } from '../binding.js';
import type { BsidManager } from '../bsid/manager.js';
import type { Resolver } from '../resolver.js';
import { normalizeName } from '../config.js';
import { decodeHints, type QueryHints } from '../../dns/edns.js';
import { addressFromArpa, encodeBsidRecord, encodeSrhRecord, TYPE_BSID_NAME, TYPE_RETURN_PATH_NAME, TYPE_SRH_NAME, TYPE_RETURN_HOP_NAME, RETURN_HOPS_NAME, encodeReturnHopRecord } from '../../dns/records.js';

/** What answering needs besides the message: the resolver, and optionally binding SIDs and an upstream. */
export interface Services {
  resolver: Resolver;
  /** set when binding SIDs are on */
  bsids?: BsidManager;
  /** forwards a query for a name outside the zones to the upstream resolver; resolves with its answer */
  forward?: (query: Buffer, transport: 'udp' | 'tcp') => Promise<Buffer>;
  /** may this client have one more query forwarded now? (`upstream.rate`; default: yes) */
  forwardRate?: (client: string) => boolean;
}

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const QR = 0x8000;
const AA = 1 << 10;
const TC = 1 << 9;
const RD = 1 << 8;
/** the payload size we advertise (the DNS flag day 2020 value), and the most we send over UDP */
export const OUR_UDP_SIZE = 1232;

/** The largest UDP answer for a query: 512 without EDNS, else its payload size within 512..1232. */
export function udpLimit(ednsSize: number | undefined): number {
  return Math.max(512, Math.min(ednsSize ?? 512, OUR_UDP_SIZE));
}

export interface QueryLog {
  client: string;
  transport: 'udp' | 'tcp';
  id?: number;
  name?: string;
  type?: string;
  rcode?: string;
  reason?: string;
  app?: string;
  requested?: string[];
  paths?: { destination: string; segments: string[]; bsid?: string; returnPath?: string[] }[];
  forwarded?: boolean;
  truncated?: boolean;
}

export interface Handled {
  response: Buffer | null;
  log: QueryLog;
}

/** A header-only response: the query's id, opcode and RD; QR and the rcode set. */
export function headerOnly(query: Uint8Array, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  out[0] = query[0]!;
  out[1] = query[1]!;
  const flags = (query[2]! << 8) | query[3]!;
  out.writeUInt16BE(QR | (flags & 0x7800) | (flags & RD) | (rcode & 0xf), 2);
  return out;
}

const rcodeName = (n: number): string => Object.entries(RCODE).find(([, v]) => v === n)?.[0] ?? String(n);

interface OptRecord {
  type: 'OPT';
  name: string;
  udpPayloadSize?: number;
  ednsVersion?: number;
  options?: { code: number; data?: Buffer }[];
}

// ---- decode -------------------------------------------------------------------------------------

/** A query as the dispatch sees it: one question (class IN), its EDNS0 record and the hints it carries. */
export interface DecodedQuery {
  id: number;
  flags: number;
  question: { name: string; type: string };
  /** the query's OPT record (EDNS0), version 0 */
  opt?: OptRecord;
  hints: QueryHints;
}

type Decoded = { ok: true; query: DecodedQuery } | { ok: false; handled: Handled };

/** The message as a query, or the answer that refuses it (silence, FORMERR, NOTIMP, BADVERS). */
export function decodeQuery(buf: Buffer, log: QueryLog): Decoded {
  const done = (handled: Handled): Decoded => ({ ok: false, handled });
  const fail = (rcode: number, reason: string): Decoded => done({ response: headerOnly(buf, rcode), log: { ...log, rcode: rcodeName(rcode), reason } });
  if (buf.length < 12) return done({ response: null, log: { ...log, reason: `runt message (${buf.length} bytes)` } });
  log.id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & QR) return done({ response: null, log: { ...log, reason: 'a response, not a query' } });
  if ((flags >> 11) & 0xf) return fail(RCODE.NOTIMP, `opcode ${(flags >> 11) & 0xf}`);
  let p: dnsPacket.DecodedPacket;
  try {
    p = dnsPacket.decode(buf);
  } catch (e) {
    return fail(RCODE.FORMERR, `malformed: ${(e as Error).message}`);
  }
  if (p.questions?.length !== 1) return fail(RCODE.FORMERR, `${p.questions?.length ?? 0} questions (one expected)`);
  const q = p.questions[0]!;
  log.name = q.name;
  log.type = q.type;
  // the name goes back in the answer as text: a label holding a dot or bytes that are not UTF-8 would
  // not encode to the same name (or to a valid one)
  if (!echoableName(q.name)) return fail(RCODE.FORMERR, 'a label of the name is empty, longer than 63 bytes, holds a dot or is not UTF-8');
  const opts = (p.additionals ?? []).filter((r) => r.type === 'OPT') as unknown as OptRecord[];
  if (opts.length > 1) return fail(RCODE.FORMERR, 'more than one OPT record');
  const opt = opts[0];
  if (opt && opt.name !== '.') return fail(RCODE.FORMERR, 'OPT record not owned by the root');
  const hints = decodeHints(opt?.options ?? []);
  if (!hints.ok) return fail(RCODE.FORMERR, hints.reason);
  if (hints.hints.app !== undefined) log.app = hints.hints.app;
  if (hints.hints.functions?.length) log.requested = [...hints.hints.functions];
  const query: DecodedQuery = { id: p.id ?? 0, flags: p.flags ?? 0, question: { name: q.name, type: q.type }, ...(opt ? { opt } : {}), hints: hints.hints };
  const ednsVersion = opt?.ednsVersion ?? 0;
  if (ednsVersion !== 0) {
    const response = dnsPacket.encode({ ...responseBase(query), questions: [], additionals: replyOpt(query, 1) } as unknown as dnsPacket.Packet);
    return done({ response, log: { ...log, rcode: 'BADVERS', reason: `EDNS version ${ednsVersion}` } });
  }
  if (q.class !== 'IN') return fail(RCODE.NOTIMP, `class ${q.class}`);
  return { ok: true, query };
}

// ---- dispatch -----------------------------------------------------------------------------------

interface Rr {
  name: string;
  type: string;
  class: 'IN';
  ttl: number;
  data: unknown;
}

/** What a query kind answers; encode() turns it into the response. */
export type Outcome =
  /** a response with the question: records, or an rcode with none */
  | { kind: 'records'; rcode: keyof typeof RCODE; answers?: Rr[]; additionals?: Rr[]; paths?: QueryLog['paths']; reason?: string }
  /** the header alone (a refusal before any lookup, a failure) */
  | { kind: 'header'; rcode: number; reason: string }
  /** the upstream's answer, as it is */
  | { kind: 'forwarded'; response: Buffer };

interface Context {
  services: Services;
  buf: Buffer;
  query: DecodedQuery;
  log: QueryLog;
}

/** One kind of query: which questions it takes (`match` returns what it read from them), who may ask, how it answers. */
export interface QueryKind<T = unknown> {
  name: string;
  /** a private lookup: only for access.ts's `mayLookUpPrivate` (the name goes into the refusal) */
  private?: string;
  match: (q: DecodedQuery['question'], resolver: Resolver) => T | undefined;
  answer: (ctx: Context, matched: T) => Promise<Outcome>;
}

const kind = <T>(k: QueryKind<T>): QueryKind => k as unknown as QueryKind;

/** The query kinds, in the order they are tried; `path` takes every question. */
export const QUERY_KINDS: readonly QueryKind[] = [
  kind({
    name: 'return-hops',
    private: 'return hops',
    match: (q) => (q.type === TYPE_RETURN_HOP_NAME && normalizeName(q.name) === RETURN_HOPS_NAME ? true : undefined),
    answer: ({ services: { resolver }, query }) => {
      const ttl = resolver.config.ttl;
      const answers = resolver.returnHops().map((h) => rr(query, TYPE_RETURN_HOP_NAME, ttl, encodeReturnHopRecord(h)));
      return Promise.resolve({ kind: 'records', rcode: 'NOERROR', answers });
    },
  }),
  kind({
    name: 'bsid-lookup',
    private: 'binding SIDs',
    match: (q) => (q.type === TYPE_SRH_NAME ? addressFromArpa(q.name) : undefined),
    answer: async ({ services, query }, target: string) => {
      // with a shared store, a BSID another instance bound is fetched first (the store down: SERVFAIL, saying so)
      try {
        const b = services.resolver.config.bindingSids;
        if (b && services.bsids) await within(services.bsids.fetch(target), b.answerWithinMs, `binding SID ${target} from the store`);
      } catch (e) {
        return { kind: 'records', rcode: 'SERVFAIL', reason: `binding SID ${target}: ${(e as Error).message}` };
      }
      const found = lookupBinding(services.resolver, services.bsids, target);
      if (found.rcode !== 'NOERROR') return Promise.resolve({ kind: 'records', rcode: found.rcode, reason: found.reason });
      return Promise.resolve({
        kind: 'records',
        rcode: 'NOERROR',
        answers: [rr(query, TYPE_SRH_NAME, found.ttl, encodeSrhRecord(found.segments))],
        paths: [{ destination: target, segments: found.segments, bsid: found.bsid }],
      });
    },
  }),
  kind({
    name: 'forward',
    match: (q, resolver) => resolver.forwardReason(q.name),
    answer: (ctx, reason: string) => forwardUpstream(ctx, reason),
  }),
  kind({
    name: 'path',
    match: () => true,
    answer: async (ctx) => {
      const { services, query, log } = ctx;
      const h = query.hints;
      const res = await answerPaths(services.resolver, services.bsids, {
        client: log.client,
        name: query.question.name,
        type: query.question.type,
        requested: h.functions ?? [],
        ...(h.port !== undefined ? { port: h.port } : {}),
        ...(h.bandwidthKbps !== undefined ? { bandwidthKbps: h.bandwidthKbps } : {}),
        ...(h.maxLatencyMs !== undefined ? { maxLatencyMs: h.maxLatencyMs } : {}),
      });
      if (res.rcode === 'FORWARD') return forwardUpstream(ctx, res.reason);
      if (res.rcode !== 'NOERROR') return { kind: 'records', rcode: res.rcode, reason: res.reason };
      const answers = [...res.aaaa.map((a) => rr(query, 'AAAA', res.ttl, a)), ...res.a.map((a) => rr(query, 'A', res.ttl, a))];
      const additionals: Rr[] = [];
      for (const p of res.paths) {
        if (p.bsid) additionals.push(rr(query, TYPE_BSID_NAME, p.bsid.ttl, encodeBsidRecord(p.bsid.record)));
        else {
          additionals.push(rr(query, TYPE_SRH_NAME, res.ttl, encodeSrhRecord(p.segments)));
          if (p.returnPath) additionals.push(rr(query, TYPE_RETURN_PATH_NAME, res.ttl, encodeSrhRecord(p.returnPath)));
        }
      }
      const paths = res.paths.map((p) => ({ destination: p.destination, segments: p.segments, ...(p.bsid ? { bsid: p.bsid.record.bsid } : p.returnPath ? { returnPath: p.returnPath } : {}) }));
      return { kind: 'records', rcode: 'NOERROR', answers, additionals, ...(paths.length > 0 ? { paths } : {}), ...(res.note ? { reason: res.note } : {}) };
    },
  }),
];

/** The first kind that takes the question, and what it read from it. */
export function dispatch(q: DecodedQuery['question'], resolver: Resolver): { kind: QueryKind; matched: unknown } {
  for (const k of QUERY_KINDS) {
    const matched = k.match(q, resolver);
    if (matched !== undefined) return { kind: k, matched };
  }
  throw new SrError('INTERNAL', 'no query kind matched: the last one (path) takes every question');
}

/** A name in no zone: to the upstream, if this client may and is within its rate. */
async function forwardUpstream({ services, buf, log }: Context, reason: string): Promise<Outcome> {
  const cfg = services.resolver.config;
  if (!services.forward) return { kind: 'header', rcode: RCODE.REFUSED, reason: `${reason} (no upstream)` };
  if (!mayForward(cfg, log.client)) return { kind: 'header', rcode: RCODE.REFUSED, reason: `${reason}; ${log.client} is not in upstream.allow: not forwarded` };
  if (services.forwardRate && !services.forwardRate(log.client)) return { kind: 'header', rcode: RCODE.REFUSED, reason: `${reason}; ${log.client} is over upstream.rate: not forwarded` };
  let response: Buffer;
  try {
    response = await services.forward(buf, log.transport);
  } catch (e) {
    return { kind: 'header', rcode: RCODE.SERVFAIL, reason: `upstream: ${(e as Error).message}` };
  }
  if (response.length < 12) return { kind: 'header', rcode: RCODE.SERVFAIL, reason: `upstream: a ${response.length}-byte answer` };
  return { kind: 'forwarded', response };
}

export async function handleMessage(services: Services, buf: Buffer, client: string, transport: 'udp' | 'tcp'): Promise<Handled> {
  const log: QueryLog = { client, transport };
  try {
    const d = decodeQuery(buf, log);
    if (!d.ok) return d.handled;
    const ctx: Context = { services, buf, query: d.query, log };
    const { kind: k, matched } = dispatch(d.query.question, services.resolver);
    if (k.private !== undefined && !mayLookUpPrivate(services.resolver.config, client)) {
      return encode(ctx, { kind: 'header', rcode: RCODE.REFUSED, reason: `${client} may not ask private lookups (${k.private}): not a proxy's health address, nor in privateLookups.allow or bindingSids.lookupFrom` });
    }
    return encode(ctx, await k.answer(ctx, matched));
  } catch (e) {
    return { response: buf.length >= 12 ? headerOnly(buf, RCODE.SERVFAIL) : null, log: { ...log, rcode: 'SERVFAIL', reason: `internal error: ${(e as Error).stack ?? String(e)}` } };
  }
}

// ---- encode -------------------------------------------------------------------------------------

function rr(query: DecodedQuery, type: string, ttl: number, data: unknown): Rr {
  return { name: query.question.name, type, class: 'IN', ttl, data };
}

function responseBase(query: DecodedQuery) {
  return {
    id: query.id,
    type: 'response' as const,
    flags: AA | (query.flags & RD),
    questions: [{ name: query.question.name, type: query.question.type, class: 'IN' as const }],
  };
}

/** Our OPT record, when the query had one (extended rcode 1 with BADVERS). */
function replyOpt(query: DecodedQuery, extendedRcode = 0): unknown[] {
  return query.opt ? [{ type: 'OPT', name: '.', udpPayloadSize: OUR_UDP_SIZE, extendedRcode, ednsVersion: 0, flags: 0, options: [] }] : [];
}

/** The response for an outcome, held to the transport's size: over UDP a larger one goes out truncated (TC, no records). */
export function encode({ buf, query, log }: Context, o: Outcome): Handled {
  if (o.kind === 'header') return { response: headerOnly(buf, o.rcode), log: { ...log, rcode: rcodeName(o.rcode), reason: o.reason } };
  const base = responseBase(query);
  if (o.kind === 'forwarded') {
    const rcode = rcodeName(o.response.readUInt16BE(2) & 0xf);
    if (log.transport === 'udp' && o.response.length > udpLimit(query.opt?.udpPayloadSize)) {
      // the upstream may answer larger than we send over UDP: the question back, TC set
      const response = dnsPacket.encode({ ...base, flags: TC | (query.flags & RD) | RCODE.NOERROR, answers: [], additionals: replyOpt(query) } as unknown as dnsPacket.Packet);
      return { response, log: { ...log, rcode, forwarded: true, truncated: true } };
    }
    return { response: o.response, log: { ...log, rcode, forwarded: true } };
  }
  const out: QueryLog = { ...log, rcode: o.rcode, ...(o.paths ? { paths: o.paths } : {}), ...(o.reason !== undefined ? { reason: o.reason } : {}) };
  const flags = base.flags | RCODE[o.rcode];
  let response = dnsPacket.encode({ ...base, flags, answers: o.answers ?? [], additionals: [...(o.additionals ?? []), ...replyOpt(query)] } as unknown as dnsPacket.Packet);
  const limit = log.transport === 'tcp' ? 65535 : udpLimit(query.opt?.udpPayloadSize);
  if (response.length > limit) {
    out.truncated = true;
    response = dnsPacket.encode({ ...base, flags: flags | TC, answers: [], additionals: replyOpt(query) } as unknown as dnsPacket.Packet);
    if (response.length > limit) response = headerOnly(buf, RCODE.SERVFAIL);
  }
  return { response, log: out };
}

/** Whether a decoded question name encodes back to the same labels (dns-packet joins labels with dots). */
export function echoableName(name: string): boolean {
  if (name === '.' || name === '') return true;
  if (Buffer.byteLength(name) > 253 || name.includes('\uFFFD')) return false;
  return name.split('.').every((l) => l.length > 0 && Buffer.byteLength(l) <= 63);
}
