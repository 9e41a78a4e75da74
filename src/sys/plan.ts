/**
 * Host changes as plans: a plan is a list of reversible steps (a sysctl, an nft table, a route);
 * `--dry-run` prints their descriptions, applying runs them in order and returns the undo (reverse
 * order, old values restored). Shared by the proxy's netconf, return steering and the agents.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { SrError } from '../core/errors.js';
import { hasCommand } from './run.js';

export interface Step {
  /** what it changes, as a command line an operator could type */
  describe: string;
  /** steps that steer SYNs to the listener: applied after the workers listen (netconfPhases) */
  phase?: 'interception';
  apply(): Promise<void>;
  revert(): Promise<void>;
}

function sysctlPath(key: string): string {
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

export function sysctlStep(key: string, value: string): Step {
  let previous: string | undefined;
  return {
    describe: `sysctl -w ${key}=${value}`,
    async apply() {
      previous = readFileSync(sysctlPath(key), 'utf8').trim();
      if (previous !== value) writeFileSync(sysctlPath(key), value);
    },
    async revert() {
      if (previous !== undefined && previous !== value) {
        try {
          writeFileSync(sysctlPath(key), previous);
        } catch {
          // the interface may be gone by now
        }
      }
    },
  };
}

/** Interfaces that have IPv6 sysctls in this namespace (plus all and default). */
export function ipv6ConfNames(): string[] {
  try {
    return readdirSync('/proc/sys/net/ipv6/conf');
  } catch {
    return ['all', 'default'];
  }
}

/**
 * Accepting SRHs: `seg6_enabled=1` on all, default (interfaces made later) and every interface. The
 * kernel takes the lower of `all` and the interface's value and, below 1, drops every packet with an
 * SRH — even one with Segments Left 0 addressed to this host (`ipv6_srh_rcv`). Old values come back on revert.
 */
export function seg6AcceptSteps(confNames = ipv6ConfNames()): Step[] {
  // a VLAN name such as eth0.10 would need escaping in sysctl keys
  return confNames.filter((n) => !n.includes('.')).map((n) => sysctlStep(`net.ipv6.conf.${n}.seg6_enabled`, '1'));
}

/** Checks what applying needs: root and the nft and ip tools. */
export function checkNetconfPrerequisites(): void {
  if (process.getuid?.() !== 0) {
    throw new SrError('NOT_ROOT', 'the proxy configures nftables, policy routing and sysctls: it must run as root');
  }
  if (!hasCommand('nft')) throw new SrError('TOOL_MISSING', 'nft is not installed', { hint: 'apt-get install nftables' });
  if (!hasCommand('ip')) throw new SrError('TOOL_MISSING', 'ip is not installed', { hint: 'apt-get install iproute2' });
}

/** Applies a plan; on failure reverts what was applied and rethrows. Returns the undo function. */
export async function applyPlan(steps: Step[]): Promise<() => Promise<void>> {
  const done: Step[] = [];
  const undo = async (): Promise<void> => {
    for (const s of done.reverse()) {
      try {
        await s.revert();
      } catch {
        // keep undoing the rest
      }
    }
    done.length = 0;
  };
  try {
    for (const s of steps) {
      await s.apply();
      done.push(s);
    }
  } catch (e) {
    await undo();
    throw e;
  }
  return undo;
}
