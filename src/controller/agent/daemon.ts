/**
 * `srv6pipes access-router`: the agent on an access router. It loads the BSID filter, then installs
 * and removes End.B6.Encaps routes as the controller asks over HTTP (agent/http.ts). SIGTERM/SIGINT
 * remove every route it installed and its table.
 */
import { readFileSync } from 'node:fs';
import { SrError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { isAddress, parsePrefix } from '../../net/ip6.js';
import { checkNetconfPrerequisites } from '../../proxy/netconf.js';
import { untilStopSignal } from '../../sys/signals.js';
import { parseController } from '../client.js';
import { serveAgent } from './http.js';
import { LocalAccessRouter } from './local.js';

export interface RunAccessRouterOptions {
  name: string;
  bsidPrefix: string;
  /** ADDR:PORT, [ADDR]:PORT */
  listen: string;
  tunnelSource?: string;
  clientInterfaces: string[];
  tokenFile?: string;
  logLevel?: string;
}

export async function runAccessRouter(o: RunAccessRouterOptions): Promise<number> {
  let prefix;
  try {
    prefix = parsePrefix(o.bsidPrefix);
  } catch {
    throw new SrError('BAD_ARGUMENT', `bad --bsid-prefix "${o.bsidPrefix}"`, { hint: 'an IPv6 prefix such as fc00:f::/64' });
  }
  if (o.tunnelSource !== undefined && !isAddress(o.tunnelSource)) throw new SrError('BAD_ARGUMENT', `bad --tunnel-source "${o.tunnelSource}"`, { hint: 'an IPv6 address of this router' });
  const listen = (() => {
    try {
      return parseController(o.listen);
    } catch {
      throw new SrError('BAD_ARGUMENT', `bad --listen "${o.listen}"`, { hint: 'ADDR:PORT or [ADDR]:PORT, e.g. [fc00:9::1]:7780' });
    }
  })();
  let token: string | undefined;
  if (o.tokenFile !== undefined) {
    try {
      token = readFileSync(o.tokenFile, 'utf8').trim();
    } catch (e) {
      throw new SrError('CONFIG_READ', `cannot read --token-file ${o.tokenFile}: ${(e as Error).message}`);
    }
    if (!token) throw new SrError('BAD_ARGUMENT', `--token-file ${o.tokenFile} is empty`);
  }
  checkNetconfPrerequisites();
  const log = createLogger(o.logLevel ?? 'info', { component: 'access-router' });
  const agent = new LocalAccessRouter({ name: o.name, bsidPrefix: prefix, clientInterfaces: o.clientInterfaces, log, ...(o.tunnelSource ? { tunnelSource: o.tunnelSource } : {}) });
  await agent.start();
  let server;
  try {
    server = await serveAgent(agent, listen.address, listen.port, token);
  } catch (e) {
    await agent.stop();
    throw e;
  }
  log.info({ listen: `[${listen.address}]:${listen.port}`, token: token !== undefined }, 'access-router agent started');
  await untilStopSignal(log);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await agent.stop();
  log.info('access-router agent stopped');
  return 0;
}
