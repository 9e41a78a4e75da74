import { errnoCode, SrError } from '../../core/errors.js';
import { printError } from '../report.js';

/** A socket's failure (ECONNREFUSED, ETIMEDOUT, a reset mid-stream) as CONNECT_FAILED naming the destination. */
function connectFailed(host: string, port: number, e: unknown): SrError {
  const code = errnoCode(e);
  return new SrError('CONNECT_FAILED', `connect [${host}]:${port}: ${(e as Error).message}${code && !(e as Error).message.includes(code) ? ` (${code})` : ''}`, { cause: e });
}
import { command, type CommandSpec } from '../spec.js';
import { duration, flag, list, portArgument, text } from '../options.js';

export const CONNECT_COMMANDS: CommandSpec[] = [
  command({
    name: 'connect',
    summary: 'netcat over an SR path: stdin → connection → stdout (stdin EOF half-closes)',
    args: [
      { name: 'host', description: 'final destination (IPv6 address; a name with --resolve)', required: true },
      { name: 'port', description: 'destination port', required: true },
    ],
    options: {
      segments: list('-s, --segments <list>', 'comma-separated waypoints (function SIDs), in travel order'),
      returnPath: list('--return-path <list>', 'comma-separated return SIDs, in the order the replies travel back (return-path TLV; with --resolve it replaces the controller’s)'),
      timeout: duration('--timeout <ms>', 'connect timeout: 10s, 500ms, or a bare number of ms', { unit: 'ms', min: 1, max: 3_600_000, default: '10000' }),
      resolve: flag('--resolve', 'HOST is a name: ask the controller for its address and SR path'),
      functions: list('-f, --functions <list>', 'with --resolve: functions to request, comma-separated'),
      controller: text('--controller <addr>', 'with --resolve: the controller, ADDR or [ADDR]:PORT', '[::1]:53'),
    },
    async run(args, opts) {
      const [host, portText] = args as [string, string];
      const port = portArgument(portText, 'PORT');
      const segments = opts.segments;
      let socket;
      try {
        if (opts.resolve) {
          const { resolveAndConnect } = await import('../../client/resolve.js');
          const returnPath = opts.returnPath;
          const r = await resolveAndConnect({ name: host, port, functions: opts.functions, controller: opts.controller, timeoutMs: opts.timeout, ...(returnPath.length ? { returnPath } : {}) });
          process.stderr.write(`srv6pipes connect: ${host} → [${r.host}]:${port} via ${r.segments.length ? r.segments.join(' → ') : 'no waypoint'}\n`);
          socket = r.socket;
        } else {
          const { connect } = await import('../../client/connect.js');
          socket = await connect({ host, port, segments, returnPath: opts.returnPath, timeoutMs: opts.timeout });
        }
      } catch (e) {
        // like netcat, a peer's refusal (the server's, or the controller's: DNS_REFUSED…) exits 1; one line, a code, a hint
        return printError(e instanceof SrError ? e : connectFailed(host, port, e));
      }
      return new Promise<number>((resolve) => {
        let failed = false;
        socket.on('error', (e: NodeJS.ErrnoException) => {
          failed = true;
          printError(connectFailed(host, port, e));
        });
        socket.on('close', () => resolve(failed ? 1 : 0));
        // stdout closed by its reader (`connect … | head`): done, like netcat — no stack, exit 0
        process.stdout.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code !== 'EPIPE') {
            failed = true;
            printError(new SrError('CONNECT_FAILED', `writing to stdout: ${e.message}`));
          }
          socket.destroy();
        });
        socket.pipe(process.stdout, { end: false });
        process.stdin.pipe(socket);
        socket.on('end', () => process.stdin.unpipe(socket));
      }).then((code) => {
        process.stdin.destroy();
        return code;
      });
    },
  }),
];
