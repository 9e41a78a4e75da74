/**
 * The controller's shared BSID state, as seen by the BSID manager: one record per binding key, the
 * BSID it holds and the path it points to. Two implementations: `MemoryBsidStore` (one process; what
 * a controller without `store` behaves like) and `EtcdBsidStore` (every controller instance on one
 * etcd cluster). Creation is compare-and-create on both the key and the BSID, so that two instances
 * racing for one key, or two keys for one BSID, end with one binding.
 */

/** What a binding's path was computed from (the BSID manager's PathSpec). */
export interface StoredPathSpec {
  from: string;
  to: string;
  destination: string;
  functions: { name: string; argument: bigint }[];
  tieKey: string;
  bandwidthKbps?: number;
  maxLatencyMs?: number;
}

/** What is shared of a binding. */
export interface StoredBinding {
  key: string;
  bsid: string;
  router: string;
  client: string;
  segments: string[];
  /** until when the access router keeps the route (ms since the epoch); the record lives as long */
  installedUntil: number;
  /** what the path was computed from (absent in records written before it was stored) */
  spec?: StoredPathSpec;
}

/** A change of one key's record seen by a watch: its new record, or undefined when it went. */
export type RecordChange = { key: string; record: StoredBinding | undefined };

export type CreateResult =
  | { ok: true }
  /** the key is bound already (by this or another instance): its record */
  | { ok: false; existing: StoredBinding }
  /** the BSID is held by another key: try the next one */
  | { ok: false; bsidTaken: true };

export interface BsidStore {
  /** a short name for logs (`memory`, `etcd`) */
  readonly kind: string;
  /** values under the prefix that did not parse (logged and skipped) */
  readonly corrupt: number;
  /** the record of a key, if any (a corrupt one counts as none) */
  get(key: string): Promise<StoredBinding | undefined>;
  /** the record behind a BSID, if any */
  getByBsid(bsid: string): Promise<StoredBinding | undefined>;
  /** binds `b.key` to `b.bsid` only if neither is bound; the record lives `ttlMs` */
  create(b: StoredBinding, ttlMs: number): Promise<CreateResult>;
  /** replaces the record of a key this instance holds (a re-install, a re-pointing), living `ttlMs` from now */
  update(b: StoredBinding, ttlMs: number): Promise<void>;
  /**
   * re-pointings: each record's new path (same key, BSID and expiry), on the lease it has — one
   * transaction for all. Fails as a whole (STORE_UNAVAILABLE) when one of them is gone (expired or
   * removed meanwhile).
   */
  repath(bs: readonly StoredBinding[]): Promise<void>;
  /** removes a key's record and its BSID, if the key still holds that BSID */
  remove(b: Pick<StoredBinding, 'key' | 'bsid'>): Promise<void>;
  /** every record (at start: a restarted controller takes them over) */
  list(): Promise<StoredBinding[]>;
  /**
   * Follows every change of the records (by any instance, expiry included) until `signal` aborts:
   * `onList` gets the full set at the start and again whenever the watch had to start over (it may
   * have missed changes), `onChanges` each batch in order.
   */
  follow(onList: (records: StoredBinding[]) => void, onChanges: (changes: RecordChange[]) => void, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
