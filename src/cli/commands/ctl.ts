/** `srv6pipes ctl ...`: change a running proxy's function table through its admin endpoint. */
import YAML from 'yaml';
import { ADMIN_OPTIONS, adminCall as request } from '../admin-client.js';
import { durationArgument } from '../../config/duration.js';
import { SrError } from '../../core/errors.js';
import type { FunctionInfo } from '../../sdk/table.js';
import type { CommandSpec, GroupSpec } from '../spec.js';

export const CTL_GROUP: GroupSpec = { name: 'ctl', summary: 'Load, unload and reload functions in a running proxy' };

function parseId(text: string | undefined): number {
  const id = Number(text);
  if (!Number.isInteger(id) || id < 0) throw new SrError('BAD_ARGUMENT', `bad function id "${text}"`);
  return id;
}

function print(opts: Record<string, unknown>, value: unknown, text: string): number {
  process.stdout.write(opts['json'] ? `${JSON.stringify(value, null, 1)}\n` : `${text}\n`);
  return 0;
}

export const CTL_COMMANDS: CommandSpec[] = [
  {
    name: 'ctl list',
    summary: 'List the loaded functions: id, name, version, flows (and older versions still serving flows)',
    options: [...ADMIN_OPTIONS, { flags: '--json', description: 'print JSON' }],
    async run(_args, opts) {
      const fns = (await request(opts, '/functions')) as FunctionInfo[];
      const lines = fns.map((f) => {
        const old = f.retiring.map((r) => ` (v${r.version}: ${r.activeFlows} flow(s) finishing)`).join('');
        return `${String(f.id).padEnd(6)} ${f.name.padEnd(28)} v${String(f.version).padEnd(4)} ${f.activeFlows} flow(s)${old}`;
      });
      return print(opts, fns, ['ID     NAME                         VERSION FLOWS', ...lines].join('\n'));
    },
  },
  {
    name: 'ctl load',
    summary: 'Load or replace function ID: a built-in name or a module path (.js/.mjs), with options',
    args: [
      { name: 'id', description: 'function id (as in SIDs)' },
      { name: 'function', description: 'built-in name or module path' },
    ],
    options: [
      ...ADMIN_OPTIONS,
      { flags: '-o, --options <yaml>', description: 'the function options, YAML or JSON (e.g. "{ passes: 3 }")' },
      { flags: '--spec <yaml>', description: 'a whole config entry instead: "{ id: 9, chain: [ { function: compress }, { function: xor } ] }"' },
      { flags: '--json', description: 'print JSON' },
    ],
    async run(args, opts) {
      let spec: unknown;
      if (typeof opts['spec'] === 'string') spec = YAML.parse(opts['spec']);
      else {
        const [id, fn] = args;
        if (id === undefined || fn === undefined) throw new SrError('BAD_ARGUMENT', 'usage: srv6pipes ctl load ID FUNCTION [--options YAML] | --spec YAML');
        const options = typeof opts['options'] === 'string' ? YAML.parse(opts['options']) : {};
        // a relative module path is relative to where the command runs, not to the proxy
        const path = /[/\\]|\.m?js$/.test(fn) ? (await import('node:path')).resolve(fn) : fn;
        spec = { id: parseId(id), function: path, options };
      }
      const r = (await request(opts, '/functions/load', { spec })) as { id: number; version: number[] };
      return print(opts, r, `function ${r.id} loaded (version ${[...new Set(r.version)].join(', ')}); new flows use it, flows in flight keep theirs`);
    },
  },
  {
    name: 'ctl unload',
    summary: 'Unload function ID; its flows get until the deadline to finish, then are reset',
    args: [{ name: 'id', description: 'function id', required: true }],
    options: [...ADMIN_OPTIONS, { flags: '--deadline <ms>', description: 'how long flows may finish (default: timeouts.drain)' }, { flags: '--json', description: 'print JSON' }],
    async run(args, opts) {
      const body: Record<string, unknown> = { id: parseId(args[0]) };
      if (opts['deadline'] !== undefined) body['deadlineMs'] = durationArgument(opts['deadline'], '--deadline', { max: 3_600_000 });
      const r = (await request(opts, '/functions/unload', body)) as { id: number; reset: number };
      return print(opts, r, `function ${r.id} unloaded${r.reset ? ` (${r.reset} flow(s) reset at the deadline)` : ''}`);
    },
  },
  {
    name: 'ctl reload',
    summary: 'Reload function ID from its module file (or, without ID, re-read the config file as SIGHUP does)',
    args: [{ name: 'id', description: 'function id (omit to reload the whole config)' }],
    options: [...ADMIN_OPTIONS, { flags: '--json', description: 'print JSON' }],
    async run(args, opts) {
      if (args[0] === undefined) {
        const r = (await request(opts, '/config/reload', {})) as { loaded: number[]; unloaded: number[]; kept: number[] };
        return print(opts, r, `config reloaded: loaded [${r.loaded.join(', ')}], unloaded [${r.unloaded.join(', ')}], kept [${r.kept.join(', ')}]`);
      }
      const r = (await request(opts, '/functions/reload', { id: parseId(args[0]) })) as { id: number; version: number[] };
      return print(opts, r, `function ${r.id} reloaded (version ${[...new Set(r.version)].join(', ')})`);
    },
  },
];
