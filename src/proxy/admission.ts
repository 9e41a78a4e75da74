/**
 * Flow admission: the proxy's `limits` (concurrent flows per proxy, per client, per function),
 * enforced by each worker on its share, and the accounting of accept failures (EMFILE, ENFILE).
 *
 * Each worker is its own process with its own listener (SO_REUSEPORT spreads SYNs by a hash of the
 * 4-tuple), so a limit L of the proxy is enforced as ceil(L / workers) in each worker: no IPC on
 * the SYN path, and the proxy's total can never exceed L + workers - 1. The price: with uneven
 * spreading one worker may refuse while another has room (a few per cent below L at 10k flows;
 * for a small per-client limit, choose a multiple of the workers).
 *
 * A client is its address masked to `clientPrefix` bits (default /64: on IPv6 one host or one LAN
 * owns a /64 and may use any address in it, so a per-address limit would bound nothing).
 * IPv4-mapped clients (converted flows) are counted per address.
 *
 * The descriptors are a limit too: a worker admits no more flows than its RLIMIT_NOFILE leaves room
 * for (`fdCap`, set by the worker once it listens). Past it a SYN is reset and counted (NOFILE_LIMIT)
 * instead of reaching EMFILE, where libuv accepts and closes connections silently (the client would
 * see a FIN from the "server", and Node would not even hear of it).
 */
import ipaddr from 'ipaddr.js';
import { formatAddress, parseHexAddress } from '../net/ip6.js';
import type { ProxyConfig } from './config.js';

export type AdmissionCode = 'FLOW_LIMIT' | 'FLOW_CLIENT_LIMIT' | 'FUNCTION_LIMIT' | 'NOFILE_LIMIT';

export type Admitted = { ok: true; release(): void } | { ok: false; code: AdmissionCode; reason: string };

/** A worker's share of a proxy-wide limit. */
export function workerShare(limit: number, workers: number): number {
  return Math.max(1, Math.ceil(limit / Math.max(1, workers)));
}

/**
 * The client key: the address masked to `bits` (the whole address for IPv4-mapped ones). Runs for
 * every SYN: the address is parsed once (not validated, then parsed again) and the key formatted
 * without ipaddr.js's regular expressions (docs/performance.md, issue 14).
 */
export function clientKey(address: string, bits: number): string {
  const t = address.replace(/%.*$/, '').replace(/^\[|\]$/g, '');
  let bytes = parseHexAddress(t);
  if (!bytes) {
    // a dotted quad or another form the fast path leaves to ipaddr.js
    try {
      if (!t.includes(':')) return address;
      bytes = ipaddr.IPv6.parse(t).toByteArray();
    } catch {
      return address;
    }
  }
  const keep = isV4Mapped(bytes) ? 128 : bits;
  for (let i = 0; i < 16; i++) {
    const left = keep - i * 8;
    if (left <= 0) bytes[i] = 0;
    else if (left < 8) bytes[i]! &= (0xff << (8 - left)) & 0xff;
  }
  return `${formatAddress(Uint8Array.from(bytes))}/${keep}`;
}

/** ::ffff:0:0/96 */
function isV4Mapped(b: number[]): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

export class Admission {
  private flows = 0;
  private readonly perClient = new Map<string, number>();
  private readonly perFn = new Map<number, number>();
  private readonly maxFlows: number;
  private readonly maxPerClient: number;
  /** flows the worker's descriptor limit leaves room for (rlimit.ts fdFlowCap) */
  fdCap = Infinity;

  /** the processes that share the limits: the workers, or 1 with `workers: 0` (the primary serves the flows) */
  private readonly workers: number;

  constructor(
    private readonly limits: ProxyConfig['limits'],
    workers: number,
  ) {
    this.workers = Math.max(1, workers);
    this.maxFlows = workerShare(limits.flows, workers);
    this.maxPerClient = workerShare(limits.flowsPerClient, workers);
  }

  private maxForFunction(id: number): number {
    const p = this.limits.perFunction;
    const cap = p === null ? undefined : typeof p === 'number' ? p : p[String(id)];
    return cap === undefined ? Infinity : workerShare(cap, this.workers);
  }

  /** Admits a flow (counted until `release()`, which is idempotent) or says which limit refuses it. */
  admit(clientAddress: string, functionId: number): Admitted {
    if (this.flows >= this.fdCap && this.fdCap < this.maxFlows) {
      return { ok: false, code: 'NOFILE_LIMIT', reason: `${this.flows} flows in this worker: its descriptor limit (RLIMIT_NOFILE) has room for ${this.fdCap}` };
    }
    if (this.flows >= this.maxFlows) {
      return { ok: false, code: 'FLOW_LIMIT', reason: `${this.flows} flows in this worker: limits.flows ${this.limits.flows} over ${this.workers} worker(s)` };
    }
    const key = clientKey(clientAddress, this.limits.clientPrefix);
    const c = this.perClient.get(key) ?? 0;
    if (c >= this.maxPerClient) {
      return { ok: false, code: 'FLOW_CLIENT_LIMIT', reason: `${c} flows from ${key} in this worker: limits.flowsPerClient ${this.limits.flowsPerClient} over ${this.workers} worker(s)` };
    }
    const f = this.perFn.get(functionId) ?? 0;
    const fmax = this.maxForFunction(functionId);
    if (f >= fmax) {
      return { ok: false, code: 'FUNCTION_LIMIT', reason: `${f} flows of function ${functionId} in this worker: limits.perFunction over ${this.workers} worker(s)` };
    }
    this.flows++;
    this.perClient.set(key, c + 1);
    this.perFn.set(functionId, f + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.flows--;
        const n = (this.perClient.get(key) ?? 1) - 1;
        if (n > 0) this.perClient.set(key, n);
        else this.perClient.delete(key);
        const m = (this.perFn.get(functionId) ?? 1) - 1;
        if (m > 0) this.perFn.set(functionId, m);
        else this.perFn.delete(functionId);
      },
    };
  }

  /** flows admitted and not yet released; clients with flows (for tests and the flow table) */
  get counts(): { flows: number; clients: number; functions: number } {
    return { flows: this.flows, clients: this.perClient.size, functions: this.perFn.size };
  }
}

/**
 * Failed accepts on a listener (its 'error' event): counted by the caller; logged at most once per
 * `everyMs` with the number of failures since the last line. Returns what to log, or null.
 */
export class AcceptFailures {
  private suppressed = 0;
  private lastLog = -Infinity;
  total = 0;

  constructor(private readonly everyMs = 5000) {}

  /** true when the error is a failed accept() (EMFILE, ENFILE, ENOBUFS…): the listener keeps listening */
  static isAcceptError(e: unknown): boolean {
    const x = e as { syscall?: unknown } | null;
    return !!x && typeof x === 'object' && x.syscall === 'accept';
  }

  /** Records one failure; returns the log fields when a line is due. */
  record(code: string, now = Date.now()): { code: string; failures: number; total: number } | null {
    this.total++;
    this.suppressed++;
    if (now - this.lastLog < this.everyMs) return null;
    const failures = this.suppressed;
    this.suppressed = 0;
    this.lastLog = now;
    return { code, failures, total: this.total };
  }
}
