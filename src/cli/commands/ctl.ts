/** `srv6pipes ctl ...`: change a running proxy's function table through its admin endpoint. */
import YAML from 'yaml';
import { ADMIN_OPTIONS, adminCall as request } from '../admin-client.js';
import { SrError } from '../../core/errors.js';
import type { FunctionInfo } from '../../sdk/table.js';
import { duration, flag, text } from '../options.js';
import { command, type CommandSpec, type GroupSpec } from '../spec.js';

export const CTL_GROUP: GroupSpec = { name: 'ctl', summary: 'Load, unload and reload functions in a running proxy' };

function parseId(text: string | undefined): number {
  const id = /^\d{1,10}$/.test(text ?? '') ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(id)) throw new SrError('BAD_ARGUMENT', `bad function id "${text}"`, { hint: 'a function id is a whole number, as in the SID (srv6pipes ctl list shows them)' });
  return id;
}

function print(opts: { json: boolean }, value: unknown, line: string): number {
  process.stdout.write(opts.json ? `${JSON.stringify(value, null, 1)}\n` : `${line}\n`);
  return 0;
}

const JSON_OPTION = flag('--json', 'print JSON');

export const CTL_COMMANDS: CommandSpec[] = [
  command({
    name: 'ctl list',
    summary: 'List the loaded functions: id, name, version, flows (and older versions still serving flows)',
    options: { ...ADMIN_OPTIONS, json: JSON_OPTION },
    async run(_args, opts) {
      const fns = (await request(opts, '/functions')) as FunctionInfo[];
      const lines = fns.map((f) => {
        const old = f.retiring.map((r) => ` (v${r.version}: ${r.activeFlows} flow(s) finishing)`).join('');
        return `${String(f.id).padEnd(6)} ${f.name.padEnd(28)} v${String(f.version).padEnd(4)} ${f.activeFlows} flow(s)${old}`;
      });
      return print(opts, fns, ['ID     NAME                         VERSION FLOWS', ...lines].join('\n'));
    },
  }),
  command({
    name: 'ctl load',
    summary: 'Load or replace function ID: a built-in name or a module path (.js/.mjs), with options',
    args: [
      { name: 'id', description: 'function id (as in SIDs)' },
      { name: 'function', description: 'built-in name or module path' },
    ],
    options: {
      ...ADMIN_OPTIONS,
      options: text('-o, --options <yaml>', 'the function options, YAML or JSON (e.g. "{ passes: 3 }")'),
      spec: text('--spec <yaml>', 'a whole config entry instead: "{ id: 9, chain: [ { function: compress }, { function: xor } ] }"'),
      json: JSON_OPTION,
    },
    async run(args, opts) {
      let spec: unknown;
      if (opts.spec !== undefined) spec = YAML.parse(opts.spec);
      else {
        const [id, fn] = args;
        if (id === undefined || fn === undefined) throw new SrError('BAD_ARGUMENT', 'usage: srv6pipes ctl load ID FUNCTION [--options YAML] | --spec YAML');
        const options: unknown = opts.options !== undefined ? YAML.parse(opts.options) : {};
        // a relative module path is relative to where the command runs, not to the proxy
        const path = /[/\\]|\.m?js$/.test(fn) ? (await import('node:path')).resolve(fn) : fn;
        spec = { id: parseId(id), function: path, options };
      }
      const r = (await request(opts, '/functions/load', { spec })) as { id: number; version: number[] };
      return print(opts, r, `function ${r.id} loaded (version ${[...new Set(r.version)].join(', ')}); new flows use it, flows in flight keep theirs`);
    },
  }),
  command({
    name: 'ctl unload',
    summary: 'Unload function ID; its flows get until the deadline to finish, then are reset',
    args: [{ name: 'id', description: 'function id', required: true }],
    options: {
      ...ADMIN_OPTIONS,
      deadline: duration('--deadline <ms>', 'how long flows may finish: 500ms, 5s, 2m, or a bare number of ms (default: timeouts.drain)', { unit: 'ms', max: 3_600_000 }),
      json: JSON_OPTION,
    },
    async run(args, opts) {
      const body: Record<string, unknown> = { id: parseId(args[0]) };
      if (opts.deadline !== undefined) body['deadlineMs'] = opts.deadline;
      const r = (await request(opts, '/functions/unload', body)) as { id: number; reset: number };
      return print(opts, r, `function ${r.id} unloaded${r.reset ? ` (${r.reset} flow(s) reset at the deadline)` : ''}`);
    },
  }),
  command({
    name: 'ctl reload',
    summary: 'Reload function ID from its module file (or, without ID, re-read the config file as SIGHUP does)',
    args: [{ name: 'id', description: 'function id (omit to reload the whole config)' }],
    options: { ...ADMIN_OPTIONS, json: JSON_OPTION },
    async run(args, opts) {
      if (args[0] === undefined) {
        const r = (await request(opts, '/config/reload', {})) as { loaded: number[]; unloaded: number[]; kept: number[] };
        return print(opts, r, `config reloaded: loaded [${r.loaded.join(', ')}], unloaded [${r.unloaded.join(', ')}], kept [${r.kept.join(', ')}]`);
      }
      const r = (await request(opts, '/functions/reload', { id: parseId(args[0]) })) as { id: number; version: number[] };
      return print(opts, r, `function ${r.id} reloaded (version ${[...new Set(r.version)].join(', ')})`);
    },
  }),
];
