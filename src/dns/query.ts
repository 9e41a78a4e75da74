/**
 * The DNS protocol between srv6pipes and its controller, client side: the controller's address, the
 * path query (an AAAA question with the EDNS0 options of edns.ts) and its answer (SRH, BSID and
 * return-path records), the return-hops lookup, and the typed error for an answer that is not
 * NOERROR (DNS_<RCODE>). Every exchange goes through exchange.ts.
 */
import dnsPacket from 'dns-packet';
import { SrError, type ErrorCode } from '../core/errors.js';
import { formatAddress, parseAddress } from '../net/ip6.js';
import { DnsServers } from './servers.js';
import { exchange, type Exchange } from './exchange.js';
import { encodeHints, type QueryHints } from './edns.js';
import { arpaName, decodeBsidRecord, decodeSrhRecord, TYPE_BSID_NAME, TYPE_RETURN_PATH_NAME, TYPE_SRH_NAME, TYPE_RETURN_HOP_NAME, RETURN_HOPS_NAME, decodeReturnHopRecord, type ReturnHopRecord } from './records.js';

/** A path query: the name, the hints that travel as EDNS0 options (edns.ts), and how to ask. */
export interface ResolveOptions extends QueryHints {
  name: string;
  /** the controller: ADDR, [ADDR]:PORT or IPv4:PORT (default [::1]:53) */
  controller?: string;
  /** per attempt (default 2000 ms); UDP is tried twice */
  timeoutMs?: number;
  /** skip UDP */
  tcp?: boolean;
}

export interface ResolvedPath {
  /** the final segment: which address this path leads to */
  destination: string;
  /** travel order: function SIDs (or the binding SID), then the destination */
  segments: string[];
  /** set when the controller answered with a binding SID (TYPE 65280): segments = [bsid, destination] */
  bsid?: string;
  /** with a policy's `returnPath` (TYPE 65282): the return-path TLV's entries, last proxy first */
  returnPath?: string[];
}

export interface ResolveResult {
  name: string;
  rcode: string;
  addresses: string[];
  paths: ResolvedPath[];
  /** 'tcp' when UDP came back truncated (or `tcp` was asked) */
  transport: 'udp' | 'tcp';
  /** seconds: the smallest TTL of the AAAA, SRH and BSID records (absent when there are none) */
  ttl?: number;
}

export { parseController } from './server-address.js';

/** The rcodes a controller sends, each with its code (ERROR_CODES); any other is DNS_RCODE. */
const RCODE_ERRORS: Readonly<Record<string, ErrorCode>> = { REFUSED: 'DNS_REFUSED', NXDOMAIN: 'DNS_NXDOMAIN', SERVFAIL: 'DNS_SERVFAIL', FORMERR: 'DNS_FORMERR', NOTIMP: 'DNS_NOTIMP' };

/** The typed error for an answer whose rcode is not NOERROR: DNS_<RCODE> (DNS_REFUSED, …), else DNS_RCODE. */
export function rcodeError(rcode: string, message: string): SrError {
  return new SrError(RCODE_ERRORS[rcode] ?? 'DNS_RCODE', message);
}

export function buildQuery(o: ResolveOptions, id: number): Buffer {
  const options = encodeHints(o);
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'AAAA', name: o.name }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options } as unknown as dnsPacket.Answer],
  });
}

/** dns-packet's decoder, its plain errors (a record running past the end, a bad label) made typed. */
function decodeAnswer(buf: Buffer): dnsPacket.Packet {
  try {
    return dnsPacket.decode(buf);
  } catch (e) {
    throw new SrError('DNS_BAD_ANSWER', `the DNS answer (${buf.length} bytes) does not parse: ${(e as Error).message}`, { cause: e });
  }
}

