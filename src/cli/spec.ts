/** The shape of one CLI command. Commands are rows of a table (commands/index.ts); main.ts builds
 *  the parser, help text and error handling from it. */

export interface ArgSpec {
  name: string;
  description: string;
  required?: boolean;
  variadic?: boolean;
}

export interface OptionSpec {
  /** commander flags, e.g. '-c, --config <file>' or '--dry-run' */
  flags: string;
  description: string;
  default?: string | boolean | number;
}

export interface CommandSpec {
  /** 'proxy', or a group and a verb: 'lab up' */
  name: string;
  summary: string;
  args?: ArgSpec[];
  options?: OptionSpec[];
  /** resolves to the process exit code (default 0) */
  run(args: string[], opts: Record<string, unknown>): Promise<number | void>;
}

/** Group summaries for two-word commands ('lab' → 'Network-namespace labs ...'). */
export interface GroupSpec {
  name: string;
  summary: string;
}
