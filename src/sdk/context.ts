/** Building a function's options, state and per-flow context: shared by the proxy and the test harness. */
import { SrError } from '../core/errors.js';
import type { z } from 'zod';
import { explainIssues, fieldPath, isZod4 } from '../config/fields.js';
import { isOwnResetReason } from './flow-end.js';
import type { Logger } from 'pino';
import { REQUIREMENTS, type ArgumentSpec, type Endpoint, type FlowContext, type OptionsSchema, type FunctionDescriptor, type FunctionMetrics } from './types.js';

/** Validates options against a schema; CONFIG_INVALID naming `where` + the field. */
export function validateOptions<O>(schema: OptionsSchema<O>, input: unknown, where = 'options'): O {
  // a zod 4 schema (ours, and most modules'): its issues worded as every config error is (explainIssues)
  const zod4 = isZod4(schema);
  const r = zod4 ? (schema as unknown as z.ZodType<O>).safeParse(input ?? {}, { reportInput: true }) : schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const issue = zod4 && first ? explainIssues(schema as unknown as z.ZodType, r.error.issues as z.core.$ZodIssue[]) : first;
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
    problems.push(...descriptorTableProblems(d));
  }
  if (problems.length) throw new SrError('BAD_FUNCTION_MODULE', `${source}: not a function descriptor: ${problems.join('; ')}`);
  return d as FunctionDescriptor;
}

/** The optional table fields (0.1 descriptors have none of them): argument, resets, requires. */
function descriptorTableProblems(d: Partial<FunctionDescriptor>): string[] {
  const problems: string[] = [];
  const a = d.argument as Partial<ArgumentSpec> | undefined;
  if (a !== undefined && (!a || typeof a !== 'object' || typeof a.description !== 'string' || typeof a.parse !== 'function')) {
    problems.push('`argument` must be { description: string, parse(argument, ctx) }');
  }
  if (d.resets !== undefined) {
    if (!d.resets || typeof d.resets !== 'object' || Array.isArray(d.resets)) problems.push('`resets` must be an object: reason → description');
    else {
      for (const [reason, what] of Object.entries(d.resets)) {
        if (!isOwnResetReason(reason)) problems.push(`reset reason "${reason}" must be snake_case ([a-z][a-z0-9_]*, at most 48 characters) and none of the proxy's own endings (FLOW_ENDS)`);
        if (typeof what !== 'string') problems.push(`reset reason "${reason}" needs a description (a string)`);
      }
    }
  }
  if (d.requires !== undefined) {
    if (!Array.isArray(d.requires)) problems.push('`requires` must be an array of requirement names');
    else {
      for (const r of d.requires as unknown[]) {
        if (typeof r !== 'string' || !Object.hasOwn(REQUIREMENTS, r)) problems.push(`unknown requirement ${JSON.stringify(r)} (known: ${Object.keys(REQUIREMENTS).join(', ')})`);
      }
    }
  }
  return problems;
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

/** Where a flow context's `log` and `signal` come from, read when the function reads them. */
export interface LazyFlowDeps {
  readonly log: Logger;
  readonly signal: AbortSignal;
}

const LAZY = Symbol('srv6pipes.flowDeps');
type WithLazy = { [LAZY]: LazyFlowDeps };

/**
 * `log` and `signal` as own enumerable accessors (shared getter functions, so every context has the
 * same shape): the flow's child logger and AbortController are made only if the function reads them
 * (sdk/flow.ts), and a spread copy of the context (`{ ...flow }`) still carries both.
 */
const LAZY_PROPERTIES: PropertyDescriptorMap = {
  log: {
    enumerable: true,
    get(this: WithLazy): Logger {
      return this[LAZY].log;
    },
  },
  signal: {
    enumerable: true,
    get(this: WithLazy): AbortSignal {
      return this[LAZY].signal;
    },
  },
};

export function makeFlowContext<O, S, A>(
  facts: FlowFacts,
  instance: { options: O; state: S; arg: A },
  lazy: LazyFlowDeps,
  metrics: FunctionMetrics,
  reset: (reason: string) => void,
): FlowContext<O, S, A> {
  const ctx = { ...facts, options: instance.options, state: instance.state, arg: instance.arg, metrics, reset, [LAZY]: lazy };
  return Object.defineProperties(ctx, LAZY_PROPERTIES) as unknown as FlowContext<O, S, A>;
}
