/**
 * The BSID store on etcd. Two keys per binding, created together by one transaction only if
 * neither exists — `<prefix>/bsid/key/<key>` (the record) and `<prefix>/bsid/sid/<bsid>` (the key)
 * — so the same key gives the same BSID from any instance, two instances racing for one key end
 * with one BSID, and two keys never share a BSID. Both keys hang on one etcd lease that lasts as
 * long as the access router keeps the route: a record outlives any controller's restart and goes
 * when its route would. A third key, `<prefix>/route/<router>/<bsid>` (the record again), written and
 * deleted in the same transactions on the same lease, is the route index each access router's
 * reconciler lists and watches (access-router/reconcile.ts). A value under the prefix that is not a record (corrupt, foreign) is logged,
 * skipped and counted.
 */
import type { Logger } from 'pino';
import { SrError } from '../../core/errors.js';
import { decodeBinding, encodeBinding, keyOfPath, keyPath, routePath, sidPath } from './codec.js';
import type { EtcdClient, KeyValue } from './etcd-client.js';
import { followPrefix } from './watch-prefix.js';
import type { BsidStore, CreateResult, RecordChange, StoredBinding } from './types.js';

const ttlSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

export class EtcdBsidStore implements BsidStore {
  readonly kind = 'etcd';
  corrupt = 0;
  private readonly prefix: string;

  constructor(
    private readonly client: EtcdClient,
    prefix: string,
    private readonly log: Logger,
  ) {
    this.prefix = prefix.replace(/\/+$/, '');
  }

  /** Fails with STORE_UNAVAILABLE when no endpoint answers (the controller exits 2 at start). */
  async open(): Promise<void> {
    await this.client.status();
  }

  private decode(kv: KeyValue): StoredBinding | undefined {
    const b = decodeBinding(kv.value);
    if (b && keyPath(this.prefix, b.key) === kv.key) return b;
    this.corrupt++;
    this.log.warn({ key: kv.key, value: kv.value.slice(0, 80), corrupt: this.corrupt }, 'store: a value under the prefix is not a binding record: skipped');
    return undefined;
  }

  async get(key: string): Promise<StoredBinding | undefined> {
    const kv = await this.client.get(keyPath(this.prefix, key));
    return kv ? this.decode(kv) : undefined;
  }

  async getByBsid(bsid: string): Promise<StoredBinding | undefined> {
    const kv = await this.client.get(sidPath(this.prefix, bsid));
    if (!kv) return undefined;
    const b = await this.get(kv.value);
    return b?.bsid === bsid ? b : undefined;
  }

  async create(b: StoredBinding, ttlMs: number): Promise<CreateResult> {
    const kp = keyPath(this.prefix, b.key);
    const sp = sidPath(this.prefix, b.bsid);
    const lease = await this.client.grant(ttlSeconds(ttlMs));
    const value = encodeBinding(b);
    const put = [{ put: { key: kp, value, lease } }, { put: { key: sp, value: b.key, lease } }, { put: { key: routePath(this.prefix, b.router, b.bsid), value, lease } }];
    let r = await this.client.txn(
      [
        { key: kp, target: 'CREATE', createRevision: 0 },
        { key: sp, target: 'CREATE', createRevision: 0 },
      ],
      put,
      [{ range: { key: kp } }, { range: { key: sp } }],
    );
    if (!r.succeeded) {
      const [keyKv] = r.ranges[0] ?? [];
      const [sidKv] = r.ranges[1] ?? [];
      const existing = keyKv ? this.decode(keyKv) : undefined;
      if (existing) {
        await this.client.revoke(lease).catch(() => undefined);
        return { ok: false, existing };
      }
      if (sidKv && sidKv.value !== b.key) {
        await this.client.revoke(lease).catch(() => undefined);
        return { ok: false, bsidTaken: true };
      }
      // the key holds a value that is not a record (counted above): replaced, if nobody changed it meanwhile
      r = await this.client.txn(
        [keyKv ? { key: kp, target: 'MOD', modRevision: keyKv.modRevision } : { key: kp, target: 'CREATE', createRevision: 0 }, sidKv ? { key: sp, target: 'MOD', modRevision: sidKv.modRevision } : { key: sp, target: 'CREATE', createRevision: 0 }],
        put,
        [],
      );
      if (!r.succeeded) {
        await this.client.revoke(lease).catch(() => undefined);
        throw new SrError('STORE_UNAVAILABLE', `store: ${b.key} changed while it was being bound: asked again, it is retried`, { hint: 'two instances bound one key at once over a corrupt value: the next query gets the winner' });
      }
    }
    return { ok: true };
  }

