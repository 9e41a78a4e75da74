/**
 * One DNS message in, one out (pure apart from the resolver it calls). Never throws:
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
import { isSrError } from '../../core/errors.js';
import { mayForward, mayLookUpPrivate } from './access.js';
import type { Binding, BsidManager } from '../bsid/manager.js';
import type { Resolution, Resolver, SrPath } from '../resolver.js';
import { normalizeName } from '../config.js';
import { decodeFunctionsOption, decodePortOption, addressFromArpa, encodeBsidRecord, encodeSrhRecord, OPT_APP_NAME, OPT_BANDWIDTH, OPT_FUNCTIONS, OPT_LATENCY, OPT_PORT, TYPE_BSID_NAME, TYPE_RETURN_PATH_NAME, TYPE_SRH_NAME, TYPE_RETURN_HOP_NAME, RETURN_HOPS_NAME, encodeReturnHopRecord } from '../../dns/records.js';

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

export async function handleMessage(services: Services, buf: Buffer, client: string, transport: 'udp' | 'tcp'): Promise<Handled> {
  const log: QueryLog = { client, transport };
  if (buf.length < 12) return { response: null, log: { ...log, reason: `runt message (${buf.length} bytes)` } };
  log.id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & QR) return { response: null, log: { ...log, reason: 'a response, not a query' } };
  const fail = (rcode: number, reason: string): Handled => ({ response: headerOnly(buf, rcode), log: { ...log, rcode: rcodeName(rcode), reason } });
  if ((flags >> 11) & 0xf) return fail(RCODE.NOTIMP, `opcode ${(flags >> 11) & 0xf}`);

  let query: dnsPacket.DecodedPacket;
  try {
    query = dnsPacket.decode(buf);
  } catch (e) {
    return fail(RCODE.FORMERR, `malformed: ${(e as Error).message}`);
  }
  try {
    return await answer(services, buf, query, log);
  } catch (e) {
    return fail(RCODE.SERVFAIL, `internal error: ${(e as Error).stack ?? String(e)}`);
  }
}

const bsidKey = (client: string, p: SrPath): string =>
  `${client}|${p.policy ?? '-'}|${p.spec.functions.map((f) => `${f.name}:${f.argument}`).join(',')}|${p.spec.to}|${p.spec.bandwidthKbps ?? ''}|${p.spec.maxLatencyMs ?? ''}`;

/** Whether a decoded question name encodes back to the same labels (dns-packet joins labels with dots). */
export function echoableName(name: string): boolean {
  if (name === '.' || name === '') return true;
  if (Buffer.byteLength(name) > 253 || name.includes('\uFFFD')) return false;
  return name.split('.').every((l) => l.length > 0 && Buffer.byteLength(l) <= 63);
}

