/**
 * A worker's function table: function id → the LoadedFunction new flows get. Replacing or unloading
 * an entry retires the old instance: its flows in flight keep it until they end (or, for unload, until
 * a deadline), then it is de-initialised.
 */
import { SrError } from '../core/errors.js';
import { loadFunction, type FunctionSpec, type LoadedFunction, type LoaderContext } from './loader.js';

export interface FunctionInfo {
  id: number;
  name: string;
  version: number;
  loadedAt: string;
  activeFlows: number;
  /** older versions still serving flows */
  retiring: { version: number; activeFlows: number }[];
  spec: FunctionSpec;
}

export class FunctionTable {
  private readonly current = new Map<number, LoadedFunction>();
  private readonly retiring = new Set<LoadedFunction>();
  /** per function id: the last version loaded (1, 2, … across reloads) */
  private readonly versions = new Map<number, number>();

  constructor(
    private readonly ctx: LoaderContext,
    /** called, synchronously, whenever the entry new flows get changes for some id (load, unload, reload, apply) */
    private readonly onChange?: () => void,
  ) {}

  private nextVersion(id: number): number {
    const v = (this.versions.get(id) ?? 0) + 1;
    this.versions.set(id, v);
    return v;
  }

  get(id: number): LoadedFunction | undefined {
    return this.current.get(id);
  }

  /** Loads (or replaces) one entry; new flows get it at once. */
  async load(spec: FunctionSpec, where = `functions[id ${spec.id}]`, fresh = true): Promise<LoadedFunction> {
    const f = await loadFunction(spec, this.ctx, this.nextVersion(spec.id), where, fresh);
    const old = this.current.get(spec.id);
    this.current.set(spec.id, f);
    this.onChange?.();
    if (old) this.retire(old);
    return f;
  }

  /** Unloads an entry; its flows get until the deadline to finish, then are reset. */
  async unload(id: number, deadlineMs: number): Promise<{ reset: number }> {
    const f = this.current.get(id);
    if (!f) throw new SrError('FUNCTION_NOT_LOADED', `no function with id ${id} is loaded`);
    this.current.delete(id);
    this.onChange?.();
    this.retiring.add(f);
    const r = await f.retire(deadlineMs);
    this.retiring.delete(f);
    return r;
  }

  /** Loads the entry again from its spec, re-reading module files. */
  async reload(id: number): Promise<LoadedFunction> {
    const f = this.current.get(id);
    if (!f) throw new SrError('FUNCTION_NOT_LOADED', `no function with id ${id} is loaded`);
    return this.load(f.spec);
  }

  /** Makes the table match a config: new and changed entries load, removed ones unload. */
  async apply(specs: FunctionSpec[], deadlineMs: number): Promise<{ loaded: number[]; unloaded: number[]; kept: number[] }> {
    const out = { loaded: [] as number[], unloaded: [] as number[], kept: [] as number[] };
    const wanted = new Set(specs.map((s) => s.id));
    // load everything first: a bad entry leaves the table as it was
    const fresh: [FunctionSpec, number][] = [];
    for (const [i, s] of specs.entries()) {
      const cur = this.current.get(s.id);
      if (cur && JSON.stringify(cur.spec) === JSON.stringify(s)) out.kept.push(s.id);
      else fresh.push([s, i]);
    }
    const loaded: LoadedFunction[] = [];
    try {
      for (const [s, i] of fresh) loaded.push(await loadFunction(s, this.ctx, this.nextVersion(s.id), `functions[${i}]`, true));
    } catch (e) {
      for (const f of loaded) void f.retire();
      throw e;
    }
    for (const f of loaded) {
      const old = this.current.get(f.id);
      this.current.set(f.id, f);
      if (old) this.retire(old);
      out.loaded.push(f.id);
    }
    if (loaded.length > 0) this.onChange?.();
    for (const id of [...this.current.keys()]) {
      if (wanted.has(id)) continue;
      out.unloaded.push(id);
      void this.unload(id, deadlineMs);
    }
    return out;
  }

  private retire(f: LoadedFunction): void {
    this.prune();
    this.retiring.add(f);
    void f.retire();
  }

  private prune(): void {
    for (const r of this.retiring) if (r.activeFlows === 0) this.retiring.delete(r);
  }

  list(): FunctionInfo[] {
    this.prune();
    return [...this.current.values()]
      .sort((a, b) => a.id - b.id)
      .map((f) => ({
        id: f.id,
        name: f.name,
        version: f.version,
        loadedAt: f.loadedAt,
        activeFlows: f.activeFlows,
        retiring: [...this.retiring].filter((r) => r.id === f.id && r.activeFlows > 0).map((r) => ({ version: r.version, activeFlows: r.activeFlows })),
        spec: f.spec,
      }));
  }

  /** Retires everything (stop): flows have ended by now. */
  async close(): Promise<void> {
    const all = [...this.current.values(), ...this.retiring];
    this.current.clear();
    await Promise.all(all.map((f) => f.retire()));
  }
}
