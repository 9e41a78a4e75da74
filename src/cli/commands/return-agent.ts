import { LOG_LEVELS } from '../../config/schemas.js';
import { duration, flag, list, oneOf, text } from '../options.js';
import { command, type CommandSpec } from '../spec.js';

export const RETURN_COMMANDS: CommandSpec[] = [
  command({
    name: 'return-agent',
    summary: 'Run the return agent on a server off the path: steer its replies back to the proxies that sent its flows; makes the host accept SRHs (seg6_enabled) while it runs (not the access-router agent)',
    options: {
      hops: list('--hops <list>', 'comma-separated return hops ID=SID: the SRH tag a proxy’s flows carry = its return SID, e.g. 17=fc00:a::ffff'),
      controller: text('--controller <addr>', 'also learn every proxy’s return hop from the controller, ADDR or [ADDR]:PORT (TYPE 65283 query)'),
      refresh: duration('--refresh <seconds>', 'with --controller: ask again this often (a change re-installs the steering): 30s, 5m, or a bare number of seconds', { unit: 's', min: 1000, max: 86_400_000, default: '30' }),
      report: duration('--report <seconds>', 'log the marked packets per hop this often: 60s, 5m, or a bare number of seconds', { unit: 's', min: 1000, max: 86_400_000, default: '60' }),
      dryRun: flag('--dry-run', 'print what would be installed; change nothing'),
      logLevel: oneOf('--log-level <level>', 'fatal … trace', LOG_LEVELS, 'info'),
    },
    async run(_args, opts) {
      const { parseReturnHop } = await import('../../return/steering.js');
      const { runReturnAgent } = await import('../../return/return-agent.js');
      return runReturnAgent({
        hops: opts.hops.map(parseReturnHop),
        ...(opts.controller !== undefined ? { controller: opts.controller } : {}),
        refreshSeconds: opts.refresh / 1000,
        reportSeconds: opts.report / 1000,
        logLevel: opts.logLevel,
        dryRun: opts.dryRun,
      });
    },
  }),
];
