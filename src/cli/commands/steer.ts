import { listOption, portOption } from '../options.js';
import type { CommandSpec } from '../spec.js';

export const STEER_COMMANDS: CommandSpec[] = [
  {
    name: 'steer',
    summary: 'Steer an unmodified program’s traffic to NAME through its SR path (a host route, encap seg6 inline), then remove it',
    args: [
      { name: 'name', description: 'the name to resolve with the controller', required: true },
      { name: 'command', description: 'after --: the command to run while steered (without one: hold until SIGINT/SIGTERM)', variadic: true },
    ],
    options: [
      { flags: '-f, --functions <list>', description: 'comma-separated functions to request, in order' },
      { flags: '--controller <addr[:port]>', description: 'the controller, e.g. fc00:2::2 or [fc00:2::2]:53', default: '[::1]:53' },
      { flags: '--port <port>', description: 'the destination port (policies may match on it)' },
      { flags: '--tcp', description: 'ask the controller over TCP' },
      { flags: '--replace', description: 'take over an existing route to the address (put back on exit)' },
      { flags: '--json', description: 'print the steering as JSON lines' },
      { flags: '--dry-run', description: 'resolve and print the `ip` command; change nothing, run nothing' },
    ],
    // everything after `--` reaches `command` as it is
    async run(args, opts) {
      const [name, ...rest] = args as [string, ...string[]];
      const command = rest[0] === '--' ? rest.slice(1) : rest;
      const port = portOption(opts['port']);
      const { runSteer, defaultDeps } = await import('../../client/steer.js');
      return runSteer(
        {
          name,
          functions: listOption(opts['functions']),
          controller: String(opts['controller']),
          ...(port !== undefined ? { port } : {}),
          tcp: opts['tcp'] === true,
          ...(command.length > 0 ? { command } : {}),
          json: opts['json'] === true,
          dryRun: opts['dryRun'] === true,
          replace: opts['replace'] === true,
        },
        // with a command, stdout is the command's: steer writes to stderr
        defaultDeps(command.length > 0 && opts['dryRun'] !== true),
      );
    },
  },
];
