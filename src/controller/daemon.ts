/**
 * `srv6pipes controller`: load the config, serve DNS on UDP and TCP, health-check the proxies,
 * manage binding SIDs (agents, expiry, re-pointing after a failure), reload on SIGHUP (a bad new
 * config is logged and the old one kept), stop on SIGTERM/SIGINT.
 */
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
import type { BsidStore } from './store/types.js';

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
async function openStore(cfg: ControllerConfig, log: Logger): Promise<BsidStore | undefined> {
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
  const repoint = (): void => {
    repointing = repointing.then(async () => {
      const r = await bsids.repoint((spec) => {
        const p = resolver.pathFor(spec);
        return p.ok ? { segments: p.path.segments.slice(0, -1) } : { reason: p.reason };
      });
      if (r.moved || r.removed) log.info(r, 'binding SIDs recomputed');
    });
  };
  const health = new HealthMonitor({ ...cfg.health, log, onChange: () => repoint() });
  health.setTargets(healthTargets(cfg));
  resolver = new Resolver(cfg, (n) => health.isUp(n));

  let server;
  try {
    server = await startDnsServer({ address: listen.address, port: listen.port, resolver, log, onQuery: (l, since) => metrics.query(l, since), ...(cfg.bindingSids ? { bsids } : {}) });
  } catch (e) {
    await stopUnused(routers, new Map());
    throw e;
  }
  metrics.sources = { bindings: () => bsids.list(), proxies: () => health.status() };
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
  health.start();
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
        resolver = new Resolver(next, (n) => health.isUp(n));
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
  await health.stop();
  await server.close();
  await new Promise((r) => (metricsServer ? metricsServer.close(r) : r(undefined)));
  await repointing;
  await stopUnused(routers, new Map());
  await store?.close();
  log.info('controller stopped');
  return 0;
}
