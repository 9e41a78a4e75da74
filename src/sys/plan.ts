/**
 * Host changes as plans: a plan is a list of reversible steps (a sysctl, an nft table, a route);
 * `--dry-run` prints their descriptions, applying runs them in order and returns the undo (reverse
 * order, old values restored). Shared by the proxy's netconf, return steering and the agents.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { SrError } from '../core/errors.js';
import { hasCommand } from './run.js';
import { journal, type Leftover } from './journal.js';

export interface Step {
  /** what it changes, as a command line an operator could type */
  describe: string;
  /** steps that steer SYNs to the listener: applied after the workers listen (netconfPhases) */
  phase?: 'interception';
  apply(): Promise<void>;
  revert(): Promise<void>;
  /** what the applied step left on the host, as data: journaled so that `srv6pipes cleanup` can undo it after a SIGKILL (journal.ts) */
  leftovers?(): Leftover[];
}

/**
 * A sysctl key and its file. Interface names are path components: a VLAN such as `eth0.10` is
 * `/proc/sys/net/ipv6/conf/eth0.10/…`, which sysctl(8) writes `net.ipv6.conf.eth0/10.…` (it swaps
 * `.` and `/`); joining a dotted key with `/` would name a directory that does not exist.
 */
export interface SysctlKey {
  /** as sysctl(8) takes it */
  key: string;
  /** the file under /proc/sys */
  path: string;
}

/** A sysctl from its components: ['net', 'ipv6', 'conf', 'eth0.10', 'seg6_enabled']. */
export function sysctlKey(parts: readonly string[]): SysctlKey {
  return { key: parts.map((p) => p.replace(/\./g, '/')).join('.'), path: `/proc/sys/${parts.join('/')}` };
}

/** A key without interface names ('net.ipv6.conf.all.forwarding'). */
export function plainKey(key: string): SysctlKey {
  return sysctlKey(key.split('.'));
}

/** The sysctl of one interface (or all, default): net.ipv6.conf.IF.LEAF. */
export function confKey(ifname: string, leaf: string): SysctlKey {
  return sysctlKey(['net', 'ipv6', 'conf', ifname, leaf]);
}

export function readSysctl(k: SysctlKey): string | undefined {
  try {
    return readFileSync(k.path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function sysctlStep(key: string | SysctlKey, value: string): Step {
  const k = typeof key === 'string' ? plainKey(key) : key;
  let previous: string | undefined;
  return {
    describe: `sysctl -w ${k.key}=${value}`,
    async apply() {
      previous = readFileSync(k.path, 'utf8').trim();
      if (previous !== value) writeFileSync(k.path, value);
    },
    async revert() {
      if (previous !== undefined && previous !== value) {
        try {
          writeFileSync(k.path, previous);
        } catch {
          // the interface may be gone by now
        }
      }
    },
    leftovers: () => (previous !== undefined && previous !== value ? [{ kind: 'sysctl', key: k.key, path: k.path, value, previous }] : []),
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
 * Accepting SRHs: `seg6_enabled=1` on all, default (interfaces made later) and every interface —
 * VLANs such as eth0.10 included (sysctlKey). The kernel takes the lower of `all` and the
 * interface's value and, below 1, drops every packet with an SRH — even one with Segments Left 0
 * addressed to this host (`ipv6_srh_rcv`). Old values come back on revert.
 */
export function seg6AcceptSteps(confNames = ipv6ConfNames()): Step[] {
  return confNames.map((n) => sysctlStep(confKey(n, 'seg6_enabled'), '1'));
}

/**
 * Forwarding on, without losing the default route learnt from router advertisements: turning
 * `all.forwarding` on makes the kernel ignore RAs where `accept_ra` is 1 and purge the default routes
 * they installed (rt6_purge_dflt_routers spares only interfaces with accept_ra=2). So, when this
 * step turns forwarding on, every interface (and default) whose accept_ra is 1 gets 2 first; on
 * revert forwarding goes back, then accept_ra. Where forwarding was on already, nothing changes.
 */
export function forwardingStep(confNames: () => string[] = ipv6ConfNames): Step {
  const forwarding = confKey('all', 'forwarding');
  let inner: Step[] = [];
  return {
    describe: `sysctl -w ${forwarding.key}=1 (first accept_ra=2 on each interface where it is 1, when forwarding was off: keeps a default route learnt from router advertisements)`,
    async apply() {
      const was = readSysctl(forwarding);
      const ra = was === '1' ? [] : confNames().filter((n) => n !== 'all' && n !== 'lo' && readSysctl(confKey(n, 'accept_ra')) === '1');
      inner = [...ra.map((n) => sysctlStep(confKey(n, 'accept_ra'), '2')), sysctlStep(forwarding, '1')];
      const done: Step[] = [];
      try {
        for (const s of inner) {
          await s.apply();
          done.push(s);
        }
      } catch (e) {
        for (const s of done.reverse()) await s.revert();
        throw e;
      }
    },
    async revert() {
      for (const s of [...inner].reverse()) await s.revert();
      inner = [];
    },
    leftovers: () => inner.flatMap((s) => s.leftovers?.() ?? []),
  };
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
  const done: { step: Step; left: Leftover[] }[] = [];
  const undo = async (): Promise<void> => {
    for (const { step, left } of done.reverse()) {
      try {
        await step.revert();
      } catch {
        // keep undoing the rest
      }
      journal().remove(left);
    }
    done.length = 0;
  };
  try {
    for (const s of steps) {
      await s.apply();
      const left = s.leftovers?.() ?? [];
      journal().add(left);
      done.push({ step: s, left });
    }
  } catch (e) {
    await undo();
    throw e;
  }
  return undo;
}
