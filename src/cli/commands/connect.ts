import { SrError } from '../../core/errors.js';
import type { CommandSpec } from '../spec.js';
import { listOption } from '../options.js';

export const CONNECT_COMMANDS: CommandSpec[] = [
  {
    name: 'connect',
    summary: 'netcat over an SR path: stdin → connection → stdout (stdin EOF half-closes)',
    args: [
      { name: 'host', description: 'final destination (IPv6 address; a name with --resolve)', required: true },
      { name: 'port', description: 'destination port', required: true },
    ],
    options: [
      { flags: '-s, --segments <list>', description: 'comma-separated waypoints (function SIDs), in travel order' },
      { flags: '--return-path <list>', description: 'comma-separated return SIDs, in the order the replies travel back (return-path TLV; with --resolve it replaces the controller’s)' },
      { flags: '--timeout <ms>', description: 'connect timeout in ms', default: '10000' },
      { flags: '--resolve', description: 'HOST is a name: ask the controller for its address and SR path' },
      { flags: '-f, --functions <list>', description: 'with --resolve: functions to request, comma-separated' },
      { flags: '--controller <addr>', description: 'with --resolve: the controller, ADDR or [ADDR]:PORT', default: '[::1]:53' },
    ],
    async run(args, opts) {
      const [host, portText] = args as [string, string];
      const port = Number(portText);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SrError('BAD_ARGUMENT', `bad port "${portText}"`);
      const segments = listOption(opts['segments']);
      let socket;
      try {
        if (opts['resolve']) {
          const { resolveAndConnect } = await import('../../client/resolve.js');
          const functions = listOption(opts['functions']);
          const returnPath = listOption(opts['returnPath']);
          const r = await resolveAndConnect({ name: host, port, functions, controller: String(opts['controller']), timeoutMs: Number(opts['timeout']), ...(returnPath.length ? { returnPath } : {}) });
          process.stderr.write(`srv6pipes connect: ${host} → [${r.host}]:${port} via ${r.segments.length ? r.segments.join(' → ') : 'no waypoint'}\n`);
          socket = r.socket;
        } else {
          const { connect } = await import('../../client/connect.js');
          socket = await connect({ host, port, segments, returnPath: listOption(opts['returnPath']), timeoutMs: Number(opts['timeout']) });
        }
      } catch (e) {
        // like netcat, a peer's refusal (the server's, or the controller's: DNS_REFUSED…) exits 1
        if (e instanceof SrError && e.kind !== 'input') throw e;
        const code = (e as { code?: string }).code ?? 'ERROR';
        process.stderr.write(`srv6pipes connect: [${host}]:${port}: ${code}${e instanceof SrError ? ` (${e.message}; ${e.hint})` : ''}\n`);
        return 1;
      }
      return new Promise<number>((resolve) => {
        let failed = false;
        socket.on('error', (e: NodeJS.ErrnoException) => {
          failed = true;
          process.stderr.write(`srv6pipes connect: ${e.code ?? e.message}\n`);
        });
        socket.on('close', () => resolve(failed ? 1 : 0));
        socket.pipe(process.stdout, { end: false });
        process.stdin.pipe(socket);
        socket.on('end', () => process.stdin.unpipe(socket));
      }).then((code) => {
        process.stdin.destroy();
        return code;
      });
    },
  },
];
