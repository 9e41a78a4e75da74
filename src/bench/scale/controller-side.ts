/**
 * The controller's BSID manager driven directly, through its public interface (bind, repoint), with
 * an agent that keeps nothing (what the controller holds is measured, not the router's copy), on
 * today's in-process maps or on an EtcdBsidStore.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { parsePrefix } from '../../net/ip6.js';
import type { AccessRouterAgent, AccessRouterCounters, BsidPolicy } from '../../access-router/api.js';
import { BsidManager, type BindRequest, type PathSpec } from '../../controller/bsid/manager.js';
import type { BsidStore } from '../../controller/store/types.js';
import { nthAddress } from './common.js';

/** An agent that accepts every install and keeps nothing. */
export class NullAgent implements AccessRouterAgent {
  installs = 0;
  constructor(readonly name = 'ar') {}
  install(_p: BsidPolicy): Promise<void> {
    this.installs++;
    return Promise.resolve();
  }
  remove(_bsid: string): Promise<void> {
    return Promise.resolve();
  }
  list(): Promise<BsidPolicy[]> {
    return Promise.resolve([]);
  }
  counters(): Promise<AccessRouterCounters> {
    return Promise.resolve({ unknownBsid: 0, unauthorised: 0, notBsid: 0 });
  }
}

export const PRIMARY = ['fc00:a::1:0:0', 'fc00:c::2:0:0'];
export const BACKUP = ['fc00:b::1:0:0', 'fc00:c::2:0:0'];

/** The i-th client's request: its own address, a key as the resolver builds it (binding.ts: bindingKey), two segments. */
export function request(i: number): BindRequest {
  const client = nthAddress('fc00:1::', i + 16);
  const spec: PathSpec = { from: 'net:fc00:1::/64', to: 'net:fc00:2::/64', destination: 'fc00:2::2', functions: [{ name: 'compress', argument: 0n }, { name: 'decompress', argument: 0n }], tieKey: client };
  return { router: 'ar', client, key: `${client}|-|compress:0,decompress:0|net:fc00:2::/64||`, segments: PRIMARY, spec };
}

export function manager(agent: AccessRouterAgent, store?: BsidStore): BsidManager {
  return new BsidManager(new Map([['ar', { agent, prefix: parsePrefix('fc00:f::/64') }]]), { lifetimeMs: 1_200_000, log: pino({ level: 'silent' }), perClient: 16, max: 1_000_000, ...(store ? { store } : {}) });
}

let gcFn: (() => void) | undefined;
/** A full garbage collection (V8's gc, exposed at run time), twice. */
export function gc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose_gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}
