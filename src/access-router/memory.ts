/**
 * An access router held in memory: what the controller's tests, the fuzzer and a dry run drive
 * instead of `ip`/`nft`. It records every call, and `fail` makes installs reject as an unreachable
 * agent would.
 */
import type { AccessRouterAgent, AccessRouterCounters, BsidPolicy } from './api.js';

export class MemoryAccessRouter implements AccessRouterAgent {
  readonly installed = new Map<string, BsidPolicy>();
  /** `install BSID seg,seg…` and `remove BSID`, in order */
  readonly calls: string[] = [];
  /** installs reject (`agent down`) while set */
  fail = false;

  constructor(readonly name = 'ar') {}

  install(p: BsidPolicy): Promise<void> {
    this.calls.push(`install ${p.bsid} ${p.segments.join(',')}`);
    if (this.fail) return Promise.reject(new Error('agent down'));
    this.installed.set(p.bsid, p);
    return Promise.resolve();
  }

  remove(bsid: string): Promise<void> {
    this.calls.push(`remove ${bsid}`);
    this.installed.delete(bsid);
    return Promise.resolve();
  }

  list(): Promise<BsidPolicy[]> {
    return Promise.resolve([...this.installed.values()]);
  }

  counters(): Promise<AccessRouterCounters> {
    return Promise.resolve({ unknownBsid: 0, unauthorised: 0, notBsid: 0 });
  }
}
