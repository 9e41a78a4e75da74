/**
 * `srv6pipes controller`: load the config, serve DNS on UDP and TCP, reload on SIGHUP (a bad new
 * config is logged and the old one kept), stop on SIGTERM/SIGINT.
 */
import { createLogger } from '../log.js';
import { untilStopSignal } from '../sys/signals.js';
import { SrError } from '../errors.js';
import { loadControllerConfig } from './config.js';
import { startDnsServer } from './dns/server.js';
import { Resolver } from './resolver.js';

export interface RunControllerOptions {
  configPath: string;
  /** overrides `listen` (address, port) */
  listen?: { address?: string; port?: number };
  dryRun?: boolean;
}

export async function runController(o: RunControllerOptions): Promise<number> {
  const cfg = loadControllerConfig(o.configPath);
  const listen = { address: o.listen?.address ?? cfg.listen.address, port: o.listen?.port ?? cfg.listen.port };
  const resolver = new Resolver(cfg);
  if (o.dryRun) {
    process.stdout.write(`${o.configPath}: valid — ${cfg.proxies.length} proxies, ${cfg.links.length} links, ${cfg.zones.size} zones, ${cfg.policies.length} policies; would listen on [${listen.address}]:${listen.port} (UDP and TCP)\n`);
    return 0;
  }
  const log = createLogger(cfg.logLevel, { component: 'controller' });
  const server = await startDnsServer({ address: listen.address, port: listen.port, resolver, log });
  log.info({ address: server.address, port: server.port, proxies: cfg.proxies.map((p) => p.name), zones: [...cfg.zones.keys()], policies: cfg.policies.length }, 'controller started');

  const onHup = (): void => {
    try {
      const next = loadControllerConfig(o.configPath);
      server.setResolver(new Resolver(next));
      log.info({ zones: [...next.zones.keys()], policies: next.policies.length }, 'config reloaded');
    } catch (e) {
      log.error({ code: e instanceof SrError ? e.code : 'INTERNAL', err: (e as Error).message }, 'reload failed: the previous config stays');
    }
  };
  await untilStopSignal(log, onHup);
  await server.close();
  log.info('controller stopped');
  return 0;
}