/** Decodes a response: rcode, AAAA addresses, SRH paths. */
export function parseResponse(buf: Buffer, name: string): { tc: boolean; result: Omit<ResolveResult, 'transport'> } {
  const p = decodeAnswer(buf);
  const answers = (p.answers ?? []) as { type: string; data: unknown }[];
  const additionals = (p.additionals ?? []) as { type: string; data: unknown }[];
  const paths: ResolvedPath[] = [];
  for (const r of additionals) {
    if ((r.type !== TYPE_SRH_NAME && r.type !== TYPE_RETURN_PATH_NAME) || !Buffer.isBuffer(r.data)) continue;
    const segments = decodeSrhRecord(r.data);
    if (!segments) continue;
    // a return path belongs to the SRH record before it
    const last = paths[paths.length - 1];
    if (r.type === TYPE_SRH_NAME) paths.push({ destination: segments[segments.length - 1]!, segments });
    else if (last && !last.returnPath) last.returnPath = segments;
  }
  const addresses = answers.filter((a) => a.type === 'AAAA').map((a) => formatAddress(parseAddress(String(a.data))));
  // a binding SID stands for the function segments only: it leads to every address of the name
  const bsid = additionals.map((r) => (r.type === TYPE_BSID_NAME && Buffer.isBuffer(r.data) ? decodeBsidRecord(r.data) : null)).find((b) => b !== null);
  if (bsid) for (const a of addresses) if (!paths.some((x) => x.destination === a)) paths.push({ destination: a, segments: [bsid.bsid, a], bsid: bsid.bsid });
  const ttls = [...answers, ...additionals].filter((r) => r.type === 'AAAA' || r.type === TYPE_SRH_NAME || r.type === TYPE_BSID_NAME).map((r) => (r as { ttl?: number }).ttl ?? 0);
  return {
    tc: (p as { flag_tc?: boolean }).flag_tc === true,
    result: { name, rcode: (p as { rcode?: string }).rcode ?? 'NOERROR', addresses, paths, ...(ttls.length > 0 ? { ttl: Math.min(...ttls) } : {}) },
  };
}

/** A binding-SID lookup: TYPE 65281 for the BSID's ip6.arpa name (a private lookup: ask it over TCP only). */
export function bsidLookupQuery(bsid: string): (id: number) => Buffer {
  const name = arpaName(bsid);
  return (id) => dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ type: TYPE_SRH_NAME as 'AAAA', name, class: 'IN' }] });
}

/**
 * The controller's answer to a binding-SID lookup: its rcode, and — with NOERROR and a well-formed
 * TYPE 65281 record for the BSID's name — the segments the BSID stands for and their TTL (s).
 * An answer that does not parse: DNS_BAD_ANSWER.
 */
export function parseBsidAnswer(answer: Buffer, bsid: string): { rcode: string; segments: string[] | null; ttl: number } {
  const p = decodeAnswer(answer);
  const rcode = (p as { rcode?: string }).rcode ?? 'NOERROR';
  const name = arpaName(bsid);
  const rec = (p.answers ?? []).find((a) => (a.type as string) === TYPE_SRH_NAME && a.name.toLowerCase() === name) as { ttl?: number; data?: unknown } | undefined;
  const segments = rcode === 'NOERROR' && rec && Buffer.isBuffer(rec.data) ? decodeSrhRecord(rec.data) : null;
  return { rcode, segments, ttl: rec?.ttl ?? 0 };
}

/**
 * Every proxy's return id and return SID, as the controller knows them (a TYPE 65283 query for
 * return-hops.srv6pipes.arpa): what a return-steering host installs (docs/return-traffic.md).
 */
export async function fetchReturnHops(o: { controller: string | readonly string[]; timeoutMs?: number; exchange?: Exchange }): Promise<ReturnHopRecord[]> {
  // a private lookup: over TCP only (exchange.ts), the answer must repeat the question; several
  // instances of a replicated controller are asked in turn (servers.ts)
  const { answer } = await DnsServers.parse(o.controller, o.exchange ?? exchange).exchange({
    query: (id) => dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ type: TYPE_RETURN_HOP_NAME as 'AAAA', name: RETURN_HOPS_NAME, class: 'IN' }] }),
    mode: 'tcp',
    timeoutMs: o.timeoutMs ?? 2000,
  });
  const p = decodeAnswer(answer);
  const rcode = (p as { rcode?: string }).rcode ?? 'NOERROR';
  if (rcode !== 'NOERROR') throw rcodeError(rcode, `the controller answered ${rcode} for the return hops`);
  const hops: ReturnHopRecord[] = [];
  for (const a of (p.answers ?? []) as { name: string; type: string; data: unknown }[]) {
    if (a.type !== TYPE_RETURN_HOP_NAME || a.name.toLowerCase() !== RETURN_HOPS_NAME || !Buffer.isBuffer(a.data)) continue;
    const h = decodeReturnHopRecord(a.data);
    if (h) hops.push(h);
  }
  return hops.sort((a, b) => a.id - b.id);
}