  async update(b: StoredBinding, ttlMs: number): Promise<void> {
    const kp = keyPath(this.prefix, b.key);
    const oldKv = await this.client.get(kp);
    const old = oldKv ? decodeBinding(oldKv.value) : undefined;
    const lease = await this.client.grant(ttlSeconds(ttlMs));
    const value = encodeBinding(b);
    await this.client.txn(
      [],
      [
        { put: { key: kp, value, lease } },
        { put: { key: sidPath(this.prefix, b.bsid), value: b.key, lease } },
        { put: { key: routePath(this.prefix, b.router, b.bsid), value, lease } },
        ...(old && old.bsid !== b.bsid ? [{ delete: { key: sidPath(this.prefix, old.bsid) } }] : []),
        ...(old && (old.bsid !== b.bsid || old.router !== b.router) ? [{ delete: { key: routePath(this.prefix, old.router, old.bsid) } }] : []),
      ],
      [],
    );
    // the old lease holds nothing of this binding any more
    if (oldKv?.lease && oldKv.lease !== lease) await this.client.revoke(oldKv.lease).catch(() => undefined);
  }

  /**
   * One transaction: each record's new path on the lease its keys have (a re-pointing keeps BSID and
   * expiry), the record and its route-index entry alike — the access routers' reconcilers follow the
   * index. Two operations per record: at most 64 records (etcd's default --max-txn-ops is 128).
   */
  async repath(bs: readonly StoredBinding[]): Promise<void> {
    if (bs.length === 0) return;
    await this.client.txn(
      [],
      bs.flatMap((b) => {
        const value = encodeBinding(b);
        return [{ put: { key: keyPath(this.prefix, b.key), value, ignoreLease: true } }, { put: { key: routePath(this.prefix, b.router, b.bsid), value, ignoreLease: true } }];
      }),
      [],
    );
  }

  async remove(b: Pick<StoredBinding, 'key' | 'bsid'>): Promise<void> {
    const kp = keyPath(this.prefix, b.key);
    const kv = await this.client.get(kp);
    const old = kv ? decodeBinding(kv.value) : undefined;
    if (!kv || old?.bsid !== b.bsid) return;
    await this.client.txn(
      [{ key: kp, target: 'MOD', modRevision: kv.modRevision }],
      [{ delete: { key: kp } }, { delete: { key: sidPath(this.prefix, b.bsid) } }, { delete: { key: routePath(this.prefix, old.router, b.bsid) } }],
      [],
    );
  }

  async list(): Promise<StoredBinding[]> {
    const kvs = await this.client.list(`${this.prefix}/bsid/key/`);
    return kvs.flatMap((kv) => this.decode(kv) ?? []);
  }

  /** The records as they change (store/watch-prefix.ts: list, watch, list again after a broken watch). */
  follow(onList: (records: StoredBinding[]) => void, onChanges: (changes: RecordChange[]) => void, signal: AbortSignal): Promise<void> {
    const head = `${this.prefix}/bsid/key/`;
    return followPrefix(
      this.client,
      head,
      {
        onList: (kvs) => onList(kvs.flatMap((kv) => this.decode(kv) ?? [])),
        onEvents: (events) =>
          onChanges(
            events.flatMap((e): RecordChange[] => {
              const key = keyOfPath(this.prefix, e.kv.key);
              if (key === undefined) return [];
              if (e.type === 'DELETE') return [{ key, record: undefined }];
              const record = this.decode(e.kv);
              return record ? [{ key, record }] : [];
            }),
          ),
      },
      signal,
      this.log,
    );
  }

  /** The etcd client (the election and the health records share it). */
  get etcd(): EtcdClient {
    return this.client;
  }

  get keyPrefix(): string {
    return this.prefix;
  }

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }
}
