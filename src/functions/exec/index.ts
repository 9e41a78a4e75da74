/**
 * `exec`: each direction piped through a Unix filter process (argv exec'd directly, no shell), e.g.
 * the paper's transcoding proxy: `downstream: [ffmpeg, -i, pipe:0, -b:a, "{arg}k", -f, mp3, pipe:1]`.
 * The processes live and die with the flow; a failing filter resets the flow. See README.md.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { defineFunction, IDENTITY, type DirectionTransform } from '../../sdk/types.js';
import { ChildFilter, type ChildFailure } from './child-filter.js';

/** the reset reason when a filter fails */
export const FAIL_REASON = 'exec_failed';
/** the reset reason when a filter process could not be started (ENOENT, EMFILE, EAGAIN…) */
export const SPAWN_FAILED_REASON = 'exec_spawn_failed';
/** the reset reason when the flow would take the function past `maxProcesses` */
export const PROCESS_LIMIT_REASON = 'exec_process_limit';

const argv = z
  .array(z.string().max(4096))
  .min(1)
  .max(256)
  .refine((a) => (a[0] ?? '').length > 0, { message: 'argv[0] (the program) must not be empty' })
  .nullable();

export const execOptions = z
  .object({
    upstream: argv.default(null).describe('filter for client → server bytes (null: unchanged)'),
    downstream: argv.default(null).describe('filter for server → client bytes (null: unchanged)'),
    cwd: z.string().min(1).optional().describe('working directory, relative to the config file (default: its directory)'),
    env: z.record(z.string(), z.string()).default({}).describe('extra environment variables'),
    graceMs: z.number().int().min(0).max(60_000).default(2000).describe('SIGTERM → SIGKILL delay'),
    maxProcesses: z.number().int().min(1).max(100_000).default(64).describe('filter processes of this function at once, per worker; a flow beyond is reset (exec_process_limit)'),
    stderrLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info').describe('log level of stderr lines'),
  })
  .strict()
  .refine((o) => o.upstream !== null || o.downstream !== null, { message: 'set upstream, downstream or both (an argv array)' });

export type ExecOptions = z.infer<typeof execOptions>;

/** `{arg}` in an argv item becomes the argument in decimal. */
export function substitute(args: readonly string[], argument: bigint | string): string[] {
  const a = typeof argument === 'string' ? argument : argument.toString(10);
  return args.map((s) => s.replaceAll('{arg}', a));
}

export const exec = defineFunction({
  name: 'exec',
  summary: 'pipe each direction through a Unix filter process (argv, no shell)',
  options: execOptions,
  argument: { description: 'any value: given to the filters in decimal, as `{arg}` in argv and as SRV6PIPES_ARGUMENT', parse: (argument) => argument.toString(10) },
  resets: {
    [FAIL_REASON]: 'a filter process failed (exited non-zero, was killed, or broke its pipes)',
    [SPAWN_FAILED_REASON]: 'a filter process could not be started (ENOENT, EMFILE, EAGAIN…)',
    [PROCESS_LIMIT_REASON]: 'the flow would take the function past options.maxProcesses',
  },
  init: (o: ExecOptions, env) => ({ cwd: o.cwd === undefined ? env.baseDir : isAbsolute(o.cwd) ? o.cwd : resolve(env.baseDir, o.cwd), processes: 0 }),
  spawn(flow) {
    const o = flow.options;
    const state = flow.state;
    const filters: ChildFilter[] = [];
    const needed = (o.upstream === null ? 0 : 1) + (o.downstream === null ? 0 : 1);
    if (state.processes + needed > o.maxProcesses) {
      flow.log.warn({ processes: state.processes, maxProcesses: o.maxProcesses }, 'exec: process limit reached, resetting the flow');
      flow.reset(PROCESS_LIMIT_REASON);
      return { upstream: IDENTITY, downstream: IDENTITY };
    }
    const make = (direction: 'upstream' | 'downstream'): DirectionTransform => {
      const template = o[direction];
      if (template === null) return IDENTITY;
      const argv = substitute(template, flow.arg);
      const log = flow.log.child({ direction, program: argv[0] });
      const f = new ChildFilter({
        argv,
        cwd: flow.state.cwd,
        env: {
          ...process.env,
          ...o.env,
          SRV6PIPES_ARGUMENT: flow.arg,
          SRV6PIPES_DIRECTION: direction,
          SRV6PIPES_CLIENT: `[${flow.client.address}]:${flow.client.port}`,
          SRV6PIPES_SERVER: `[${flow.server.address}]:${flow.server.port}`,
        },
        graceMs: o.graceMs,
        onStderrLine: (line) => {
          if (o.stderrLevel !== 'silent') log[o.stderrLevel]({ stderr: line }, 'exec: filter stderr');
        },
        onFailure: (f: ChildFailure) => {
          log.error({ argv, code: f.code, signal: f.signal, error: f.error, stderr: f.stderr }, f.spawnFailed ? 'exec: filter could not be started, resetting the flow' : 'exec: filter failed, resetting the flow');
          flow.reset(f.spawnFailed ? SPAWN_FAILED_REASON : FAIL_REASON);
        },
      });
      // counted until the process is gone (or never started)
      state.processes++;
      let counted = true;
      const uncount = (): void => {
        if (!counted) return;
        counted = false;
        state.processes--;
      };
      if (f.pid === undefined) uncount();
      else f.child.once('exit', uncount);
      filters.push(f);
      return f;
    };
    const terminate = (): void => {
      for (const f of filters) f.terminate();
    };
    let upstream: DirectionTransform;
    let downstream: DirectionTransform;
    try {
      upstream = make('upstream');
      downstream = make('downstream');
    } catch (e) {
      terminate(); // spawn() can throw (e.g. a NUL byte in argv): no orphan upstream filter
      throw e;
    }
    if (flow.signal.aborted) terminate();
    else flow.signal.addEventListener('abort', terminate, { once: true });
    return { upstream, downstream, close: terminate };
  },
});
