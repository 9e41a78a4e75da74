/**
 * List, then watch from the listed revision, for as long as `signal` lives: every key under a
 * prefix as it changes, by any instance, lease expiry included. A watch that ends (a broken stream,
 * a member without quorum, a compacted history) is followed by a new list — the caller gets the full
 * set again, as it may have missed changes — after a pause while etcd does not answer.
 */
import type { Logger } from 'pino';
import type { EtcdClient, KeyValue, WatchEvent } from './etcd-client.js';

export interface FollowHandlers {
  onList(kvs: KeyValue[]): void;
  onEvents(events: WatchEvent[]): void;
}

const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });

export async function followPrefix(client: Pick<EtcdClient, 'listAt' | 'watch'>, prefix: string, h: FollowHandlers, signal: AbortSignal, log: Logger, retryMs = 1000): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    let revision: string;
    try {
      const r = await client.listAt(prefix);
      revision = r.revision;
      h.onList(r.kvs);
    } catch (e) {
      if (failures++ === 0) log.warn({ prefix, err: (e as Error).message }, 'store: cannot list: retrying');
      await pause(retryMs, signal);
      continue;
    }
    if (failures > 0) log.info({ prefix }, 'store: listing again');
    failures = 0;
    const end = await client.watch(prefix, revision, (events) => h.onEvents(events), signal);
    if (signal.aborted) break;
    log.debug({ prefix, reason: end.reason }, 'store: the watch ended: listing again');
    if (!end.compacted) await pause(retryMs, signal);
  }
}
