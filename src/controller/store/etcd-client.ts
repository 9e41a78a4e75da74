/**
 * A thin etcd v3 client over etcd's own JSON gateway (`POST /v3/kv/range`, `/v3/kv/txn`,
 * `/v3/lease/grant`, …, served on the client port by every etcd ≥ 3.4): no gRPC stack, no
 * dependency. Keys and values travel base64-encoded, 64-bit numbers as strings. Each request tries
 * the endpoints in turn, starting with the one that last answered; TLS (CA, client certificate) and
 * a user/password (an auth token, fetched again when etcd says it expired) are optional.
 */
import http from 'node:http';
import https from 'node:https';
import { SrError } from '../../core/errors.js';

export interface EtcdClientOptions {
  /** http(s)://HOST:PORT of the cluster's members */
  endpoints: string[];
  timeoutMs: number;
  tls?: { ca: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  auth?: { username: string; password: string };
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: string;
  modRevision: string;
  lease?: string;
}

/** One change seen by a watch. */
export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
}

/** How a watch ended: the caller lists again (from `revision`, or afresh when compacted) and watches on. */
export interface WatchEnd {
  /** the last revision the watch delivered (events up to it are seen) */
  revision: string;
  /** etcd compacted the history past the start revision: list afresh */
  compacted: boolean;
  reason: string;
}

export type TxnCompare = { key: string; target: 'CREATE'; createRevision: 0 } | { key: string; target: 'MOD'; modRevision: string };
export type TxnOp = { put: { key: string; value: string; lease?: string; ignoreLease?: boolean } } | { delete: { key: string } } | { range: { key: string } };

interface RawEvent {
  type?: string;
  kv?: RawKv;
}

interface RawKv {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  lease?: string;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

function kvOf(k: RawKv): KeyValue {
  return { key: unb64(k.key), value: unb64(k.value), createRevision: k.create_revision ?? '0', modRevision: k.mod_revision ?? '0', ...(k.lease ? { lease: k.lease } : {}) };
}

/** the key just after every key that starts with `prefix` (etcd's range_end for a prefix) */
function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1));
      out[i]! += 1;
      return out.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

function opOf(op: TxnOp): object {
  // ignoreLease: the key keeps the lease it has (etcd fails the put when the key does not exist)
  if ('put' in op) return { request_put: { key: b64(op.put.key), value: b64(op.put.value), ...(op.put.lease ? { lease: op.put.lease } : {}), ...(op.put.ignoreLease ? { ignore_lease: true } : {}) } };
  if ('delete' in op) return { request_delete_range: { key: b64(op.delete.key) } };
  return { request_range: { key: b64(op.range.key) } };
}

function compareOf(c: TxnCompare): object {
  return c.target === 'CREATE'
    ? { key: b64(c.key), target: 'CREATE', result: 'EQUAL', create_revision: '0' }
    : { key: b64(c.key), target: 'MOD', result: 'EQUAL', mod_revision: c.modRevision };
}

export class EtcdClient {
  private next = 0;
  private token: string | undefined;
  private readonly agent: http.Agent;

  constructor(private readonly o: EtcdClientOptions) {
    if (o.endpoints.length === 0) throw new SrError('CONFIG_INVALID', 'store.etcd.endpoints is empty');
    this.agent = o.tls ? new https.Agent({ keepAlive: true, ca: o.tls.ca, ...(o.tls.cert ? { cert: o.tls.cert, key: o.tls.key } : {}) }) : new http.Agent({ keepAlive: true });
  }

