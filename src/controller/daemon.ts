/**
 * `srv6pipes controller`: load the config, serve DNS on UDP and TCP, health-check the proxies,
 * manage binding SIDs (agents, expiry, re-pointing after a failure), reload on SIGHUP (a bad new
 * config is logged and the old one kept), stop on SIGTERM/SIGINT.
 *
 * With a shared store (`store.etcd`), the instances elect one (store/election.ts): it alone probes
 * the proxies, publishes their states (store/health.ts) and re-points the binding SIDs — every one
 * in the store, once. Every instance computes paths from the published states and keeps its BSID
 * cache in step with the store (BsidManager.follow).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { Logger } from 'pino';
import { createLogger } from '../core/log.js';
import type { LogLevel } from '../config/schemas.js';
import { untilStopSignal } from '../sys/signals.js';
import { SrError } from '../core/errors.js';
import type { AccessRouterAgent } from '../access-router/api.js';
import { readPem, readTokenFile } from '../access-router/credentials.js';
import { HttpAccessRouter } from '../access-router/http.js';
import { DEFAULT_AGENT_LIMITS } from '../access-router/limits.js';
import { LocalAccessRouter } from '../access-router/local.js';
import { BsidManager, type RouterEntry } from './bsid/manager.js';
import { loadControllerConfig, type ControllerConfig } from './config.js';
import { startDnsServer } from './dns/server.js';
import { HealthMonitor, type HealthTarget } from './health.js';
import { Resolver } from './resolver.js';
import { ClientRateLimiter } from './ratelimit.js';
import { ControllerMetrics, serveControllerMetrics } from './metrics.js';
import { EtcdClient } from './store/etcd-client.js';
import { EtcdBsidStore } from './store/etcd.js';
import { followLocal } from './store/follow.js';
import { Election } from './store/election.js';
import { SharedHealth } from './store/health.js';

export interface RunControllerOptions {
  configPath: string;
  /** overrides `listen` (address, port) */
  listen?: { address?: string; port?: number };
  dryRun?: boolean;
  /** `--log-level`: instead of the config file's `logLevel` */
  logLevel?: LogLevel;
}

function healthTargets(cfg: ControllerConfig): HealthTarget[] {
  return cfg.proxies.flatMap((p) => (p.health ? [{ node: p.name, address: p.health.address, port: p.health.port }] : []));
}

/** the reconcilers of local access routers (with a store), stopped with their agent */
const followers = new Map<AccessRouterAgent, { stop(): Promise<void> }>();

/** The agents of the config's access routers; local ones are started (and must be stopped). */
async function makeRouters(cfg: ControllerConfig, log: Logger, previous: Map<string, { spec: string; agent: AccessRouterAgent }>, metrics?: ControllerMetrics): Promise<Map<string, { spec: string; agent: AccessRouterAgent; entry: RouterEntry }>> {
  const out = new Map<string, { spec: string; agent: AccessRouterAgent; entry: RouterEntry }>();
  for (const a of cfg.accessRouters) {
    if (!a.agent) continue;
    const spec = JSON.stringify({ ...a.agent, prefix: a.bsidPrefix.addr.toString('hex') + a.bsidPrefix.length });
    const old = previous.get(a.name);
    let agent: AccessRouterAgent;
    if (old && old.spec === spec) agent = old.agent;
    else if (a.agent.kind === 'http') {
      const g = a.agent;
      const where = `access router ${a.name}`;
      agent = new HttpAccessRouter(a.name, {
        endpoint: g.endpoint,
        timeoutMs: g.timeoutMs,
        ...(g.tokenFile ? { token: readTokenFile(g.tokenFile, `${where}: tokenFile`) } : {}),
        ...(g.tls
          ? {
              tls: {
                ca: readPem(g.tls.ca, `${where}: tls.ca`),
                ...(g.tls.cert ? { cert: readPem(g.tls.cert, `${where}: tls.cert`) } : {}),
                ...(g.tls.key ? { key: readPem(g.tls.key, `${where}: tls.key`) } : {}),
                ...(g.tls.serverName ? { serverName: g.tls.serverName } : {}),
              },
            }
          : {}),
      });
    } else {
      const local = new LocalAccessRouter({
        name: a.name,
        bsidPrefix: a.bsidPrefix,
        clientInterfaces: a.agent.clientInterfaces,
        log: log.child({ router: a.name }),
        ...(a.agent.namespace ? { namespace: a.agent.namespace } : {}),
        ...(a.agent.tunnelSource ? { tunnelSource: a.agent.tunnelSource } : {}),
        // the controller itself asks: its own lifetime and paths are the bound
        limits: { maxLifetimeMs: Math.max(cfg.bindingSids?.lifetimeMs ?? 0, DEFAULT_AGENT_LIMITS.maxLifetimeMs), maxSegments: 126 },
      });
      await local.start();
      // with a store, the controller acts for its local access router: the route index is reconciled into it
      if (cfg.store?.etcd) followers.set(local, await followLocal(a.name, cfg.store.etcd, local, log));
      agent = local;
    }
    out.set(a.name, { spec, agent, entry: { agent: metrics ? metrics.agent(a.name, agent) : agent, prefix: a.bsidPrefix } });
  }
  return out;
}

