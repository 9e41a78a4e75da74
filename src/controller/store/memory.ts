/**
 * The store inside one process: two maps and the records' expiry. Two BSID managers sharing one
 * instance behave like two controllers sharing an etcd cluster (the unit tests use it so).
 */
import { SrError } from '../../core/errors.js';
import type { BsidStore, CreateResult, RecordChange, StoredBinding } from './types.js';

export class MemoryBsidStore implements BsidStore {
  readonly kind = 'memory';
  readonly corrupt = 0;
  private readonly byKey = new Map<string, { b: StoredBinding; until: number }>();
  private readonly bySid = new Map<string, string>();
  private readonly followers = new Set<(changes: RecordChange[]) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  private live(key: string): StoredBinding | undefined {
    const e = this.byKey.get(key);
    if (!e) return undefined;
    if (e.until > this.now()) return e.b;
    this.byKey.delete(key);
    if (this.bySid.get(e.b.bsid) === key) this.bySid.delete(e.b.bsid);
    return undefined;
  }

  get(key: string): Promise<StoredBinding | undefined> {
    return Promise.resolve(this.live(key));
  }

  getByBsid(bsid: string): Promise<StoredBinding | undefined> {
    const key = this.bySid.get(bsid);
    return Promise.resolve(key === undefined ? undefined : this.live(key));
  }

  create(b: StoredBinding, ttlMs: number): Promise<CreateResult> {
    const existing = this.live(b.key);
    if (existing) return Promise.resolve({ ok: false, existing });
    const holder = this.bySid.get(b.bsid);
    if (holder !== undefined && this.live(holder)) return Promise.resolve({ ok: false, bsidTaken: true });
    this.byKey.set(b.key, { b: { ...b }, until: this.now() + ttlMs });
    this.bySid.set(b.bsid, b.key);
    this.tell([{ key: b.key, record: { ...b } }]);
    return Promise.resolve({ ok: true });
  }

  update(b: StoredBinding, ttlMs: number): Promise<void> {
    const old = this.live(b.key);
    if (old && old.bsid !== b.bsid && this.bySid.get(old.bsid) === b.key) this.bySid.delete(old.bsid);
    this.byKey.set(b.key, { b: { ...b }, until: this.now() + ttlMs });
    this.bySid.set(b.bsid, b.key);
    this.tell([{ key: b.key, record: { ...b } }]);
    return Promise.resolve();
  }

  repath(bs: readonly StoredBinding[]): Promise<void> {
    for (const b of bs) if (this.live(b.key)?.bsid !== b.bsid) return Promise.reject(new SrError('STORE_UNAVAILABLE', `store: ${b.key} is no longer bound to ${b.bsid}`));
    for (const b of bs) this.byKey.get(b.key)!.b = { ...b };
    this.tell(bs.map((b) => ({ key: b.key, record: { ...b } })));
    return Promise.resolve();
  }

  remove(b: Pick<StoredBinding, 'key' | 'bsid'>): Promise<void> {
    const e = this.byKey.get(b.key);
    if (e && e.b.bsid === b.bsid) {
      this.byKey.delete(b.key);
      this.tell([{ key: b.key, record: undefined }]);
    }
    if (this.bySid.get(b.bsid) === b.key) this.bySid.delete(b.bsid);
    return Promise.resolve();
  }

  list(): Promise<StoredBinding[]> {
    return Promise.resolve([...this.byKey.keys()].flatMap((k) => this.live(k) ?? []));
  }

  /** Changes are told synchronously after each write (a record's expiry is not told: readers check it). */
  async follow(onList: (records: StoredBinding[]) => void, onChanges: (changes: RecordChange[]) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    onList(await this.list());
    this.followers.add(onChanges);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    this.followers.delete(onChanges);
  }

  private tell(changes: RecordChange[]): void {
    for (const f of this.followers) f(changes.map((c) => ({ key: c.key, record: c.record ? { ...c.record } : undefined })));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
