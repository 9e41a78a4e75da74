/**
 * How a flow ends: one typed union, from the SYN refused at accept to the flow whose both sides closed
 * in order. Stats (`endings`, `rejected`), metrics (`srv6pipes_flows_total{reason}`,
 * `srv6pipes_flows_rejected_total{code}`), the log lines ('flow reset', 'flow closed', 'flow
 * rejected') and `flows` (a closing flow's `end`) all take their label from here (`flowEndLabel`).
 *
 * The labels operators see are the table's keys (stable: dashboards and alerts match on them), a
 * rejection's error code, or the reason a function gave `ctx.reset(reason)`.
 */
import type { ErrorCode } from '../core/errors.js';

/** Who ended the flow. */
export type FlowEndBy = 'none' | 'client' | 'server' | 'function' | 'proxy' | 'test';

/** Every way a flow that started can end: its label, who ended it, the error code it corresponds to. */
export const FLOW_ENDS = {
  ok: { by: 'none', help: 'both sides closed in order (a FIN each way)' },
  client_closed: { by: 'client', help: 'the client went away while the server side was still connecting' },
  client_reset: { by: 'client', help: 'the client side reset, or closed before its direction was done' },
  server_reset: { by: 'server', help: 'the server side reset, or closed before its direction was done' },
  connect_failed: { by: 'server', code: 'FLOW_CONNECT_FAILED', help: 'the onward connection failed (refused, unreachable, no socket)' },
  connect_timeout: { by: 'proxy', code: 'FLOW_CONNECT_FAILED', help: 'the onward connection was not up within timeouts.connect' },
  idle_timeout: { by: 'proxy', code: 'FLOW_TIMEOUT', help: 'no byte moved for timeouts.idle' },
  return_path_failed: { by: 'proxy', code: 'RETURN_PATH_REFUSED', help: 'the kernel refused the reply SRH on the client side' },
  bad_argument: { by: 'proxy', code: 'FLOW_BAD_ARGUMENT', help: 'the SID\'s argument means nothing to its function (argument.parse rejected it): nothing was spawned or connected' },
  function_error: { by: 'function', help: 'the function threw, or its stream emitted an error' },
  function_reset: { by: 'function', help: 'the function reset the flow (ctx.reset): labelled with its reason' },
  function_unloaded: { by: 'proxy', help: 'the function was unloaded and the flow outlived timeouts.drain' },
  drain_deadline: { by: 'proxy', help: 'the proxy was stopping and the flow outlived timeouts.drain' },
  worker_exit: { by: 'proxy', help: 'the worker process ended (a bug): its flows were reset' },
  internal_error: { by: 'proxy', code: 'INTERNAL', help: 'a bug in the proxy while starting the flow' },
  harness_timeout: { by: 'test', help: 'srv6pipes/testing: the flow did not end within timeoutMs' },
  reset_by_test: { by: 'test', help: 'srv6pipes/testing: resetAfterMs' },
} as const satisfies Record<string, { by: FlowEndBy; code?: ErrorCode; help: string }>;

export type FlowEndKind = keyof typeof FLOW_ENDS;

export type FlowEnd =
  /** refused at accept (never started): labelled with its error code */
  | { kind: 'rejected'; code: ErrorCode; reason: string }
  /** the function ended the flow with `ctx.reset(reason)` */
  | { kind: 'function_reset'; reason: string }
  | { kind: Exclude<FlowEndKind, 'function_reset'>; error?: unknown };

/** A function's reason as a label: short snake_case, and none of the proxy's own (else `function_reset`). */
const REASON = /^[a-z][a-z0-9_]{0,47}$/;

/** Whether a function's reset reason can be a label of its own (short snake_case, not one of the proxy's endings). */
export function isOwnResetReason(reason: string): boolean {
  return REASON.test(reason) && !Object.hasOwn(FLOW_ENDS, reason);
}

/** The label stats, metrics, logs and `flows` show for an ending. */
export function flowEndLabel(e: FlowEnd): string {
  if (e.kind === 'rejected') return e.code;
  if (e.kind === 'function_reset') return isOwnResetReason(e.reason) ? e.reason : 'function_reset';
  return e.kind;
}

/** The error code an ending corresponds to, when it has one. */
export function flowEndCode(e: FlowEnd): ErrorCode | undefined {
  if (e.kind === 'rejected') return e.code;
  const row = FLOW_ENDS[e.kind];
  return 'code' in row ? row.code : undefined;
}

/** Who ended the flow (a rejection: the proxy). */
export function flowEndBy(e: FlowEnd): FlowEndBy {
  return e.kind === 'rejected' ? 'proxy' : FLOW_ENDS[e.kind].by;
}

/** The fields a log line about the ending carries. */
export function flowEndFields(e: FlowEnd): { reason: string; by: FlowEndBy; code?: ErrorCode; error?: string } {
  const code = flowEndCode(e);
  const err = 'error' in e ? (e.error as { code?: string; message?: string } | undefined) : undefined;
  const error = err?.code ?? err?.message;
  return { reason: flowEndLabel(e), by: flowEndBy(e), ...(code ? { code } : {}), ...(error !== undefined ? { error } : {}) };
}
