/** What a proxy config needs of its host, for `srv6pipes doctor` (src/sys/doctor.ts). */
import type { DoctorNeeds } from '../sys/doctor.js';
import { loadProxyConfig, validateProxyConfig, type ProxyConfig } from './config.js';
import { DEFAULT_MARK, DEFAULT_TABLE } from './netconf.js';
import { nofileNeed } from './rlimit.js';

export function needsOf(cfg: ProxyConfig, source: string): DoctorNeeds {
  return {
    source,
    netconf: cfg.netconf !== null,
    intercept: cfg.netconf?.intercept ?? 'sklookup',
    mark: cfg.netconf?.mark ?? DEFAULT_MARK,
    table: cfg.netconf?.table ?? DEFAULT_TABLE,
    mptcp: cfg.mptcp !== null,
    converter: cfg.mptcp?.converterPort != null,
    returnSteering: cfg.returnHops.length > 0,
    nofile: nofileNeed(cfg),
  };
}

/** The needs of a config file, or of the defaults (a proxy with one function, listening on ::). */
export function doctorNeeds(configPath?: string): DoctorNeeds {
  if (configPath !== undefined) return needsOf(loadProxyConfig(configPath), configPath);
  return needsOf(validateProxyConfig({ locators: [{ prefix: 'fc00::/64' }], functions: [{ id: 1, function: 'copy' }] }), 'the default proxy config');
}
