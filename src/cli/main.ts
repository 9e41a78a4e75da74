/**
 * CLI entry: builds a commander program from the command table and turns errors into exit codes.
 * A user error prints one line and a hint (no stack); anything else is a bug and prints the stack.
 */
import { Command, CommanderError } from 'commander';
import { SrError } from '../core/errors.js';
import { COMMANDS, GROUPS } from './commands/index.js';
import { longFlag } from './options.js';
import type { CommandSpec, OptionSpec } from './spec.js';
import { VERSION } from '../core/version.js';

export function buildProgram(onRun: (p: Promise<number | void>) => void): Command {
  const program = new Command('srv6pipes')
    .description('In-network bytestream functions over IPv6 Segment Routing')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const groups = new Map<string, Command>();
  for (const g of GROUPS) {
    groups.set(g.name, program.command(g.name).description(g.summary).exitOverride());
  }
  for (const spec of COMMANDS) {
    const words = spec.name.split(' ');
    const parent = words.length > 1 ? groups.get(words[0]!) : program;
    if (!parent) throw new Error(`command "${spec.name}": no group "${words[0]}"`);
    attach(parent, words[words.length - 1]!, spec, onRun);
  }
  return program;
}

function attach(parent: Command, verb: string, spec: CommandSpec, onRun: (p: Promise<number | void>) => void): void {
  const cmd = parent.command(verb).description(spec.summary).exitOverride();
  for (const a of spec.args ?? []) {
    const n = a.variadic ? `${a.name}...` : a.name;
    cmd.argument(a.required ? `<${n}>` : `[${n}]`, a.description);
  }
  const options = Object.entries(spec.options ?? {});
  for (const [, o] of options) {
    if (o.default === undefined) cmd.option(o.flags, o.description);
    else cmd.option(o.flags, o.description, o.default);
  }
  cmd.action((...params: unknown[]) => {
    const command = params[params.length - 1] as Command;
    // typed values before `run`: a bad one is a user error (one line, a hint)
    onRun(Promise.resolve().then(() => spec.run(command.args, parseOptions(options, command.opts()))));
  });
}

/** Commander's values → the declared types (options.ts); BAD_ARGUMENT naming the flag. */
export function parseOptions(options: [string, OptionSpec][], given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, o] of options) {
    const raw = given[key];
    out[key] = o.parse(typeof raw === 'string' || typeof raw === 'boolean' ? raw : undefined, longFlag(o.flags));
  }
  return out;
}

export function reportError(e: unknown): number {
  if (e instanceof SrError && e.kind !== 'bug') {
    process.stderr.write(`srv6pipes: ${e.message} [${e.code}]\n  hint: ${e.hint}\n`);
    return 2;
  }
  process.stderr.write(`srv6pipes: internal error (a bug):\n${e instanceof Error ? e.stack : String(e)}\n`);
  return 70;
}

export async function main(argv: string[]): Promise<number> {
  let pending: Promise<number | void> | undefined;
  const program = buildProgram((p) => {
    pending = p;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    return reportError(e);
  }
  if (!pending) return 0;
  try {
    return (await pending) ?? 0;
  } catch (e) {
    return reportError(e);
  }
}
