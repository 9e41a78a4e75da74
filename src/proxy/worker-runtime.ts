/**
 * How the primary starts a worker process, beyond its config (issue 14, memory per worker; the numbers
 * are in docs/performance.md, "Issue 14: memory per worker (step 4)"): a table of Node flags, each
 * added to the worker's execArgv unless the operator already set that flag (in `NODE_OPTIONS` or the
 * primary's own execArgv): the operator's value always wins. The primary itself runs without them.
 */

export interface WorkerNodeFlag {
  /** the flag's name as Node spells it, without a value (`--max-semi-space-size`) */
  readonly name: string;
  readonly value: string;
  /** why: the measurement that chose it */
  readonly why: string;
}

export const WORKER_NODE_FLAGS: readonly WorkerNodeFlag[] = [
  {
    name: '--max-semi-space-size',
    value: '2',
    why: 'the V8 young generation grows to 2 MB semi-spaces instead of 16 MB: about half the RSS growth per idle flow at 1k flows, no throughput loss measurable on this machine',
  },
];

/** `--a-b` and `--a_b` are the same V8 flag; the name of `--flag=value` or `--flag` */
function flagName(arg: string): string {
  return arg.split('=')[0]!.replaceAll('_', '-');
}

/** The execArgv of a worker: the primary's own, plus each flag of the table the operator has not set. */
export function workerExecArgv(primaryExecArgv: readonly string[], env: NodeJS.ProcessEnv, flags: readonly WorkerNodeFlag[] = WORKER_NODE_FLAGS): string[] {
  const given = new Set([...primaryExecArgv, ...(env['NODE_OPTIONS'] ?? '').split(/\s+/).filter(Boolean)].map(flagName));
  return [...primaryExecArgv, ...flags.filter((f) => !given.has(f.name)).map((f) => `${f.name}=${f.value}`)];
}
