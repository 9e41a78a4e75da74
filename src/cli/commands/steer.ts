import { flag, list, port, text } from '../options.js';
import { command, type CommandSpec } from '../spec.js';

export const STEER_COMMANDS: CommandSpec[] = [
  command({
    name: 'steer',
    summary: 'Steer an unmodified program’s traffic to NAME through its SR path (a host route, encap seg6 inline), then remove it',
    args: [
      { name: 'name', description: 'the name to resolve with the controller', required: true },
      { name: 'command', description: 'after --: the command to run while steered (without one: hold until SIGINT/SIGTERM)', variadic: true },
    ],
    options: {
      functions: list('-f, --functions <list>', 'comma-separated functions to request, in order'),
      controller: text('--controller <addr[:port]>', 'the controller, e.g. fc00:2::2 or [fc00:2::2]:53', '[::1]:53'),
      port: port('--port <port>', 'the destination port (policies may match on it)'),
      tcp: flag('--tcp', 'ask the controller over TCP'),
      replace: flag('--replace', 'take over an existing route to the address (put back on exit)'),
      json: flag('--json', 'print the steering as JSON lines'),
      dryRun: flag('--dry-run', 'resolve and print the `ip` command; change nothing, run nothing'),
    },
    // everything after `--` reaches `command` as it is
    async run(args, opts) {
      const [name, ...rest] = args as [string, ...string[]];
      const argv = rest[0] === '--' ? rest.slice(1) : rest;
      const port = opts.port;
      const { runSteer, defaultDeps } = await import('../../client/steer.js');
      return runSteer(
        {
          name,
          functions: opts.functions,
          controller: opts.controller,
          ...(port !== undefined ? { port } : {}),
          tcp: opts.tcp,
          ...(argv.length > 0 ? { command: argv } : {}),
          json: opts.json,
          dryRun: opts.dryRun,
          replace: opts.replace,
        },
        // with a command, stdout is the command's: steer writes to stderr
        defaultDeps(argv.length > 0 && !opts.dryRun),
      );
    },
  }),
];
