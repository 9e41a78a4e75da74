import { SrError } from '../../core/errors.js';
import { printError } from '../report.js';
import { LOG_LEVELS } from '../../config/schemas.js';
import { duration, flag, int, list, oneOf, optionalOneOf, port, text } from '../options.js';
import { command, type CommandSpec } from '../spec.js';

export const CONTROLLER_COMMANDS: CommandSpec[] = [
  command({
    name: 'controller',
    summary: 'Run the SR controller: a DNS server that answers names with SR paths (docs/controller.md)',
    options: {
      config: text('-c, --config <file>', 'YAML (or JSON) configuration file (examples/controller.yaml)'),
      listen: text('--listen <addr:port>', 'override `listen`, e.g. [::1]:5353'),
      dryRun: flag('--dry-run', 'validate the config and exit'),
      logLevel: optionalOneOf('--log-level <level>', 'fatal … trace (default: the config file’s logLevel, else info)', LOG_LEVELS),
    },
    async run(_args, opts) {
      if (opts.config === undefined) {
        throw new SrError('BAD_ARGUMENT', 'missing --config FILE', { hint: 'srv6pipes controller --config controller.yaml' });
      }
      const { parseController } = await import('../../dns/query.js');
      const listen = opts.listen !== undefined ? parseController(opts.listen) : undefined;
      const { runController } = await import('../../controller/daemon.js');
      return runController({ configPath: opts.config, dryRun: opts.dryRun, ...(listen ? { listen } : {}), ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel } : {}) });
    },
  }),
  command({
    name: 'access-router',
    summary: 'Run the access-router agent (binding SIDs): installs End.B6.Encaps routes for the controller (not the return agent: see return-agent)',
    options: {
      config: text('-c, --config <file>', 'YAML with these options as keys (examples/access-router.yaml); a flag given here wins'),
      dryRun: flag('--dry-run', 'validate the options, print what the agent would install, change nothing'),
      bsidPrefix: text('--bsid-prefix <prefix>', 'the prefix binding SIDs are allocated from, e.g. fc00:f::/64'),
      listen: text('--listen <addr:port>', 'where the controller reaches the agent (HTTP, HTTPS with --tls-cert): loopback unless a credential is given, e.g. [::1]:7780'),
      name: text('--name <name>', 'the router’s node name in the controller config (default ar)'),
      tunnelSource: text('--tunnel-source <addr>', 'outer source address of encapsulated packets (ip sr tunsrc)'),
      clientInterface: list('--client-interface <list>', 'comma-separated client-facing interfaces: SR traffic from them must target an installed BSID'),
      tokenFile: text('--token-file <file>', 'require the bearer token in this file from the controller (needed off loopback, unless --tls-client-ca)'),
      tlsCert: text('--tls-cert <file>', 'serve HTTPS with this certificate (PEM; with --tls-key)'),
      tlsKey: text('--tls-key <file>', 'the private key of --tls-cert (PEM)'),
      tlsClientCa: text('--tls-client-ca <file>', 'mutual TLS: the controller must present a certificate signed by this CA (PEM)'),
      // the ranges are the agent's own (access-router/limits.ts): BAD_ARGUMENT naming the flag
      minSourceLength: int('--min-source-length <bits>', 'the shortest client prefix a BSID may be installed for (default 128)'),
      maxLifetime: duration('--max-lifetime <seconds>', 'the longest BSID lifetime an install may ask for: 1h, 30m, or a bare number of seconds (at most 7 days) (default 3600)', { unit: 's', min: 1000, max: 7 * 86_400_000 }),
      maxSegments: int('--max-segments <n>', 'segments behind one BSID (default 16)'),
      maxBsids: int('--max-bsids <n>', 'BSIDs installed at once (more: 503 AGENT_FULL) (default 10000)'),
      maxInFlight: int('--max-in-flight <n>', 'requests queued or running at once; one change runs at a time (more: 429 AGENT_BUSY) (default 64)'),
      maxConnections: int('--max-connections <n>', 'HTTP(S) connections open at once (more are dropped, counted) (default 256)'),
      logLevel: oneOf('--log-level <level>', 'fatal … trace', LOG_LEVELS, 'info'),
    },
    async run(_args, opts) {
      const { loadAccessRouterConfig } = await import('../../access-router/config-file.js');
      const file = opts.config !== undefined ? loadAccessRouterConfig(opts.config) : undefined;
      const bsidPrefix = opts.bsidPrefix ?? file?.bsidPrefix;
      const listen = opts.listen ?? file?.listen;
      if (bsidPrefix === undefined || listen === undefined) {
        throw new SrError('BAD_ARGUMENT', `missing ${bsidPrefix === undefined ? '--bsid-prefix' : '--listen'}`, { hint: 'srv6pipes access-router --bsid-prefix fc00:f::/64 --listen [::1]:7780, or --config access-router.yaml' });
      }
      const { runAccessRouter } = await import('../../access-router/daemon.js');
      const { storeFollower } = await import('../../controller/store/follow.js');
      const { DEFAULT_RECONCILE } = await import('../../access-router/reconcile.js');
      const { minSourceLength, maxSegments, maxBsids, maxInFlight, maxConnections } = opts;
      const limits = {
        ...file?.limits,
        ...Object.fromEntries(Object.entries({ minSourceLength, maxLifetime: opts.maxLifetime === undefined ? undefined : opts.maxLifetime / 1000, maxSegments, maxBsids, maxInFlight, maxConnections }).filter(([, v]) => v !== undefined)),
      };
      const files = { tunnelSource: opts.tunnelSource ?? file?.tunnelSource, tokenFile: opts.tokenFile ?? file?.tokenFile, tlsCert: opts.tlsCert ?? file?.tlsCert, tlsKey: opts.tlsKey ?? file?.tlsKey, tlsClientCa: opts.tlsClientCa ?? file?.tlsClientCa };
      return runAccessRouter({
        name: opts.name ?? file?.name ?? 'ar',
        bsidPrefix,
        listen,
        clientInterfaces: opts.clientInterface.length ? opts.clientInterface : (file?.clientInterfaces ?? []),
        // --log-level info is the flag's default: the file's level then
        logLevel: opts.logLevel !== 'info' ? opts.logLevel : (file?.logLevel ?? 'info'),
        limits,
        dryRun: opts.dryRun,
        // the store's credentials are read here, before the agent changes anything
        ...(file?.store ? { store: file.store, reconcile: file.reconcile ?? DEFAULT_RECONCILE, follow: storeFollower(opts.name ?? file.name, file.store, file.reconcile ?? DEFAULT_RECONCILE) } : {}),
        ...(Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined)) as Partial<Record<keyof typeof files, string>>),
      });
    },
  }),
  command({
    name: 'resolve',
    summary: 'Ask the SR controller for a name’s address and SR path',
    args: [{ name: 'name', description: 'the name to resolve', required: true }],
    options: {
      functions: list('-f, --functions <list>', 'comma-separated functions to request, in order'),
      controller: text('--controller <addr[:port]>', 'the controller, e.g. fc00:2::2 or [fc00:2::2]:53', '[::1]:53'),
      port: port('--port <port>', 'the destination port (policies may match on it)'),
      tcp: flag('--tcp', 'ask over TCP'),
      json: flag('--json', 'print JSON'),
    },
    async run(args, opts) {
      const [name] = args as [string];
      const port = opts.port;
      const { resolve } = await import('../../client/resolve.js');
      const { rcodeError } = await import('../../dns/query.js');
      let r;
      try {
        r = await resolve({ name, functions: opts.functions, controller: opts.controller, tcp: opts.tcp, ...(port !== undefined ? { port } : {}) });
      } catch (e) {
        // a controller that does not answer (CONTROLLER_UNREACHABLE) is a peer's failure: exit 1, one line, a hint
        return printError(e);
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        return r.rcode === 'NOERROR' ? 0 : 1;
      }
      if (r.rcode !== 'NOERROR') return printError(rcodeError(r.rcode, `resolve ${name}: the controller answered ${r.rcode}`));
      for (const a of r.addresses) {
        const p = r.paths.find((x) => x.destination === a);
        process.stdout.write(`${name} ${a}\n`);
        if (p?.bsid) process.stdout.write(`  bsid: ${p.bsid} (the access router expands it; the path stays hidden)\n`);
        else process.stdout.write(p ? `  path: ${p.segments.join(' → ')}\n` : '  path: direct (no function)\n');
        if (p?.returnPath) process.stdout.write(`  return path: ${p.returnPath.join(' → ')} (return-path TLV)\n`);
      }
      if (r.addresses.length === 0) process.stdout.write(`${name}: no IPv6 address\n`);
      return 0;
    },
  }),
];