async function answer(services: Services, buf: Buffer, query: dnsPacket.DecodedPacket, log: QueryLog): Promise<Handled> {
  const resolver = services.resolver;
  const fail = (rcode: number, reason: string): Handled => ({ response: headerOnly(buf, rcode), log: { ...log, rcode: rcodeName(rcode), reason } });
  if (query.questions?.length !== 1) return fail(RCODE.FORMERR, `${query.questions?.length ?? 0} questions (one expected)`);
  const q = query.questions[0]!;
  log.name = q.name;
  log.type = q.type;
  // the name goes back in the answer as text: a label holding a dot or bytes that are not UTF-8 would
  // not encode to the same name (or to a valid one)
  if (!echoableName(q.name)) return fail(RCODE.FORMERR, 'a label of the name is empty, longer than 63 bytes, holds a dot or is not UTF-8');
  const opts = (query.additionals ?? []).filter((r) => r.type === 'OPT') as unknown as OptRecord[];
  if (opts.length > 1) return fail(RCODE.FORMERR, 'more than one OPT record');
  const opt = opts[0];
  let requested: string[] = [];
  let port: number | undefined;
  let bandwidthKbps: number | undefined;
  let maxLatencyMs: number | undefined;
  if (opt) {
    if (opt.name !== '.') return fail(RCODE.FORMERR, 'OPT record not owned by the root');
    for (const o of opt.options ?? []) {
      const data = o.data ?? Buffer.alloc(0);
      if (o.code === OPT_FUNCTIONS) {
        const names = decodeFunctionsOption(data);
        if (names === null) return fail(RCODE.FORMERR, `bad option ${OPT_FUNCTIONS} (functions): not a comma-separated list of names`);
        requested = names;
      } else if (o.code === OPT_PORT) {
        const p = decodePortOption(data);
        if (p === null) return fail(RCODE.FORMERR, `bad option ${OPT_PORT} (port): 2 bytes, not 0`);
        port = p;
      } else if (o.code === OPT_BANDWIDTH || o.code === OPT_LATENCY) {
        if (data.length !== 4) return fail(RCODE.FORMERR, `bad option ${o.code} (${o.code === OPT_BANDWIDTH ? 'bandwidth, kbit/s' : 'latency, ms'}): 4 bytes`);
        if (o.code === OPT_BANDWIDTH) bandwidthKbps = data.readUInt32BE(0);
        else maxLatencyMs = data.readUInt32BE(0);
      } else if (o.code === OPT_APP_NAME) {
        log.app = data.toString('utf8').slice(0, 64);
      }
    }
  }
  if (requested.length > 0) log.requested = requested;
  const ednsVersion = opt?.ednsVersion ?? 0;
  const replyOpt = opt ? [{ type: 'OPT', name: '.', udpPayloadSize: OUR_UDP_SIZE, extendedRcode: ednsVersion !== 0 ? 1 : 0, ednsVersion: 0, flags: 0, options: [] }] : [];
  const base = {
    id: query.id ?? 0,
    type: 'response' as const,
    flags: AA | ((query.flags ?? 0) & RD),
    questions: [{ name: q.name, type: q.type, class: 'IN' as const }],
  };
  if (ednsVersion !== 0) {
    const response = dnsPacket.encode({ ...base, questions: [], additionals: replyOpt } as unknown as dnsPacket.Packet);
    return { response, log: { ...log, rcode: 'BADVERS', reason: `EDNS version ${ednsVersion}` } };
  }
  if (q.class !== 'IN') return fail(RCODE.NOTIMP, `class ${q.class}`);

  const cfg = resolver.config;
  let ttl = cfg.ttl;
  let res: Resolution;
  let answers: unknown[] = [];
  let additionals: unknown[] = [];
  const bsidTarget = (q.type as string) === TYPE_SRH_NAME ? addressFromArpa(q.name) : undefined;
  const hopsQuery = (q.type as string) === TYPE_RETURN_HOP_NAME && normalizeName(q.name) === RETURN_HOPS_NAME;
  if ((hopsQuery || bsidTarget !== undefined) && !mayLookUpPrivate(cfg, log.client)) {
    return fail(RCODE.REFUSED, `${log.client} may not ask private lookups (${hopsQuery ? 'return hops' : 'binding SIDs'}): not a proxy's health address, nor in privateLookups.allow or bindingSids.lookupFrom`);
  }
  if (hopsQuery) {
    // a return-steering host asks for every proxy's return id and SID
    answers = cfg.proxies.flatMap((p) => (p.returnPath ? [{ name: q.name, type: TYPE_RETURN_HOP_NAME, class: 'IN', ttl, data: encodeReturnHopRecord(p.returnPath) }] : []));
    res = { rcode: 'NOERROR', a: [], aaaa: [], paths: [] };
  } else if (bsidTarget !== undefined) {
    // a proxy asks what a binding SID stands for
    const found = bsidLookup(services, bsidTarget);
    if ('binding' in found) {
      const b = found.binding;
      ttl = Math.max(1, Math.min(cfg.ttl, Math.floor((b.expiresAt - Date.now()) / 1000)));
      answers = [{ name: q.name, type: TYPE_SRH_NAME, class: 'IN', ttl, data: encodeSrhRecord(b.segments) }];
      log.paths = [{ destination: bsidTarget, segments: b.segments, bsid: b.bsid }];
      res = { rcode: 'NOERROR', a: [], aaaa: [], paths: [] };
    } else {
      res = found;
    }
  } else {
    res = resolver.resolve({
      client: log.client,
      name: q.name,
      type: q.type,
      requested,
      ...(port !== undefined ? { port } : {}),
      ...(bandwidthKbps !== undefined ? { bandwidthKbps } : {}),
      ...(maxLatencyMs !== undefined ? { maxLatencyMs } : {}),
    });
  }
  if (res.rcode === 'FORWARD') {
    if (!services.forward) return fail(RCODE.REFUSED, `${res.reason} (no upstream)`);
    if (!mayForward(cfg, log.client)) return fail(RCODE.REFUSED, `${res.reason}; ${log.client} is not in upstream.allow: not forwarded`);
    if (services.forwardRate && !services.forwardRate(log.client)) return fail(RCODE.REFUSED, `${res.reason}; ${log.client} is over upstream.rate: not forwarded`);
    try {
      let response = await services.forward(buf, log.transport);
      if (response.length < 12) return fail(RCODE.SERVFAIL, `upstream: a ${response.length}-byte answer`);
      const rcode = rcodeName(response.length >= 4 ? response.readUInt16BE(2) & 0xf : RCODE.SERVFAIL);
      if (log.transport === 'udp' && response.length > udpLimit(opt?.udpPayloadSize)) {
        // the upstream may answer larger than we send over UDP: the question back, TC set
        response = dnsPacket.encode({ ...base, flags: TC | ((query.flags ?? 0) & RD) | RCODE.NOERROR, answers: [], additionals: replyOpt } as unknown as dnsPacket.Packet);
        return { response, log: { ...log, rcode, forwarded: true, truncated: true } };
      }
      return { response, log: { ...log, rcode, forwarded: true } };
    } catch (e) {
      return fail(RCODE.SERVFAIL, `upstream: ${(e as Error).message}`);
    }
  }
  if (res.rcode === 'NOERROR' && bsidTarget === undefined && !hopsQuery) {
    answers = [...res.aaaa.map((data) => ({ name: q.name, type: 'AAAA', class: 'IN', ttl, data })), ...res.a.map((data) => ({ name: q.name, type: 'A', class: 'IN', ttl, data }))];
    log.paths = [];
    for (const p of res.paths) {
      const bsids = services.bsids;
      if (bsids && cfg.bindingSids && p.accessRouter !== undefined && bsids.hasRouter(p.accessRouter)) {
        let b;
        try {
          b = await bsids.bind({ router: p.accessRouter, client: log.client, key: bsidKey(log.client, p), segments: p.segments.slice(0, -1), spec: p.spec });
        } catch (e) {
          if (isSrError(e, 'BSID_LIMIT')) return fail(RCODE.REFUSED, `binding SID on ${p.accessRouter}: ${e.message}`);
          return fail(RCODE.SERVFAIL, `binding SID on ${p.accessRouter}: ${(e as Error).message}`);
        }
        const bttl = Math.min(ttl, Math.floor(cfg.bindingSids.lifetimeMs / 1000));
        additionals.push({ name: q.name, type: TYPE_BSID_NAME, class: 'IN', ttl: bttl, data: encodeBsidRecord({ priority: cfg.bindingSids.priority, source: log.client, prefixLength: 128, bsid: b.bsid }) });
        log.paths.push({ destination: p.destination, segments: p.segments, bsid: b.bsid });
      } else {
        additionals.push({ name: q.name, type: TYPE_SRH_NAME, class: 'IN', ttl, data: encodeSrhRecord(p.segments) });
        if (p.returnPath?.length) additionals.push({ name: q.name, type: TYPE_RETURN_PATH_NAME, class: 'IN', ttl, data: encodeSrhRecord(p.returnPath) });
        log.paths.push({ destination: p.destination, segments: p.segments, ...(p.returnPath ? { returnPath: p.returnPath } : {}) });
      }
    }
    if (log.paths.length === 0) delete log.paths;
    if (res.note) log.reason = res.note;
  } else if (res.rcode !== 'NOERROR') {
    log.reason = res.reason;
  }
  log.rcode = res.rcode;
  const packet = { ...base, flags: base.flags | RCODE[res.rcode], answers, additionals: [...additionals, ...replyOpt] } as unknown as dnsPacket.Packet;
  let response = dnsPacket.encode(packet);
  const limit = log.transport === 'tcp' ? 65535 : udpLimit(opt?.udpPayloadSize);
  if (response.length > limit) {
    log.truncated = true;
    response = dnsPacket.encode({ ...base, flags: base.flags | TC | RCODE[res.rcode], answers: [], additionals: replyOpt } as unknown as dnsPacket.Packet);
    if (response.length > limit) response = headerOnly(buf, RCODE.SERVFAIL);
  }
  return { response, log };
}

/** A proxy's question "which segments does this BSID stand for?" (the caller has checked who asks). */
function bsidLookup(services: Services, bsid: string): { binding: Binding } | { rcode: 'REFUSED' | 'NXDOMAIN'; reason: string } {
  if (!services.bsids || !services.resolver.config.bindingSids) return { rcode: 'REFUSED', reason: 'binding SIDs are off' };
  const b = services.bsids.lookup(bsid);
  if (!b) return { rcode: 'NXDOMAIN', reason: `no binding SID ${bsid}` };
  return { binding: b };
}
