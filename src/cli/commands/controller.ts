import { SrError } from '../../core/errors.js';
import { listOption, portOption } from '../options.js';
import type { CommandSpec } from '../spec.js';

export const CONTROLLER_COMMANDS: CommandSpec[] = [
  {
    name: 'controller',
    summary: 'Run the SR controller: a DNS server that answers names with SR paths (docs/controller.md)',
    options: [
      { flags: '-c, --config <file>', description: 'YAML (or JSON) configuration file' },
      { flags: '--listen <addr:port>', description: 'override `listen`, e.g. [::1]:5353' },
      { flags: '--dry-run', description: 'validate the config and exit' },
    ],
    async run(_args, opts) {
      if (typeof opts['config'] !== 'string') {
        throw new SrError('BAD_ARGUMENT', 'missing --config FILE', { hint: 'srv6pipes controller --config controller.yaml' });
      }
      const { parseController } = await import('../../dns/query.js');
      const listen = typeof opts['listen'] === 'string' ? parseController(opts['listen']) : undefined;
      const { runController } = await import('../../controller/daemon.js');
      return runController({ configPath: opts['config'], dryRun: opts['dryRun'] === true, ...(listen ? { listen } : {}) });
    },
  },
  {
    name: 'access-router',
    summary: 'Run the binding-SID agent on an access router: installs End.B6.Encaps routes for the controller',
    options: [
      { flags: '--bsid-prefix <prefix>', description: 'the prefix binding SIDs are allocated from, e.g. fc00:f::/64' },
      { flags: '--listen <addr:port>', description: 'where the controller reaches the agent (HTTP, HTTPS with --tls-cert): loopback unless a credential is given, e.g. [::1]:7780' },
      { flags: '--name <name>', description: 'the router’s node name in the controller config', default: 'ar' },
      { flags: '--tunnel-source <addr>', description: 'outer source address of encapsulated packets (ip sr tunsrc)' },
      { flags: '--client-interface <list>', description: 'comma-separated client-facing interfaces: SR traffic from them must target an installed BSID' },
      { flags: '--token-file <file>', description: 'require the bearer token in this file from the controller (needed off loopback, unless --tls-client-ca)' },
      { flags: '--tls-cert <file>', description: 'serve HTTPS with this certificate (PEM; with --tls-key)' },
      { flags: '--tls-key <file>', description: 'the private key of --tls-cert (PEM)' },
      { flags: '--tls-client-ca <file>', description: 'mutual TLS: the controller must present a certificate signed by this CA (PEM)' },
      { flags: '--min-source-length <bits>', description: 'the shortest client prefix a BSID may be installed for (default 128)' },
      { flags: '--max-lifetime <seconds>', description: 'the longest BSID lifetime an install may ask for (at most 7 days) (default 3600)' },
      { flags: '--max-segments <n>', description: 'segments behind one BSID (default 16)' },
      { flags: '--max-bsids <n>', description: 'BSIDs installed at once (more: 503 AGENT_FULL) (default 10000)' },
      { flags: '--max-in-flight <n>', description: 'requests queued or running at once; one change runs at a time (more: 429 AGENT_BUSY) (default 64)' },
      { flags: '--max-connections <n>', description: 'HTTP(S) connections open at once (more are dropped, counted) (default 256)' },
      { flags: '--log-level <level>', description: 'fatal … trace', default: 'info' },
    ],
    async run(_args, opts) {
      for (const k of ['bsidPrefix', 'listen'] as const) {
        if (typeof opts[k] !== 'string') throw new SrError('BAD_ARGUMENT', `missing --${k === 'bsidPrefix' ? 'bsid-prefix' : 'listen'}`, { hint: 'srv6pipes access-router --bsid-prefix fc00:f::/64 --listen [::1]:7780' });
      }
      const { runAccessRouter } = await import('../../access-router/daemon.js');
      const str = (k: string): Record<string, string> => (typeof opts[k] === 'string' ? { [k]: opts[k] } : {});
      const limits: Record<string, number> = {};
      for (const k of ['minSourceLength', 'maxLifetime', 'maxSegments', 'maxBsids', 'maxInFlight', 'maxConnections']) if (opts[k] !== undefined) limits[k] = Number(opts[k]);
      return runAccessRouter({
        name: String(opts['name']),
        bsidPrefix: String(opts['bsidPrefix']),
        listen: String(opts['listen']),
        clientInterfaces: listOption(opts['clientInterface']),
        logLevel: String(opts['logLevel']),
        limits,
        ...str('tunnelSource'),
        ...str('tokenFile'),
        ...str('tlsCert'),
        ...str('tlsKey'),
        ...str('tlsClientCa'),
      });
    },
  },
  {
    name: 'resolve',
    summary: 'Ask the SR controller for a name’s address and SR path',
    args: [{ name: 'name', description: 'the name to resolve', required: true }],
    options: [
      { flags: '-f, --functions <list>', description: 'comma-separated functions to request, in order' },
      { flags: '--controller <addr[:port]>', description: 'the controller, e.g. fc00:2::2 or [fc00:2::2]:53', default: '[::1]:53' },
      { flags: '--port <port>', description: 'the destination port (policies may match on it)' },
      { flags: '--tcp', description: 'ask over TCP' },
      { flags: '--json', description: 'print JSON' },
    ],
    async run(args, opts) {
      const [name] = args as [string];
      const port = portOption(opts['port']);
      const { resolve } = await import('../../client/resolve.js');
      let r;
      try {
        r = await resolve({ name, functions: listOption(opts['functions']), controller: String(opts['controller']), tcp: opts['tcp'] === true, ...(port !== undefined ? { port } : {}) });
      } catch (e) {
        if (e instanceof SrError) throw e;
        process.stderr.write(`srv6pipes resolve: ${name}: ${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message}\n`);
        return 1;
      }
      if (opts['json']) {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        return r.rcode === 'NOERROR' ? 0 : 1;
      }
      if (r.rcode !== 'NOERROR') {
        process.stderr.write(`srv6pipes resolve: ${name}: ${r.rcode}\n`);
        return 1;
      }
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
  },
];
