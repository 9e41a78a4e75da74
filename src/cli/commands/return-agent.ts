import { LOG_LEVELS } from '../../config/schemas.js';
import { duration, flag, list, oneOf, text } from '../options.js';
import { command, type CommandSpec } from '../spec.js';

export const RETURN_COMMANDS: CommandSpec[] = [
  command({
    name: 'return-agent',
    summary: 'Run the return agent on a server off the path: steer its replies back to the proxies that sent its flows; makes the host accept SRHs (seg6_enabled) while it runs (not the access-router agent)',
    options: {
      config: text('-c, --config <file>', 'YAML with these options as keys (examples/return-agent.yaml); a flag given here wins'),
      hops: list('--hops <list>', 'comma-separated return hops ID=SID: the SRH tag a proxy’s flows carry = its return SID, e.g. 17=fc00:a::ffff'),
      controller: list('--controller <list>', 'also learn every proxy’s return hop from the controller, ADDR or [ADDR]:PORT (TYPE 65283 query); comma-separated for several instances of a replicated controller, asked in turn'),
      refresh: duration('--refresh <seconds>', 'with --controller: ask again this often (a change re-installs the steering): 30s, 5m, or a bare number of seconds (default 30)', { unit: 's', min: 1000, max: 86_400_000 }),
      report: duration('--report <seconds>', 'log the marked packets per hop this often: 60s, 5m, or a bare number of seconds (default 60)', { unit: 's', min: 1000, max: 86_400_000 }),
      dryRun: flag('--dry-run', 'print what would be installed; change nothing'),
      logLevel: oneOf('--log-level <level>', 'fatal … trace', LOG_LEVELS, 'info'),
    },
    async run(_args, opts) {
      const { parseReturnHop } = await import('../../return/steering.js');
      const { runReturnAgent } = await import('../../return/return-agent.js');
      const { loadReturnAgentConfig } = await import('../../return/config-file.js');
      const file = opts.config !== undefined ? loadReturnAgentConfig(opts.config) : undefined;
      const controller = opts.controller.length ? opts.controller : file?.controller;
      return runReturnAgent({
        hops: opts.hops.length ? opts.hops.map(parseReturnHop) : (file?.hops ?? []),
        ...(controller !== undefined ? { controller } : {}),
        refreshSeconds: opts.refresh !== undefined ? opts.refresh / 1000 : (file?.refreshSeconds ?? 30),
        reportSeconds: opts.report !== undefined ? opts.report / 1000 : (file?.reportSeconds ?? 60),
        // --log-level info is the flag's default: the file's level then
        logLevel: opts.logLevel !== 'info' ? opts.logLevel : (file?.logLevel ?? 'info'),
        dryRun: opts.dryRun,
      });
    },
  }),
];
