/**
 * One DNS exchange with one server — the client side shared by `resolve()`, the proxy's binding-SID
 * lookups and the return-agent's return-hops query (and the controller's upstream forwarding).
 *
 * What an answer must be to be taken (anything else is ignored, and the wait goes on until the
 * deadline): from the server's address and port — the UDP socket is connected, so the kernel drops
 * datagrams from anyone else, and a TCP connection only carries the server's bytes —, a response (QR
 * set), with the query's id, and with the query's question (name case-insensitively, type, class).
 * Ids are random 16 bits from node:crypto. Private lookups use TCP only (`mode: 'tcp'`): an off-path
 * spoofer would have to guess a TCP sequence number as well as the port and the id.
 *
 * This module depends only on node built-ins and dns-packet, so that it can move to a folder of its own.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

export interface DnsServerAddress {
  address: string;
  port: number;
}

export type DnsTransport = 'udp' | 'tcp';

/**
 * `udp-then-tcp`: UDP (retried once on silence), then TCP when the answer is truncated — public names.
 * `tcp`: TCP only — the private lookups (binding SIDs, return hops).
 */
export type ExchangeMode = 'udp-then-tcp' | 'tcp';

export interface ExchangeOptions {
  server: DnsServerAddress;
  /** the query, built with the id drawn here */
  query: (id: number) => Buffer;
  mode: ExchangeMode;
  /** per attempt */
  timeoutMs: number;
  /** UDP attempts in `udp-then-tcp` mode (default 2) */
  udpAttempts?: number;
}

export interface Exchanged {
  /** the matching answer, whole (its records are the caller's to decode) */
  answer: Buffer;
  transport: DnsTransport;
}

/** An exchange (the default is `exchange`; tests pass their own). */
export type Exchange = (o: ExchangeOptions) => Promise<Exchanged>;

const QR = 0x8000;
const TC = 0x0200;

/** A random query id (CSPRNG). */
export function queryId(): number {
  return randomInt(0, 0x10000);
}

/** True when the answer has the TC flag. */
export function isTruncated(answer: Buffer): boolean {
  return answer.length >= 4 && (answer.readUInt16BE(2) & TC) !== 0;
}

interface Question {
  name: string;
  type: string;
  class: string;
}

/** What an answer to this query must repeat: its id and question section. */
export interface Expectation {
  id: number;
  questions: Question[];
}

// dns-packet's question codec (exported by the package, not by its types)
const questionCodec = (dnsPacket as unknown as { question: { decode: ((buf: Buffer, offset: number) => Question) & { bytes: number } } }).question;

const norm = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** Reads the header and the question section only (the records may be anything). */
function headerAndQuestions(msg: Buffer): { id: number; flags: number; questions: Question[] } | null {
  if (msg.length < 12) return null;
  const count = msg.readUInt16BE(4);
  const questions: Question[] = [];
  let offset = 12;
  try {
    for (let i = 0; i < count; i++) {
      const q = questionCodec.decode(msg, offset);
      offset += questionCodec.decode.bytes;
      if (offset > msg.length) return null;
      questions.push({ name: norm(q.name), type: String(q.type), class: String(q.class) });
    }
  } catch {
    return null;
  }
  return { id: msg.readUInt16BE(0), flags: msg.readUInt16BE(2), questions };
}

/** The id and question of a query (throws a plain Error when it does not parse: a caller's bug). */
export function expectationOf(query: Buffer): Expectation {
  const h = headerAndQuestions(query);
  if (!h) throw Object.assign(new Error('the DNS query does not parse'), { code: 'EINVAL' });
  return { id: h.id, questions: h.questions };
}

/**
 * Whether `msg` is a response to the query: QR set, same id, and the same question section — or,
 * for an error that carries nothing (FORMERR, SERVFAIL, NOTIMP, REFUSED…: not NOERROR nor NXDOMAIN,
 * no records), no question section at all, as servers send when they give up early.
 */
export function answersQuery(expect: Expectation, msg: Buffer): boolean {
  const h = headerAndQuestions(msg);
  if (!h || (h.flags & QR) === 0 || h.id !== expect.id) return false;
  const rcode = h.flags & 0xf;
  if (h.questions.length === 0 && rcode !== 0 && rcode !== 3 && msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10) === 0) return true;
  if (h.questions.length !== expect.questions.length) return false;
  return h.questions.every((q, i) => {
    const e = expect.questions[i]!;
    return q.name === e.name && q.type === e.type && q.class === e.class;
  });
}

const timeoutError = (what: string, server: DnsServerAddress, ms: number): Error =>
  Object.assign(new Error(`no answer${what} from [${server.address}]:${server.port} in ${ms} ms`), { code: 'ETIMEDOUT' });

/** One query over a connected UDP socket; resolves with the first datagram that answers it. */
export function udpExchange(server: DnsServerAddress, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const expect = expectationOf(query);
    const sock = dgram.createSocket(net.isIPv4(server.address) ? 'udp4' : 'udp6');
    let finished = false;
    const finish = (e: Error | null, answer?: Buffer): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.close();
      if (e) reject(e);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(timeoutError('', server, timeoutMs)), timeoutMs);
    sock.on('error', (e) => finish(e));
    sock.on('message', (msg, from) => {
      // connected: the kernel delivers only the server's datagrams; the port is checked again all the same
      if (from.port !== server.port || !answersQuery(expect, msg)) return;
      finish(null, msg);
    });
    sock.connect(server.port, server.address, () => {
      if (finished) return;
      sock.send(query, (e) => e && finish(e));
    });
  });
}

/** One query over a new TCP connection; resolves with the first frame that answers it. The deadline is for the whole exchange. */
export function tcpExchange(server: DnsServerAddress, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const expect = expectationOf(query);
    const sock = net.connect({ host: server.address, port: server.port });
    let pending: Buffer = Buffer.alloc(0);
    let finished = false;
    const finish = (e: Error | null, answer?: Buffer): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      if (e) reject(e);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(timeoutError(' over TCP', server, timeoutMs)), timeoutMs);
    sock.on('error', (e) => finish(e));
    sock.on('connect', () => {
      const frame = Buffer.alloc(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      sock.write(frame);
    });
    sock.on('data', (chunk: Buffer) => {
      // at most one partial frame (≤ 65537 bytes) is kept
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + msg.length);
        if (answersQuery(expect, msg)) {
          finish(null, Buffer.from(msg));
          return;
        }
      }
    });
    sock.on('end', () => finish(Object.assign(new Error(`[${server.address}]:${server.port} closed the TCP connection without an answer`), { code: 'ECONNRESET' })));
  });
}

/** Asks one server, as the mode says; rejects when no answer matches within the deadline(s). */
export async function exchange(o: ExchangeOptions): Promise<Exchanged> {
  const query = o.query(queryId());
  if (o.mode === 'tcp') return { answer: await tcpExchange(o.server, query, o.timeoutMs), transport: 'tcp' };
  let lastError: unknown;
  for (let attempt = 0; attempt < Math.max(1, o.udpAttempts ?? 2); attempt++) {
    let answer: Buffer;
    try {
      answer = await udpExchange(o.server, query, o.timeoutMs);
    } catch (e) {
      lastError = e;
      // a refused port will stay refused: no second attempt
      if ((e as { code?: string }).code !== 'ETIMEDOUT') break;
      continue;
    }
    if (!isTruncated(answer)) return { answer, transport: 'udp' };
    return { answer: await tcpExchange(o.server, query, o.timeoutMs), transport: 'tcp' };
  }
  throw lastError;
}
