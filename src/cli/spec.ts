/** The shape of one CLI command. Commands are rows of a table (commands/index.ts); main.ts builds
 *  the parser, help text and error handling from it. Options are declared with their type
 *  (options.ts): main.ts parses them before `run`, so that `run` sees typed, valid values and a bad
 *  value is one line naming the flag, with a hint. */

export interface ArgSpec {
  name: string;
  description: string;
  required?: boolean;
  variadic?: boolean;
}

export interface OptionSpec<T = unknown> {
  /** commander flags, e.g. '-c, --config <file>' or '--dry-run' */
  flags: string;
  description: string;
  /** the default as a user would type it (shown in --help, parsed like a given value) */
  default?: string | boolean;
  /** commander's value (a string, true, or undefined when absent) → the typed value; BAD_ARGUMENT naming `flag` */
  parse(raw: string | boolean | undefined, flag: string): T;
}

/** A command's options, keyed by commander's attribute name (`--dry-run` → `dryRun`). */
export type OptionTable = Record<string, OptionSpec>;

/** The typed values of an option table. */
export type OptionValues<O extends OptionTable> = { [K in keyof O]: ReturnType<O[K]['parse']> };

export interface CommandSpec<O extends OptionTable = OptionTable> {
  /** 'proxy', or a group and a verb: 'lab up' */
  name: string;
  summary: string;
  args?: ArgSpec[];
  options?: O;
  /** resolves to the process exit code (default 0) */
  run(args: string[], opts: OptionValues<O>): Promise<number | void>;
}

/** A command row with its options' types inferred (`run` sees `opts.port` as a number). */
export function command<const O extends OptionTable>(spec: CommandSpec<O>): CommandSpec {
  return spec as unknown as CommandSpec;
}

/** Group summaries for two-word commands ('lab' → 'Network-namespace labs ...'). */
export interface GroupSpec {
  name: string;
  summary: string;
}
