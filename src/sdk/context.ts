/** Building a function's options, state and per-flow context: shared by the proxy and the test harness. */
import { SrError } from '../core/errors.js';
import { fieldPath } from '../config/fields.js';
import type { Logger } from 'pino';
import type { Endpoint, FlowContext, OptionsSchema, FunctionDescriptor, FunctionMetrics } from './types.js';

/** Validates options against a schema; CONFIG_INVALID naming `where` + the field. */
export function validateOptions<O>(schema: OptionsSchema<O>, input: unknown, where = 'options'): O {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const sub = issue ? fieldPath(issue.path, '') : '';
  const at = sub ? (sub.startsWith('[') ? `${where}${sub}` : `${where}.${sub}`) : where;
  throw new SrError('CONFIG_INVALID', `${at}: ${issue?.message ?? 'invalid'}`);
}

/** Checks that a module's export looks like a FunctionDescriptor. */
export function checkDescriptor(x: unknown, source: string): FunctionDescriptor {
  const d = x as Partial<FunctionDescriptor> | undefined;
  const problems: string[] = [];
  if (!d || typeof d !== 'object') problems.push('it is not an object');
  else {
    if (typeof d.name !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(d.name)) problems.push('`name` must match [a-z][a-z0-9-]*');
    if (typeof d.summary !== 'string') problems.push('`summary` must be a string');
    if (!d.options || typeof d.options.safeParse !== 'function') problems.push('`options` must be a schema with safeParse (zod)');
    if (typeof d.spawn !== 'function') problems.push('`spawn` must be a function');
    if (d.init !== undefined && typeof d.init !== 'function') problems.push('`init` must be a function');
    if (d.deinit !== undefined && typeof d.deinit !== 'function') problems.push('`deinit` must be a function');
  }
  if (problems.length) throw new SrError('BAD_FUNCTION_MODULE', `${source}: not a function descriptor: ${problems.join('; ')}`);
  return d as FunctionDescriptor;
}

export interface FlowFacts {
  flowId: number;
  functionId: number;
  argument: bigint;
  sid: string;
  client: Endpoint;
  server: Endpoint;
  path: readonly string[];
  position: number;
}

export function makeFlowContext<O, S>(
  facts: FlowFacts,
  options: O,
  state: S,
  deps: { log: Logger; metrics: FunctionMetrics; signal: AbortSignal; reset(reason: string): void },
): FlowContext<O, S> {
  return { ...facts, options, state, log: deps.log, metrics: deps.metrics, signal: deps.signal, reset: deps.reset };
}