  private post(endpoint: string, path: string, body: object): Promise<{ status: number; doc: Record<string, unknown> }> {
    const url = new URL(path, endpoint);
    const data = JSON.stringify(body);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method: 'POST',
          agent: this.agent,
          timeout: this.o.timeoutMs,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...(this.token ? { authorization: this.token } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, doc: (text ? JSON.parse(text) : {}) as Record<string, unknown> });
            } catch {
              reject(new Error(`${url.host}: not JSON (HTTP ${res.statusCode}): ${text.slice(0, 120)}`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${url.host}: no answer within ${this.o.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  /** One call, on the first endpoint that answers; an etcd error (HTTP ≠ 200) is final. */
  async call(path: string, body: object, retryAuth = true): Promise<Record<string, unknown>> {
    const errors: string[] = [];
    const n = this.o.endpoints.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.next + i) % n;
      const endpoint = this.o.endpoints[idx]!;
      if (this.o.auth && this.token === undefined && path !== '/v3/auth/authenticate') await this.authenticate(endpoint).catch((e: Error) => errors.push(`${endpoint}: ${e.message}`));
      let r;
      try {
        r = await this.post(endpoint, path, body);
      } catch (e) {
        errors.push(`${endpoint}: ${(e as Error).message}`);
        continue;
      }
      this.next = idx;
      if (r.status === 200) return r.doc;
      const message = String(r.doc.message ?? r.doc.error ?? `HTTP ${r.status}`);
      if (retryAuth && this.o.auth && /token|auth/i.test(message)) {
        this.token = undefined;
        return this.call(path, body, false);
      }
      throw new SrError('STORE_UNAVAILABLE', `etcd ${path}: ${message}`);
    }
    throw new SrError('STORE_UNAVAILABLE', `no etcd endpoint answered: ${errors.join('; ')}`);
  }

  private async authenticate(endpoint: string): Promise<void> {
    const r = await this.post(endpoint, '/v3/auth/authenticate', { name: this.o.auth!.username, password: this.o.auth!.password });
    if (r.status !== 200 || typeof r.doc.token !== 'string') throw new Error(`authentication failed: ${String(r.doc.message ?? r.status)}`);
    this.token = r.doc.token;
  }

  async status(): Promise<void> {
    await this.call('/v3/maintenance/status', {});
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const doc = await this.call('/v3/kv/range', { key: b64(key) });
    const kvs = (doc.kvs ?? []) as RawKv[];
    return kvs[0] ? kvOf(kvs[0]) : undefined;
  }

  async list(prefix: string): Promise<KeyValue[]> {
    return (await this.listAt(prefix)).kvs;
  }

  /** Every key under `prefix` and the revision they were read at (where a watch of them starts). */
  async listAt(prefix: string): Promise<{ kvs: KeyValue[]; revision: string }> {
    const doc = await this.call('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix) });
    const header = (doc.header ?? {}) as { revision?: string };
    return { kvs: ((doc.kvs ?? []) as RawKv[]).map(kvOf), revision: header.revision ?? '0' };
  }

  /**
   * Watches every key under `prefix` after revision `after`: `onEvents` gets each batch of changes
   * and the revision it brings the watcher to. Resolves when the watch ends — the stream broke, the
   * member lost its leader (the watch asks for one: a member cut off from the quorum ends it rather
   * than staying silent), etcd compacted past `after`, or `signal` aborted — with the last revision
   * delivered; the caller then lists again and watches on. The endpoints are tried in turn.
   */
  async watch(prefix: string, after: string, onEvents: (events: WatchEvent[], revision: string) => void, signal?: AbortSignal): Promise<WatchEnd> {
    let revision = after;
    const errors: string[] = [];
    const n = this.o.endpoints.length;
    for (let i = 0; i < n && !signal?.aborted; i++) {
      const idx = (this.next + i) % n;
      const endpoint = this.o.endpoints[idx]!;
      if (this.o.auth && this.token === undefined) await this.authenticate(endpoint).catch((e: Error) => errors.push(`${endpoint}: ${e.message}`));
      let end: WatchEnd | 'unreachable';
      try {
        end = await this.watchOn(endpoint, prefix, revision, (events, rev) => {
          revision = rev;
          onEvents(events, rev);
        }, signal);
      } catch (e) {
        errors.push(`${endpoint}: ${(e as Error).message}`);
        continue;
      }
      if (end === 'unreachable') continue;
      this.next = idx;
      return end;
    }
    return { revision, compacted: false, reason: signal?.aborted ? 'stopped' : `no etcd endpoint answered: ${errors.join('; ')}` };
  }

  private watchOn(endpoint: string, prefix: string, after: string, onEvents: (events: WatchEvent[], revision: string) => void, signal?: AbortSignal): Promise<WatchEnd | 'unreachable'> {
    const url = new URL('/v3/watch', endpoint);
    const data = JSON.stringify({ create_request: { key: b64(prefix), range_end: prefixEnd(prefix), start_revision: String(BigInt(after) + 1n) } });
    const mod = url.protocol === 'https:' ? https : http;
    let revision = after;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (v: WatchEnd | 'unreachable' | Error): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        req.destroy();
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      const onAbort = (): void => finish({ revision, compacted: false, reason: 'stopped' });
      const req = mod.request(url, {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
          // grpc-gateway passes this on as gRPC metadata: etcd's "require leader" for the watch
          'grpc-metadata-hasleader': 'true',
          ...(this.token ? { authorization: this.token } : {}),
        },
        ...(this.o.tls ? { ca: this.o.tls.ca, ...(this.o.tls.cert ? { cert: this.o.tls.cert, key: this.o.tls.key } : {}) } : {}),
      });
      // connecting may take the request timeout; once connected, a watch is silent as long as nothing changes
      const connectTimer = setTimeout(() => finish(new Error(`no answer within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
      req.on('error', (e) => {
        clearTimeout(connectTimer);
        finish(e);
      });
      req.on('response', (res) => {
        clearTimeout(connectTimer);
        if (res.statusCode !== 200) {
          res.resume();
          finish(new Error(`HTTP ${res.statusCode}`));
          return;
        }
        let buf = '';
        let created = false;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            let msg: { result?: { header?: { revision?: string }; created?: boolean; canceled?: boolean; compact_revision?: string; cancel_reason?: string; events?: RawEvent[] }; error?: { message?: string } };
            try {
              msg = JSON.parse(line) as typeof msg;
            } catch {
              finish({ revision, compacted: false, reason: `not JSON: ${line.slice(0, 80)}` });
              return;
            }
            const r = msg.result;
            if (!r) {
              finish({ revision, compacted: false, reason: msg.error?.message ?? 'the watch stream failed' });
              return;
            }
            if (r.created) created = true;
            if (r.canceled) {
              const compacted = r.compact_revision !== undefined && r.compact_revision !== '0';
              finish({ revision, compacted, reason: compacted ? `compacted at ${r.compact_revision}` : r.cancel_reason ?? 'canceled by etcd' });
              return;
            }
            const events = (r.events ?? []).map((e) => ({ type: e.type === 'DELETE' ? ('DELETE' as const) : ('PUT' as const), kv: kvOf(e.kv ?? {}) }));
            if (events.length === 0) continue;
            revision = events[events.length - 1]!.kv.modRevision;
            onEvents(events, revision);
          }
        });
        res.on('end', () => finish(created ? { revision, compacted: false, reason: 'the watch stream ended' } : 'unreachable'));
        res.on('error', () => finish({ revision, compacted: false, reason: 'the watch stream broke' }));
      });
      signal?.addEventListener('abort', onAbort);
      req.end(data);
    });
  }

  /** A transaction: `success` if every compare holds, else `failure`; the ranges' results in order. */
  async txn(compare: TxnCompare[], success: TxnOp[], failure: TxnOp[]): Promise<{ succeeded: boolean; ranges: KeyValue[][] }> {
    const doc = await this.call('/v3/kv/txn', { compare: compare.map(compareOf), success: success.map(opOf), failure: failure.map(opOf) });
    const responses = (doc.responses ?? []) as { response_range?: { kvs?: RawKv[] } }[];
    return { succeeded: doc.succeeded === true, ranges: responses.flatMap((r) => (r.response_range ? [(r.response_range.kvs ?? []).map(kvOf)] : [])) };
  }

  /** A lease of `ttlS` seconds: its id. */
  async grant(ttlS: number): Promise<string> {
    const doc = await this.call('/v3/lease/grant', { TTL: String(ttlS) });
    if (typeof doc.ID !== 'string') throw new SrError('STORE_UNAVAILABLE', `etcd lease grant: no ID in ${JSON.stringify(doc).slice(0, 120)}`);
    return doc.ID;
  }

  /** Keeps a lease alive once: its remaining TTL in seconds, 0 when it has expired. */
  async keepAlive(id: string): Promise<number> {
    const doc = await this.call('/v3/lease/keepalive', { ID: id });
    const r = (doc.result ?? doc) as { TTL?: string };
    return Number(r.TTL ?? 0);
  }

  async revoke(id: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: id });
  }

  close(): void {
    this.agent.destroy();
  }
}
