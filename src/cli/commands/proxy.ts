import { SrError } from '../../core/errors.js';
import type { FlowRecord } from '../../proxy/flow.js';
import type { ProxyStats } from '../../proxy/stats.js';
import { loadBuiltins } from '../../functions/registry.js';
import { describeFunction } from '../../sdk/describe.js';
import { flowRows } from '../flow-table.js';
import { formatFunctions } from '../function-list.js';
import { table } from '../table.js';
import { command, type CommandSpec } from '../spec.js';
import { flag, optionalOneOf, text } from '../options.js';
import { LOG_LEVELS } from '../../config/schemas.js';

/** `--log-level`: overrides the config file's `logLevel` (no default: the file's applies) */
export const LOG_LEVEL_OPTION = optionalOneOf('--log-level <level>', 'fatal … trace (default: the config file’s logLevel, else info)', LOG_LEVELS);
import { ADMIN_OPTIONS, adminCall } from '../admin-client.js';

const JSON_OPTION = flag('--json', 'print JSON');

export const PROXY_COMMANDS: CommandSpec[] = [
  command({
    name: 'proxy',
    summary: 'Run the SR-aware transparent proxy daemon',
    options: {
      config: text('-c, --config <file>', 'YAML (or JSON) configuration file (examples/proxy.yaml)'),
      dryRun: flag('--dry-run', 'validate the config, print every host change, change nothing'),
      logLevel: LOG_LEVEL_OPTION,
    },
    async run(_args, opts) {
      if (opts.config === undefined) {
        throw new SrError('BAD_ARGUMENT', 'missing --config FILE', { hint: 'srv6pipes proxy --config proxy.yaml' });
      }
      const { runProxy } = await import('../../proxy/daemon.js');
      return runProxy({ configPath: opts.config, dryRun: opts.dryRun, ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel } : {}) });
    },
  }),
  command({
    name: 'flows',
    summary: 'Show the flow table of a running proxy',
    options: { ...ADMIN_OPTIONS, json: JSON_OPTION },
    async run(_args, opts) {
      const flows = (await adminCall(opts, '/flows')) as FlowRecord[];
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(flows, null, 1)}\n`);
        return 0;
      }
      process.stdout.write(`${table(flowRows(flows))}\n${flows.length} flow(s)\n`);
      return 0;
    },
  }),
  command({
    name: 'stats',
    summary: 'Show the per-function counters of a running proxy',
    options: { ...ADMIN_OPTIONS, json: JSON_OPTION },
    async run(_args, opts) {
      const s = (await adminCall(opts, '/stats')) as ProxyStats;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(s, null, 1)}\n`);
        return 0;
      }
      const rows = [['FN', 'FUNCTION', 'FLOWS', 'ACTIVE', 'BYTES UP', 'BYTES DOWN', 'ENDINGS']];
      for (const f of s.functions) {
        rows.push([String(f.functionId), f.function, String(f.flowsTotal), String(f.flowsActive), String(f.bytesUp), String(f.bytesDown), Object.entries(f.endings).map(([k, v]) => `${k}=${v}`).join(' ')]);
      }
      const rej = Object.entries(s.rejected).map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
      process.stdout.write(`${table(rows)}\naccepted ${s.accepted}; rejected: ${rej}\n`);
      return 0;
    },
  }),
  command({
    name: 'metrics',
    summary: 'Print a running proxy’s Prometheus metrics (what GET /metrics serves)',
    options: ADMIN_OPTIONS,
    async run(_args, opts) {
      process.stdout.write(String(await adminCall(opts, '/metrics')));
      return 0;
    },
  }),
  {
    name: 'functions',
    summary: 'List the built-in functions: their argument, options, reset reasons and requirements',
    options: { json: flag('--json', 'print JSON (an array, one object per function)') },
    async run(_args, opts) {
      const infos = (await loadBuiltins()).map(describeFunction);
      process.stdout.write(opts['json'] ? `${JSON.stringify(infos, null, 1)}\n` : formatFunctions(infos));
      return 0;
    },
  },
];
