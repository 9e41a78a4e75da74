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
import { nearestKey } from '../config/fields.js';
import { formatUserError, printError } from './report.js';

export function buildProgram(onRun: (p: Promise<number | void>) => void): Command {
  const program = new Command('srv6pipes')
    .description('In-network bytestream functions over IPv6 Segment Routing')
    .version(VERSION, '-v, --version', 'print the version')
    // commander's own error lines are not printed: main() prints one line and a hint, like every user error
    .configureOutput({ outputError: () => undefined })
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

/** A user error: one line and a hint, exit 2 (an `input` error out of a command too); a bug: its stack, exit 70. */
export function reportError(e: unknown): number {
  if (e instanceof SrError && e.kind !== 'bug') {
    process.stderr.write(formatUserError(e));
    return 2;
  }
  return printError(e);
}

/**
 * The verbs of `argv` that name no command: `srv6pipes bogus --help` would print the whole help and
 * exit 0 (commander shows help before it looks at the verb). BAD_ARGUMENT naming the verb, the
 * nearest command, and where to look.
 */
export function checkVerbs(program: Command, argv: readonly string[]): void {
  let cmd = program;
  const words = ['srv6pipes'];
  for (const word of argv) {
    if (word.startsWith('-') || cmd.commands.length === 0) return;
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) {
      if (word === 'help') return;
      const names = cmd.commands.map((c) => c.name());
      const near = nearestKey(word, names);
      throw new SrError('BAD_ARGUMENT', `unknown command '${[...words, word].slice(1).join(' ')}'${near ? ` (did you mean ${[...words.slice(1), near].join(' ')}?)` : ''}`, {
        hint: `the commands: ${words.join(' ')} --help`,
      });
    }
    cmd = sub;
    words.push(word);
  }
}

/** A commander parse error (unknown option, missing argument, …) as one line and a hint. */
function commanderError(e: CommanderError): SrError {
  const [first, ...rest] = e.message.replace(/^error: /, '').split('\n');
  const suggestion = rest.map((l) => l.trim()).find((l) => /^\(Did you mean/.test(l));
  return new SrError('BAD_ARGUMENT', `${first!}${suggestion ? ` ${suggestion.replace('(Did', '(did')}` : ''}`, { hint: 'see srv6pipes --help, or srv6pipes COMMAND --help' });
}

export async function main(argv: string[]): Promise<number> {
  let pending: Promise<number | void> | undefined;
  const program = buildProgram((p) => {
    pending = p;
  });
  try {
    checkVerbs(program, argv);
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : reportError(commanderError(e));
    return reportError(e);
  }
  if (!pending) return 0;
  try {
    return (await pending) ?? 0;
  } catch (e) {
    return reportError(e);
  }
}
