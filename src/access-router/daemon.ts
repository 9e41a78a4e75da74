/**
 * `srv6pipes access-router`: the agent on an access router. It loads the BSID filter, then installs
 * and removes End.B6.Encaps routes as the controller asks over HTTP(S) (agent/http.ts), within its
 * limits (agent/limits.ts) and behind its credentials (agent/server.ts). With `store: { etcd }` in
 * its config file it also follows the controllers' route index for its name (reconcile.ts): it
 * installs and removes what the store says, and keeps its routes while etcd is unreachable.
 * SIGTERM/SIGINT remove every route it installed and its table.
 */
import { hostBitsSet } from '../config/schemas.js';
import { SrError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { formatPrefix, isAddress, parsePrefix } from '../net/ip6.js';
import { arRuleset } from './rules.js';
import { checkNetconfPrerequisites } from '../sys/plan.js';
import { untilStopSignal } from '../sys/signals.js';
import { parseController } from '../dns/query.js';
import { readPem, readTokenFile } from './credentials.js';
import { serveAgent } from './http.js';
import { agentLimits, type AgentLimitsInput } from './limits.js';
import { LocalAccessRouter } from './local.js';
import { checkListen, type AgentTlsFiles } from './server.js';
import type { EtcdConnection } from '../config/store.js';
import type { ReconcileSettings, ReconcileStats, StoreFollower } from './reconcile.js';

const NOT_STARTED: ReconcileStats = { installs: 0, removes: 0, failed: 0, corrupt: 0, held: 0, connected: false, lastFullSync: 0 };

export interface RunAccessRouterOptions {
  name: string;
  bsidPrefix: string;
  /** ADDR:PORT, [ADDR]:PORT */
  listen: string;
  tunnelSource?: string;
  clientInterfaces: string[];
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** mutual TLS: the CA that signs the controller's client certificate */
  tlsClientCa?: string;
  limits?: AgentLimitsInput;
  logLevel?: string;
  /** the controllers' etcd store (config file only): the command turns it into `follow` */
  store?: EtcdConnection;
  reconcile?: ReconcileSettings;
  /** follow the store's route index for `name` (controller/store/follow.ts; its credentials are read already) */
  follow?: StoreFollower;
  /** validate the options (and read the credential files), print what the agent would install, change nothing */
  dryRun?: boolean;
}

function tlsFiles(o: RunAccessRouterOptions): AgentTlsFiles | undefined {
  if (o.tlsCert === undefined && o.tlsKey === undefined) {
    if (o.tlsClientCa !== undefined) throw new SrError('BAD_ARGUMENT', '--tls-client-ca needs --tls-cert and --tls-key', { hint: 'mutual TLS: the agent shows its certificate and checks the controller’s' });
    return undefined;
  }
  if (o.tlsCert === undefined || o.tlsKey === undefined) throw new SrError('BAD_ARGUMENT', 'give both --tls-cert and --tls-key', { hint: 'PEM files: the agent’s certificate and its private key' });
  return {
    cert: readPem(o.tlsCert, '--tls-cert'),
    key: readPem(o.tlsKey, '--tls-key'),
    ...(o.tlsClientCa !== undefined ? { clientCa: readPem(o.tlsClientCa, '--tls-client-ca') } : {}),
  };
}

export async function runAccessRouter(o: RunAccessRouterOptions): Promise<number> {
  let prefix;
  try {
    prefix = parsePrefix(o.bsidPrefix);
  } catch {
    throw new SrError('BAD_ARGUMENT', `bad --bsid-prefix "${o.bsidPrefix}"`, { hint: 'an IPv6 prefix such as fc00:f::/64' });
  }
  const clean = hostBitsSet(o.bsidPrefix);
  if (clean !== undefined) throw new SrError('BAD_ARGUMENT', `--bsid-prefix: ${o.bsidPrefix} has bits set past its length`, { hint: `write ${clean}` });
  if (o.tunnelSource !== undefined && !isAddress(o.tunnelSource)) throw new SrError('BAD_ARGUMENT', `bad --tunnel-source "${o.tunnelSource}"`, { hint: 'an IPv6 address of this router' });
  const listen = (() => {
    try {
      return parseController(o.listen);
    } catch {
      throw new SrError('BAD_ARGUMENT', `bad --listen "${o.listen}"`, { hint: 'ADDR:PORT or [ADDR]:PORT, e.g. [fc00:9::1]:7780' });
    }
  })();
  const limits = agentLimits(o.limits ?? {});
  const token = o.tokenFile !== undefined ? readTokenFile(o.tokenFile, '--token-file') : undefined;
  const tls = tlsFiles(o);
  const credentials = { ...(token !== undefined ? { token } : {}), ...(tls ? { tls } : {}) };
  checkListen(listen.address, credentials);
  if (o.dryRun) {
    const print = (l: string): void => void process.stdout.write(`${l}\n`);
    print('# srv6pipes access-router --dry-run: the options are valid; nothing is changed.');
    print(`# agent ${o.name}: listens on [${listen.address}]:${listen.port}${token !== undefined ? ', bearer token' : ''}${tls ? `, TLS${tls.clientCa ? ' (mutual)' : ''}` : ''}; limits ${JSON.stringify(limits)}`);
    print(`nft -f - <<EOF\n${arRuleset({ bsidPrefix: prefix, clientInterfaces: o.clientInterfaces })}EOF`);
    if (o.tunnelSource) print(`ip sr tunsrc set ${o.tunnelSource}`);
    if (o.follow) print(`# routes follow the store's route index ${o.follow.describe} (reconcile ${JSON.stringify(o.reconcile)})`);
    o.follow?.close();
    print(`# then, as the controller asks: ip -6 route replace BSID/128 encap seg6local action End.B6.Encaps srh segs S1,…,Sn dev DEV (BSID in ${formatPrefix(prefix)})`);
    return 0;
  }
  checkNetconfPrerequisites();
  const log = createLogger(o.logLevel ?? 'info', { component: 'access-router' });
  const agent = new LocalAccessRouter({ name: o.name, bsidPrefix: prefix, clientInterfaces: o.clientInterfaces, log, limits, ...(o.tunnelSource ? { tunnelSource: o.tunnelSource } : {}) });
  await agent.start();
  let reconciler: { readonly stats: ReconcileStats; stop(): Promise<void> } | undefined;
  let server;
  try {
    server = await serveAgent(agent, { address: listen.address, port: listen.port, log, ...credentials, ...(o.follow ? { reconcile: () => reconciler?.stats ?? NOT_STARTED } : {}) });
    // the first full sync is tried before the agent says it started (etcd down: fail static, logged)
    reconciler = await o.follow?.start(agent, log.child({ reconcile: o.name }));
  } catch (e) {
    await server?.close();
    o.follow?.close();
    await agent.stop();
    throw e;
  }
  log.info(
    { listen: `[${listen.address}]:${server.port}`, follows: o.follow?.describe, token: token !== undefined, tls: tls !== undefined, mutualTls: tls?.clientCa !== undefined, limits },
    'access-router agent started',
  );
  await untilStopSignal(log);
  await reconciler?.stop();
  o.follow?.close();
  await server.close();
  await agent.stop();
  log.info('access-router agent stopped');
  return 0;
}
