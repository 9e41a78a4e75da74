/**
 * The access-router agent following the controllers' store: an etcd client for `store.etcd`
 * (credentials read from their files now, before the agent changes anything) and a Reconciler
 * (access-router/reconcile.ts) over the route index `<prefix>/route/<router>/`, decoding records
 * with the store's codec. The `srv6pipes access-router` command builds it from the agent's config
 * file and hands it to the daemon.
 */
import type { Logger } from 'pino';
import type { AccessRouterAgent } from '../../access-router/api.js';
import { DEFAULT_RECONCILE, Reconciler, type ReconcileSettings, type StoreFollower } from '../../access-router/reconcile.js';
import type { EtcdConnection } from '../../config/store.js';
import { decodeBinding, routePrefix } from './codec.js';
import { etcdClientOf } from './open.js';

export function storeFollower(router: string, e: EtcdConnection, s: ReconcileSettings): StoreFollower {
  const client = etcdClientOf(e);
  const index = routePrefix(e.prefix.replace(/\/+$/, ''), router);
  return {
    describe: `${index} on etcd at ${e.endpoints.join(', ')}`,
    async start(agent: AccessRouterAgent, log: Logger) {
      const r = new Reconciler({ router, index, decode: decodeBinding, source: client, agent, log, resyncMs: s.resyncMs, probeMs: s.probeMs, timeoutMs: e.timeoutMs, holdMs: s.holdMs, backoff: { minMs: 250, maxMs: s.backoffMaxMs } });
      await r.start();
      return { stats: r.stats, stop: () => r.stop() };
    },
    close: () => client.close(),
  };
}

/** The controller acting for its own `local` access router: the same reconciler, on the controller's store. */
export async function followLocal(router: string, e: EtcdConnection, agent: AccessRouterAgent, log: Logger): Promise<{ stop(): Promise<void> }> {
  const f = storeFollower(router, e, DEFAULT_RECONCILE);
  try {
    const r = await f.start(agent, log.child({ reconcile: router }));
    return {
      stop: async () => {
        await r.stop();
        f.close();
      },
    };
  } catch (err) {
    f.close();
    throw err;
  }
}
