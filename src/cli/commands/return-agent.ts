import { listOption } from '../options.js';
import type { CommandSpec } from '../spec.js';

export const RETURN_COMMANDS: CommandSpec[] = [
  {
    name: 'return-agent',
    summary: 'Steer a host’s replies back to the proxies that sent its flows (for unmodified servers off the path); makes the host accept SRHs (seg6_enabled) while it runs',
    options: [
      { flags: '--hops <list>', description: 'comma-separated return hops ID=SID: the SRH tag a proxy’s flows carry = its return SID, e.g. 17=fc00:a::ffff' },
      { flags: '--controller <addr>', description: 'also learn every proxy’s return hop from the controller, ADDR or [ADDR]:PORT (TYPE 65283 query)' },
      { flags: '--refresh <seconds>', description: 'with --controller: ask again this often (a change re-installs the steering)', default: '30' },
      { flags: '--report <seconds>', description: 'log the marked packets per hop this often', default: '60' },
      { flags: '--dry-run', description: 'print what would be installed; change nothing' },
      { flags: '--log-level <level>', description: 'fatal … trace', default: 'info' },
    ],
    async run(_args, opts) {
      const { parseReturnHop } = await import('../../return/steering.js');
      const { runReturnAgent } = await import('../../return/return-agent.js');
      const { durationArgument } = await import('../../config/duration.js');
      return runReturnAgent({
        hops: listOption(opts['hops']).map(parseReturnHop),
        ...(typeof opts['controller'] === 'string' ? { controller: opts['controller'] } : {}),
        refreshSeconds: durationArgument(opts['refresh'], '--refresh', { unit: 's', min: 1000, max: 86_400_000 }) / 1000,
        reportSeconds: durationArgument(opts['report'], '--report', { unit: 's', min: 1000, max: 86_400_000 }) / 1000,
        logLevel: String(opts['logLevel']),
        dryRun: opts['dryRun'] === true,
      });
    },
  },
];
