/**
 * Spawning one function for one flow, as the proxy (LoadedFunction) and the test harness (runFlow)
 * both do, from the descriptor's table: the argument parsed first (a rejected one ends the flow with
 * FLOW_BAD_ARGUMENT before anything is spawned or connected), then `spawn` with the parsed value in
 * `flow.arg`, and `flow.reset(reason)` checked against the declared reasons.
 */
import type { Logger } from 'pino';
import { SrError } from '../core/errors.js';
import { makeFlowContext, type FlowFacts } from './context.js';
import type { FlowTransforms, FunctionDescriptor, FunctionMetrics } from './types.js';

/** How a flow whose argument was rejected ends (the code of the error is FLOW_BAD_ARGUMENT). */
export const BAD_ARGUMENT_ENDING = 'bad_argument';

/** One loaded part of a function: its descriptor and what load made of it. */
export interface PartInstance {
  descriptor: FunctionDescriptor;
  options: unknown;
  state: unknown;
  metrics: FunctionMetrics;
}

export interface SpawnDeps {
  /** the flow's log (the proxy's flow makes it on first read: read it only when logging) */
  readonly log: Logger;
  /** (the proxy's flow makes it on first read) */
  readonly signal: AbortSignal;
  reset(reason: string): void;
}

/**
 * The argument bits → what the part's `argument.parse` makes of them (the bits themselves when the
 * descriptor declares no parser). A rejection is an SrError FLOW_BAD_ARGUMENT naming the function,
 * the argument and why, logged (warn) on the flow's log.
 */
export function parseArgument(part: Omit<PartInstance, 'metrics'>, argument: bigint, logs?: { readonly log: Logger }): unknown {
  const spec = part.descriptor.argument;
  if (!spec) return argument;
  return spec.parse(argument, {
    options: part.options,
    state: part.state,
    reject(why: string): never {
      const e = new SrError('FLOW_BAD_ARGUMENT', `${part.descriptor.name}: argument ${argument}: ${why}`);
      logs?.log.warn({ function: part.descriptor.name, argument: argument.toString(), error: why }, `${part.descriptor.name}: bad argument, flow rejected`);
      throw e;
    },
  });
}

/**
 * The reset a function gets: the flow's own, checking the reason against the descriptor's `resets`.
 * An undeclared reason still resets the flow, and is logged at error level as a bug in the function.
 */
export function declaredReset(d: FunctionDescriptor, deps: SpawnDeps): (reason: string) => void {
  const declared = d.resets;
  const reset = deps.reset;
  if (declared === undefined) return reset; // a 0.1 descriptor: nothing declared, nothing checked
  return (reason: string) => {
    if (!Object.hasOwn(declared, reason)) {
      deps.log.error({ function: d.name, reason, declared: Object.keys(declared) }, `function ${d.name} reset a flow with an undeclared reason "${reason}" (a bug in the function: declare it in \`resets\`)`);
    }
    reset(reason);
  };
}

/** Spawns one part whose argument was already parsed (`arg`). */
export function spawnPart(part: PartInstance, facts: FlowFacts, arg: unknown, deps: SpawnDeps): FlowTransforms {
  // log and signal stay unread until the function reads them (makeFlowContext)
  const ctx = makeFlowContext(facts, { options: part.options, state: part.state, arg }, deps, part.metrics, declaredReset(part.descriptor, deps));
  return part.descriptor.spawn(ctx);
}