async function stopUnused(before: Map<string, { agent: AccessRouterAgent }>, after: Map<string, { agent: AccessRouterAgent }>): Promise<void> {
  const kept = new Set([...after.values()].map((x) => x.agent));
  for (const { agent } of before.values()) {
    if (kept.has(agent) || !(agent instanceof LocalAccessRouter)) continue;
    await followers.get(agent)?.stop();
    followers.delete(agent);
    await agent.stop();
  }
}

/** The shared BSID store of the config, opened (STORE_UNAVAILABLE when etcd does not answer); undefined: in memory. */
async function openStore(cfg: ControllerConfig, log: Logger): Promise<EtcdBsidStore | undefined> {
  const e = cfg.store?.etcd;
  if (!e) return undefined;
  const client = new EtcdClient({
    endpoints: e.endpoints,
    timeoutMs: e.timeoutMs,
    ...(e.tls ? { tls: { ca: readPem(e.tls.ca, 'store.etcd.tls.ca'), ...(e.tls.cert ? { cert: readPem(e.tls.cert, 'store.etcd.tls.cert'), key: readPem(e.tls.key!, 'store.etcd.tls.key') } : {}) } } : {}),
    ...(e.username && e.passwordFile ? { auth: { username: e.username, password: readTokenFile(e.passwordFile, 'store.etcd.passwordFile') } } : {}),
  });
  const store = new EtcdBsidStore(client, e.prefix, log.child({ store: 'etcd' }));
  try {
    await store.open();
  } catch (err) {
    const message = `the BSID store (etcd at ${e.endpoints.join(', ')}) is unreachable: ${(err as Error).message}`;
    if (e.startDegraded) {
      log.warn({ code: 'STORE_UNAVAILABLE', err: message }, 'starting degraded (store.etcd.startDegraded): new binding SIDs fail until etcd answers');
      return store;
    }
    await store.close();
    throw new SrError('STORE_UNAVAILABLE', message);
  }
  return store;
}

/**
 * Takes over the store's binding SIDs, and keeps trying every `retryMs` while etcd does not answer
 * (a degraded start): until then, clients the instance does not know get SERVFAIL.
 */
