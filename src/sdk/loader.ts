/**
 * Loading functions: a config entry (`{ id, function, options }` or `{ id, chain: [...] }`) becomes a
 * LoadedFunction — descriptors resolved (a built-in by name, or a module by path), options validated
 * (errors name the field), `init` run. A LoadedFunction counts its flows: when it is replaced or
 * unloaded it is retired, keeps serving the flows it has, and is de-initialised after the last one.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { SrError } from '../core/errors.js';
import { composeTransforms } from './compose.js';
import { checkDescriptor, validateOptions, type FlowFacts } from './context.js';
import type { FlowEnd } from './flow-end.js';
import { parseArgument, spawnPart, type PartInstance, type SpawnDeps } from './spawn.js';
import type { DirectionTransform, FlowTransforms, FunctionDescriptor, FunctionMetrics, FunctionRequirement } from './types.js';

/** A flow a loaded function serves: what unload needs of it. */
export interface AttachedFlow {
  fail(end: FlowEnd): void;
}

export interface PartSpec {
  /** a built-in function's name or a module path */
  function: string;
  options?: unknown;
}

/** One entry of the function table, as configured. */
export interface FunctionSpec {
  id: number;
  parts: PartSpec[];
  /** true for `{ id, chain: [...] }` */
  chain: boolean;
}

/** The functions a loader knows by name (the built-ins: functions/registry.ts); anything else is a module path. */
export interface FunctionRegistry {
  /** the descriptor of a known name (the built-ins import their module on first use), or undefined */
  find(name: string): FunctionDescriptor | undefined | Promise<FunctionDescriptor | undefined>;
}

export interface LoaderContext {
  /** the functions known by name */
  registry: FunctionRegistry;
  /** where relative module paths and option files are resolved */
  baseDir: string;
  log: Logger;
  metricsFor(functionId: number, name: string): FunctionMetrics;
  /**
   * Why this host does not meet a requirement a descriptor declares (`requires`), or undefined when it
   * does. Without it requirements are not checked (the workers: the config was checked before them).
   */
  unmet?(requirement: FunctionRequirement): string | undefined;
}

type LoadedPart = PartInstance;

let importVersion = 0;

/** A descriptor by built-in name or module path (a fresh copy of the module when `fresh`). */
export async function resolveDescriptor(registry: FunctionRegistry, fn: string, baseDir: string, fresh = false): Promise<FunctionDescriptor> {
  const builtin = await registry.find(fn);
  if (builtin) return builtin;
  if (!/[/\\]|\.m?js$/.test(fn)) {
    throw new SrError('UNKNOWN_FUNCTION', `unknown function "${fn}": not a built-in, and not a module path (.js or .mjs)`);
  }
  const path = isAbsolute(fn) ? fn : resolve(baseDir, fn);
  const url = pathToFileURL(path);
  if (fresh) url.search = `v=${++importVersion}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (e) {
    throw new SrError('BAD_FUNCTION_MODULE', `cannot load ${path}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  // the default export; `vf` is the named export modules written against 0.1 may use (still loaded)
  return checkDescriptor(mod['default'] ?? mod['vf'], path);
}

export class LoadedFunction {
  activeFlows = 0;
  retired = false;
  readonly loadedAt = new Date().toISOString();
  private readonly flows = new Set<AttachedFlow>();
  private deinitDone = false;
  private onIdle: (() => void) | undefined;

  constructor(
    readonly spec: FunctionSpec,
    readonly version: number,
    private readonly parts: LoadedPart[],
    private readonly log: Logger,
  ) {}

  get id(): number {
    return this.spec.id;
  }

  /** 'xor', or 'chain(compress,encrypt)' */
  get name(): string {
    const names = this.parts.map((p) => p.descriptor.name);
    return this.spec.chain ? `chain(${names.join(',')})` : names[0]!;
  }

