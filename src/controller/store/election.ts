/**
 * Leader election among the controller instances that share one etcd prefix (issue 16): the
 * elected instance alone health-checks the proxies and re-points the binding SIDs.
 *
 *   campaign   a transaction creates `<prefix>/leader` = this instance's id, on a lease of
 *              `ttlMs`, only if the key does not exist (create revision 0); whoever created it leads;
 *   leading    the lease is kept alive every ttl/3. A leader that could not renew it for a whole TTL
 *              (counted from when its last successful renewal was *sent*: etcd's own expiry comes no
 *              earlier) steps down by itself, and so does one that sees its key deleted or
 *              overwritten: two instances never both act as leader for longer than one TTL;
 *   following  the others watch the key and campaign again when it goes (deleted at a leader's stop,
 *              or expired with its lease); a watch that ends (etcd unreachable, a member lost its
 *              quorum) is followed by a new campaign, after a short pause;
 *   stop()     the leader revokes its lease: the key goes at once and a follower takes over without
 *              waiting for the TTL.
 */
import type { Logger } from 'pino';
import type { EtcdClient, WatchEvent } from './etcd-client.js';

export type ElectionClient = Pick<EtcdClient, 'grant' | 'keepAlive' | 'revoke' | 'txn' | 'watch'>;

export interface ElectionOptions {
  client: ElectionClient;
  /** the store's prefix: the key is `<prefix>/leader` */
  prefix: string;
  /** this instance's id (unique: host, pid, a random part) */
  id: string;
  ttlMs: number;
  log: Logger;
  /** became leader (true) or lost leadership (false) */
  onChange?: (leader: boolean) => void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });

export class Election {
  readonly key: string;
  private leading = false;
  private lease: string | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private renewing = false;
  private readonly stopping = new AbortController();
  private watchAbort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  /** leadership changes seen by this instance (both ways) */
  changes = 0;

  constructor(private readonly o: ElectionOptions) {
    this.key = `${o.prefix.replace(/\/+$/, '')}/leader`;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.watchAbort?.abort();
    await this.loop;
    const lease = this.lease;
    const was = this.leading;
    this.stopTimers();
    this.lease = undefined;
    if (lease) await this.o.client.revoke(lease).catch((e: Error) => this.o.log.warn({ err: e.message }, 'election: the lease could not be revoked: it expires'));
    if (was) this.setLeading(false, 'stopped');
  }

  private get retryMs(): number {
    return Math.max(200, Math.floor(this.o.ttlMs / 5));
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let after: string;
      try {
        after = await this.campaign();
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'election: campaign failed: trying again');
        await sleep(this.retryMs, signal);
        continue;
      }
      if (signal.aborted) break;
      const ctrl = new AbortController();
      this.watchAbort = ctrl;
      const end = await this.o.client.watch(this.key, after, (events) => this.onEvents(events, ctrl), ctrl.signal);
      this.watchAbort = undefined;
      // our own abort (the key went, or we stepped down): campaign at once; else pause before asking again
      if (end.reason !== 'stopped') await sleep(this.retryMs, signal);
    }
  }

  private onEvents(events: WatchEvent[], ctrl: AbortController): void {
    for (const e of events) {
      if (e.kv.key !== this.key) continue;
      const ours = e.type === 'PUT' && e.kv.value === this.o.id;
      if (ours) continue;
      if (this.leading) this.stepDown(e.type === 'DELETE' ? 'the leader key was deleted' : `the leader key now names ${e.kv.value}`);
      if (e.type === 'DELETE' || this.leading) ctrl.abort();
    }
  }

  /** One campaign: leader or not afterwards; the revision to watch the key from. */
  private async campaign(): Promise<string> {
    if (!this.lease) this.lease = await this.o.client.grant(Math.max(1, Math.ceil(this.o.ttlMs / 1000)));
    const lease = this.lease;
    const sentAt = Date.now();
    let r;
    try {
      // the range after the put (same transaction) gives the revision to watch from
      r = await this.o.client.txn([{ key: this.key, target: 'CREATE', createRevision: 0 }], [{ put: { key: this.key, value: this.o.id, lease } }, { range: { key: this.key } }], [{ range: { key: this.key } }]);
    } catch (e) {
      // perhaps the lease expired meanwhile: the next campaign takes a new one
      if (!this.leading) this.lease = undefined;
      throw e;
    }
    const kv = r.ranges[0]?.[0];
    if (r.succeeded || (kv && kv.value === this.o.id && kv.lease === lease)) {
      // won, or still ours (a watch that broke while leading)
      if (!this.leading) this.lead(sentAt);
      return kv?.modRevision ?? '0';
    }
    if (this.leading) this.stepDown(`the leader key names ${kv?.value ?? 'nobody'}`);
    else {
      this.lease = undefined;
      void this.o.client.revoke(lease).catch(() => undefined);
    }
    this.o.log.debug({ leader: kv?.value }, 'election: following');
    return kv?.modRevision ?? '0';
  }

  private lead(renewedAt: number): void {
    this.armDeadline(renewedAt);
    this.renewTimer = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.o.ttlMs / 3)));
    this.renewTimer.unref();
    this.setLeading(true, 'campaign won');
  }

  /** Steps down once `ttlMs` has passed since `renewedAt` without a newer successful renewal. */
  private armDeadline(renewedAt: number): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => this.stepDown(`the lease was not renewed for ${this.o.ttlMs} ms`), Math.max(0, renewedAt + this.o.ttlMs - Date.now()));
    this.deadlineTimer.unref();
  }

  private async renew(): Promise<void> {
    const lease = this.lease;
    if (this.renewing || !lease || !this.leading) return;
    this.renewing = true;
    const sentAt = Date.now();
    try {
      const ttl = await this.o.client.keepAlive(lease);
      if (!this.leading || this.lease !== lease) return;
      if (ttl <= 0) this.stepDown('the lease expired');
      else this.armDeadline(sentAt);
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'election: the lease could not be renewed');
    } finally {
      this.renewing = false;
    }
  }

  private stopTimers(): void {
    clearInterval(this.renewTimer);
    clearTimeout(this.deadlineTimer);
    this.renewTimer = undefined;
    this.deadlineTimer = undefined;
  }

  private stepDown(why: string): void {
    if (!this.leading) return;
    this.stopTimers();
    const lease = this.lease;
    this.lease = undefined;
    // whatever is left of our key goes with the lease (if etcd still has it)
    if (lease) void this.o.client.revoke(lease).catch(() => undefined);
    this.setLeading(false, why);
    this.watchAbort?.abort();
  }

  private setLeading(leading: boolean, why: string): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.changes++;
    if (leading) this.o.log.info({ id: this.o.id, key: this.key, ttlMs: this.o.ttlMs }, 'election: became leader');
    else this.o.log.warn({ id: this.o.id, why }, 'election: lost leadership');
    this.o.onChange?.(leading);
  }
}
