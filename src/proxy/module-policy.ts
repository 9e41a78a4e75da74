/**
 * What a function table change that arrives over the admin endpoint (`ctl load`, `ctl reload`) may
 * load. The config file is trusted as it is; anything else is admitted part by part, before any module
 * is imported (importing runs the module's top-level code, as root):
 *
 * - a part equal to a part of the config file's table: as it is;
 * - a built-in other than `exec`: as it is;
 * - `exec`: every argv (upstream, downstream) is one from the config file or from `admin.execArgv`,
 *   and neither `env` nor `cwd` is set (either could turn an allowed program into another);
 * - a module path: its real path (symlinks resolved) lies inside one of `moduleDirs` (real paths too)
 *   and it is not writable by others. The part then names the real path, so that what was checked is
 *   what is imported.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { errnoCode, SrError } from '../core/errors.js';
import type { FunctionSpec, PartSpec } from '../sdk/loader.js';
import { isBuiltin } from '../functions/registry.js';

export interface LoadPolicy {
  /** absolute directories a module may come from */
  moduleDirs: readonly string[];
  /** argv an `exec` part may run besides the config file's */
  execArgv: readonly (readonly string[])[];
  /** the config file's table: trusted as it is */
  trusted: readonly FunctionSpec[];
  /** where relative module paths start (the config file's directory) */
  baseDir: string;
}

/** JSON with sorted keys: equal values, equal text. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

const partKey = (p: PartSpec): string => canonical({ function: p.function, options: p.options ?? {} });

/** Whether `path` is `dir` or below it (both absolute, real). */
export function isInside(path: string, dir: string): boolean {
  const r = relative(dir, path);
  return r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !isAbsolute(r));
}

function execArgvOf(parts: readonly PartSpec[]): string[] {
  const out: string[] = [];
  for (const p of parts) {
    if (p.function !== 'exec' || p.options === null || typeof p.options !== 'object') continue;
    for (const d of ['upstream', 'downstream'] as const) {
      const a = (p.options as Record<string, unknown>)[d];
      if (Array.isArray(a)) out.push(canonical(a));
    }
  }
  return out;
}

function admitExec(p: PartSpec, allowed: ReadonlySet<string>, at: string): void {
  const o = (p.options ?? {}) as Record<string, unknown>;
  for (const k of ['env', 'cwd'] as const) {
    if (o[k] !== undefined) throw new SrError('EXEC_NOT_ALLOWED', `${at}.options.${k}: exec loaded over the admin endpoint may not set ${k}`);
  }
  for (const d of ['upstream', 'downstream'] as const) {
    const a = o[d];
    if (a === undefined || a === null) continue;
    if (!allowed.has(canonical(a))) throw new SrError('EXEC_NOT_ALLOWED', `${at}.options.${d}: ${JSON.stringify(a)} is neither in the config file nor in admin.execArgv`);
  }
}

async function admitModule(p: PartSpec, policy: LoadPolicy, at: string): Promise<PartSpec> {
  const given = isAbsolute(p.function) ? p.function : resolve(policy.baseDir, p.function);
  let real: string;
  try {
    real = await realpath(given);
  } catch (e) {
    throw new SrError('BAD_FUNCTION_MODULE', `${at}.function: cannot load ${given}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e });
  }
  const dirs = await Promise.all(policy.moduleDirs.map((d) => realpath(d).catch(() => undefined)));
  if (!dirs.some((d) => d !== undefined && isInside(real, d))) {
    const shown = real === given ? given : `${given} (really ${real})`;
    throw new SrError('MODULE_NOT_ALLOWED', `${at}.function: ${shown} is outside admin.moduleDirs [${policy.moduleDirs.join(', ')}]`);
  }
  const st = await stat(real);
  if (!st.isFile()) throw new SrError('BAD_FUNCTION_MODULE', `${at}.function: ${real} is not a file`);
  if (st.mode & 0o002) throw new SrError('MODULE_NOT_ALLOWED', `${at}.function: ${real} is writable by every local user`);
  return { ...p, function: real };
}

/** Admits one entry under the policy: the entry to load (module parts naming real paths), or a typed error. */
export async function admitSpec(spec: FunctionSpec, policy: LoadPolicy, where = 'spec'): Promise<FunctionSpec> {
  const trustedParts = new Set(policy.trusted.flatMap((s) => s.parts.map(partKey)));
  const allowedArgv = new Set([...policy.execArgv.map(canonical), ...execArgvOf(policy.trusted.flatMap((s) => s.parts))]);
  const parts: PartSpec[] = [];
  for (const [i, p] of spec.parts.entries()) {
    const at = spec.chain ? `${where}.chain[${i}]` : where;
    if (trustedParts.has(partKey(p))) parts.push(p);
    else if (p.function === 'exec') {
      admitExec(p, allowedArgv, at);
      parts.push(p);
    } else if (isBuiltin(p.function) || !/[/\\]|\.m?js$/.test(p.function)) parts.push(p); // a built-in, or an unknown name the loader refuses
    else parts.push(await admitModule(p, policy, at));
  }
  return { ...spec, parts };
}
