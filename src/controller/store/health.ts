/**
 * The proxies' health, shared through etcd: the elected instance alone probes the proxies and
 * publishes each one's state to `<prefix>/health/<node>` (codec.ts: up, since, by, lastError) — the
 * full set when it is elected, then each change; every instance (the leader too) follows
 * `<prefix>/health/` and answers isUp() from what was published, so all of them compute the same
 * paths. A node nobody published is up (as a fresh controller without a store assumes). A value
 * there that is not a health record is logged, skipped and counted.
 */
import type { Logger } from 'pino';
import { decodeHealth, encodeHealth, healthPath, type HealthRecord } from './codec.js';
import type { EtcdClient, KeyValue } from './etcd-client.js';
import { followPrefix } from './watch-prefix.js';

export class SharedHealth {
  private readonly states = new Map<string, HealthRecord>();
  private readonly prefix: string;
  /** values under `<prefix>/health/` that are not health records */
  corrupt = 0;
  private readonly stopping = new AbortController();
  private following: Promise<void> | undefined;

  constructor(
    private readonly client: Pick<EtcdClient, 'listAt' | 'watch' | 'txn'>,
    prefix: string,
    private readonly log: Logger,
    /** a published state changed (not called for a repeat of the same up/down) */
    private readonly onChange?: (node: string, up: boolean) => void,
  ) {
    this.prefix = prefix.replace(/\/+$/, '');
  }

  /** Published up/down of a node; undefined when nobody published it. */
  published(node: string): boolean | undefined {
    return this.states.get(node)?.up;
  }

  isUp(node: string): boolean {
    return this.states.get(node)?.up ?? true;
  }

  /** The published records (a new leader starts from them). */
  records(): HealthRecord[] {
    return [...this.states.values()];
  }

  /** Follows `<prefix>/health/` until stop(); resolves once the first list is in (or failed). */
  start(): Promise<void> {
    let listed: () => void = () => undefined;
    const first = new Promise<void>((r) => (listed = r));
    const head = `${this.prefix}/health/`;
    this.following ??= followPrefix(
      {
        listAt: (p) =>
          this.client.listAt(p).catch((e: unknown) => {
            listed();
            throw e;
          }),
        watch: (p, a, on, s) => this.client.watch(p, a, on, s),
      },
      head,
      {
        onList: (kvs) => {
          const seen = new Set<string>();
          for (const kv of kvs) {
            const h = this.decode(kv);
            if (!h) continue;
            seen.add(h.node);
            this.set(h);
          }
          for (const node of [...this.states.keys()]) if (!seen.has(node)) this.unset(node);
          listed();
        },
        onEvents: (events) => {
          for (const e of events) {
            if (e.type === 'DELETE') {
              const node = this.nodeOf(e.kv.key);
              if (node !== undefined) this.unset(node);
              continue;
            }
            const h = this.decode(e.kv);
            if (h) this.set(h);
          }
        },
      },
      this.stopping.signal,
      this.log,
    );
    return first;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.following;
  }

  /** The leader's write of one node's state. */
  async publish(h: HealthRecord): Promise<void> {
    await this.client.txn([], [{ put: { key: healthPath(this.prefix, h.node), value: encodeHealth(h) } }], []);
  }

  private nodeOf(key: string): string | undefined {
    const head = `${this.prefix}/health/`;
    if (!key.startsWith(head)) return undefined;
    try {
      return decodeURIComponent(key.slice(head.length));
    } catch {
      return undefined;
    }
  }

  private decode(kv: KeyValue): HealthRecord | undefined {
    const h = decodeHealth(kv.value);
    if (h && healthPath(this.prefix, h.node) === kv.key) return h;
    this.corrupt++;
    this.log.warn({ key: kv.key, value: kv.value.slice(0, 80), corrupt: this.corrupt }, 'store: a value under the prefix is not a health record: skipped');
    return undefined;
  }

  private set(h: HealthRecord): void {
    const was = this.isUp(h.node);
    this.states.set(h.node, h);
    if (was !== h.up) {
      this.log.info({ node: h.node, up: h.up, by: h.by, lastError: h.lastError }, h.up ? 'proxy up (published)' : 'proxy down (published)');
      this.onChange?.(h.node, h.up);
    }
  }

  private unset(node: string): void {
    const was = this.isUp(node);
    this.states.delete(node);
    if (!was) this.onChange?.(node, true);
  }
}