  /**
   * Spawns every part for a flow and composes them (upstream in order, downstream reversed). Every
   * part's argument is parsed first: a rejected one throws SrError FLOW_BAD_ARGUMENT before any part
   * is spawned (and so before the proxy connects onward).
   */
  spawn(facts: FlowFacts, deps: SpawnDeps): FlowTransforms {
    if (this.parts.length === 1) {
      // one part (not a chain): its transforms as they are, without the composition's arrays and closures
      const p = this.parts[0]!;
      return spawnPart(p, facts, parseArgument(p, facts.argument, deps), deps);
    }
    const args = this.parts.map((p) => parseArgument(p, facts.argument, deps));
    const spawned: FlowTransforms[] = [];
    try {
      for (const [i, p] of this.parts.entries()) spawned.push(spawnPart(p, facts, args[i], deps));
    } catch (e) {
      for (const s of spawned) s.close?.();
      throw e;
    }
    const up: DirectionTransform[] = spawned.map((s) => s.upstream);
    const down: DirectionTransform[] = spawned.map((s) => s.downstream).reverse();
    const carriers = spawned.flatMap((s) => (s.carrier ? [s.carrier] : []));
    const close = (): void => {
      for (const s of spawned) s.close?.();
    };
    if (carriers.length > 1) {
      close();
      throw new SrError('BAD_FUNCTION_MODULE', `${this.name}: more than one part carries the outbound side`);
    }
    return {
      upstream: composeTransforms(up),
      downstream: composeTransforms(down),
      close,
      ...(carriers[0] ? { carrier: carriers[0] } : {}),
    };
  }

  attach(flow: AttachedFlow): void {
    this.flows.add(flow);
    this.activeFlows++;
  }

  detach(flow: AttachedFlow): void {
    if (!this.flows.delete(flow)) return;
    this.activeFlows--;
    if (this.activeFlows === 0 && this.retired) {
      this.onIdle?.();
      void this.deinit();
    }
  }

  /** Stops taking new flows; de-initialises after the last. With a deadline, resets what is left then. */
  async retire(deadlineMs?: number): Promise<{ reset: number }> {
    this.retired = true;
    if (this.activeFlows === 0) {
      await this.deinit();
      return { reset: 0 };
    }
    if (deadlineMs === undefined) return { reset: 0 };
    await new Promise<void>((resolveIdle) => {
      const timer = setTimeout(resolveIdle, deadlineMs);
      this.onIdle = () => {
        clearTimeout(timer);
        resolveIdle();
      };
    });
    const left = [...this.flows];
    for (const f of left) f.fail({ kind: 'function_unloaded' });
    return { reset: left.length };
  }

  private async deinit(): Promise<void> {
    if (this.deinitDone) return;
    this.deinitDone = true;
    for (const p of this.parts) {
      try {
        await p.descriptor.deinit?.(p.state);
      } catch (e) {
        this.log.error({ err: e, fn: this.id, function: p.descriptor.name }, 'deinit failed');
      }
    }
  }
}

/** Loads one entry; `where` names it in errors (e.g. 'functions[2]'). */
export async function loadFunction(spec: FunctionSpec, ctx: LoaderContext, version: number, where: string, fresh = false): Promise<LoadedFunction> {
  const parts: LoadedPart[] = [];
  try {
    for (const [i, p] of spec.parts.entries()) {
      const at = spec.chain ? `${where}.chain[${i}]` : where;
      let descriptor: FunctionDescriptor;
      try {
        descriptor = await resolveDescriptor(ctx.registry, p.function, ctx.baseDir, fresh);
      } catch (e) {
        if (e instanceof SrError) throw new SrError(e.code, `${at}.function: ${e.message}`, { cause: e });
        throw e;
      }
      for (const r of descriptor.requires ?? []) {
        const why = ctx.unmet?.(r);
        if (why !== undefined) throw new SrError('CONFIG_INVALID', `${at}.function: ${descriptor.name} requires ${r}: ${why}`);
      }
      const options = validateOptions(descriptor.options, p.options, `${at}.options`);
      const metrics = ctx.metricsFor(spec.id, descriptor.name);
      const log = ctx.log.child({ fn: spec.id, function: descriptor.name });
      let state: unknown;
      try {
        state = await descriptor.init?.(options, { functionId: spec.id, log, metrics, baseDir: ctx.baseDir });
      } catch (e) {
        if (e instanceof SrError) throw new SrError(e.code, `${at}: ${e.message}`, { cause: e });
        throw new SrError('CONFIG_INVALID', `${at}: ${descriptor.name} failed to initialise: ${(e as Error).message}`, { cause: e });
      }
      parts.push({ descriptor, options, state, metrics });
    }
  } catch (e) {
    for (const p of parts) await Promise.resolve(p.descriptor.deinit?.(p.state)).catch(() => undefined);
    throw e;
  }
  return new LoadedFunction(spec, version, parts, ctx.log);
}