function loadFromStore(bsids: BsidManager, log: Logger, endpoints: string[], retryMs = 2000): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let warned = false;
  const attempt = (): void => {
    bsids.load().then(
      (n) => log.info({ loaded: n, endpoints }, 'binding SIDs loaded from the store'),
      (err: Error) => {
        if (!warned) log.warn({ code: 'STORE_UNAVAILABLE', err: err.message, retryMs }, 'cannot load the binding SIDs from the store: retrying');
        warned = true;
        if (!stopped) timer = setTimeout(attempt, retryMs);
      },
    );
  };
  attempt();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export async function runController(o: RunControllerOptions): Promise<number> {
  let cfg = loadControllerConfig(o.configPath);
  const listen = { address: o.listen?.address ?? cfg.listen.address, port: o.listen?.port ?? cfg.listen.port };
  if (o.dryRun) {
    new Resolver(cfg);
    for (const d of cfg.deprecations) process.stderr.write(`srv6pipes: deprecated: ${d}\n`);
    process.stdout.write(
      `${o.configPath}: valid — ${cfg.proxies.length} proxies, ${cfg.accessRouters.length} access routers, ${cfg.links.length} links, ${cfg.zones.size} zones, ${cfg.policies.length} policies, binding SIDs ${cfg.bindingSids ? 'on' : 'off'}; would listen on [${listen.address}]:${listen.port} (UDP and TCP)\n`,
    );
    return 0;
  }
  const log = createLogger(o.logLevel ?? cfg.logLevel, { component: 'controller' });
  for (const d of cfg.deprecations) log.warn(d);
  const metrics = new ControllerMetrics();
  const store = await openStore(cfg, log);
  let routers = await makeRouters(cfg, log, new Map(), metrics);
  // the caps and the allocation rate follow the config (read at each new BSID: a reload applies)
  const allocLimiter = (c: ControllerConfig): ClientRateLimiter | undefined =>
    c.bindingSids ? new ClientRateLimiter({ ...c.bindingSids.rate, prefixLength: c.limits.clientPrefix, maxClients: c.limits.trackedClients }) : undefined;
  let allocRate = allocLimiter(cfg);
  const bsids = new BsidManager(new Map([...routers].map(([n, r]) => [n, r.entry])), {
    lifetimeMs: cfg.bindingSids?.lifetimeMs ?? 300_000,
    log,
    get perClient() {
      return cfg.bindingSids?.perClient ?? 16;
    },
    get max() {
      return cfg.bindingSids?.max ?? 10_000;
    },
    mayAllocate: (client) => allocRate?.take(client) ?? true,
    ...(store ? { store } : {}),
  });
  // a store is loaded before the first answer; a degraded start goes on without it and loads it once etcd answers
  const storeLoad = store && cfg.bindingSids && cfg.store?.etcd.startDegraded ? loadFromStore(bsids, log, cfg.store.etcd.endpoints) : undefined;
  if (cfg.bindingSids) {
    if (store && !storeLoad) {
      const loaded = await bsids.load();
      log.info({ loaded, endpoints: cfg.store?.etcd.endpoints }, 'binding SIDs loaded from the store');
    }
    const adopted = await bsids.adopt();
    if (adopted) log.info({ adopted }, 'binding SIDs adopted from the access routers');
  }

  let resolver: Resolver;
  let repointing = Promise.resolve();
  const instanceId = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  let election: Election | undefined;
  let shared: SharedHealth | undefined;
  const following = new AbortController();
  const compute = (spec: Parameters<Resolver['pathFor']>[0]): { segments: string[] } | { reason: string } => {
    const p = resolver.pathFor(spec);
    return p.ok ? { segments: p.path.segments.slice(0, -1) } : { reason: p.reason };
  };
  // without a store: this instance's bindings; with one: every binding in it, by the leader alone
  const repoint = (): void => {
    repointing = repointing
      .then(async () => {
        if (!store) {
          const r = await bsids.repoint(compute);
          if (r.moved || r.removed) log.info(r, 'binding SIDs recomputed');
          return;
        }
        if (!election?.isLeader || !cfg.bindingSids) return;
        const t0 = performance.now();
        const r = await bsids.repointAll(compute, cfg.store?.etcd.repointConcurrency, cfg.store?.etcd.repointBatch);
        if (r.moved || r.removed || r.failed) log.info({ ...r, ms: Math.round(performance.now() - t0) }, 'binding SIDs recomputed');
      })
      .catch((e: Error) => log.error({ err: e.message }, 're-pointing failed: tried again at the next health change'));
  };
  const publish = (node: string): void => {
    const st = health.status().find((x) => x.node === node);
    if (!shared || !st || !election?.isLeader) return;
    shared.publish({ node, up: st.up, since: st.since, by: instanceId, ...(st.lastError !== undefined ? { lastError: st.lastError } : {}) }).catch((e: Error) => log.error({ node, err: e.message }, 'store: the proxy’s health could not be published'));
  };
  const health = new HealthMonitor({ ...cfg.health, log, onChange: (node) => (store ? publish(node) : repoint()) });
  health.setTargets(healthTargets(cfg));
  const isUp = (n: string): boolean => (shared ? shared.isUp(n) : health.isUp(n));
  resolver = new Resolver(cfg, isUp);
  if (store) {
    // every instance: the published health (its changes re-point, at the leader) and the store's bindings
    shared = new SharedHealth(store.etcd, store.keyPrefix, log.child({ store: 'health' }), () => repoint());
    await shared.start();
    if (cfg.bindingSids) bsids.follow(following.signal).catch((e: Error) => log.error({ err: e.message }, 'store: following the bindings stopped'));
    const s = shared;
    election = new Election({
      client: store.etcd,
      prefix: store.keyPrefix,
      id: instanceId,
      ttlMs: cfg.store!.etcd.leaderTtlMs,
      log,
      onChange: (leading) => {
        metrics.leader(leading);
        if (!leading) {
          void health.stop();
          return;
        }
        // a new leader goes on from the published states, publishes the full set, and re-points what the hand-over may have missed
        health.seed(s.records());
        for (const t of healthTargets(cfg)) publish(t.node);
        health.start();
        repoint();
      },
    });
  }

  let server;
  try {
    server = await startDnsServer({ address: listen.address, port: listen.port, resolver, log, onQuery: (l, since) => metrics.query(l, since), ...(cfg.bindingSids ? { bsids } : {}) });
  } catch (e) {
    await stopUnused(routers, new Map());
    throw e;
  }
  metrics.sources = {
    bindings: () => bsids.list(),
    proxies: () => (shared ? healthTargets(cfg).map((t) => ({ node: t.node, up: isUp(t.node) })) : health.status()),
    ...(store ? { storeCorrupt: () => ({ binding: store.corrupt, health: shared?.corrupt ?? 0 }) } : {}),
  };
  let metricsServer: http.Server | undefined;
  if (cfg.metrics) {
    try {
      metricsServer = await serveControllerMetrics(cfg.metrics, metrics, log);
    } catch (e) {
      await server.close();
      await stopUnused(routers, new Map());
      throw e;
    }
  }
  if (election) election.start();
  else health.start();
  // the leader publishes again what a failed write left unpublished (etcd down for a moment)
  const republisher = setInterval(() => {
    if (!shared || !election?.isLeader) return;
    for (const st of health.status()) if (shared.published(st.node) !== st.up) publish(st.node);
  }, Math.max(1000, cfg.health.intervalMs));
  republisher.unref();
  const sweeper = setInterval(() => void bsids.sweep(), 1000);
  sweeper.unref();
  if (cfg.upstream && cfg.upstream.allow.length === 0) log.warn({ upstream: `${cfg.upstream.address}:${cfg.upstream.port}` }, 'upstream has no `allow`: names outside the zones are forwarded for nobody (REFUSED)');
  log.info(
    { address: server.address, port: server.port, metrics: cfg.metrics ? `[${cfg.metrics.address}]:${metricsServer ? (metricsServer.address() as { port: number }).port : cfg.metrics.port}` : 'off', proxies: cfg.proxies.map((p) => p.name), accessRouters: [...routers.keys()], bindingSids: cfg.bindingSids !== null, zones: [...cfg.zones.keys()], policies: cfg.policies.length },
    'controller started',
  );

  const onHup = (): void => {
    void (async () => {
      try {
        const next = loadControllerConfig(o.configPath);
        for (const d of next.deprecations) log.warn(d);
        if (JSON.stringify(next.store) !== JSON.stringify(cfg.store)) log.warn('a changed `store` applies at the next start, not at a reload');
        const nextRouters = await makeRouters(next, log, routers, metrics);
        await stopUnused(routers, nextRouters);
        routers = nextRouters;
        bsids.setRouters(new Map([...routers].map(([n, r]) => [n, r.entry])));
        health.setTargets(healthTargets(next));
        if (JSON.stringify([next.bindingSids?.rate, next.limits]) !== JSON.stringify([cfg.bindingSids?.rate, cfg.limits])) allocRate = allocLimiter(next);
        cfg = next;
        resolver = new Resolver(next, isUp);
        server.setResolver(resolver);
        repoint();
        log.info({ zones: [...next.zones.keys()], policies: next.policies.length }, 'config reloaded');
      } catch (e) {
        log.error({ code: e instanceof SrError ? e.code : 'INTERNAL', err: (e as Error).message }, 'reload failed: the previous config stays');
      }
    })();
  };
  await untilStopSignal(log, onHup);
  clearInterval(sweeper);
  storeLoad?.stop();
  clearInterval(republisher);
  // the leader hands over at once (its lease revoked)
  await election?.stop();
  await health.stop();
  following.abort();
  await shared?.stop();
  await server.close();
  await new Promise((r) => (metricsServer ? metricsServer.close(r) : r(undefined)));
  await repointing;
  await stopUnused(routers, new Map());
  await store?.close();
  log.info('controller stopped');
  return 0;
}
