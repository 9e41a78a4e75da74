/** Lab topologies for the benchmarks (the built-in fig5/fig1, optionally with every link shaped),
 *  and the m1 scenario helper shared by Figs. 6 and 9 and the connection-cost measurement. */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import YAML from 'yaml';
import { builtinTopologies, parseTopology, type Topology } from '../lab/index.js';

/** A built-in topology with `rate` on every link ('unshaped' leaves them as they are). */
export function shapedTopology(name: 'fig5' | 'fig1', shaping: string): Topology {
  const b = builtinTopologies().find((t) => t.name === name);
  if (!b) throw new Error(`no built-in topology ${name}`);
  const doc = YAML.parse(readFileSync(b.path, 'utf8')) as { links: Record<string, unknown>[] };
  if (shaping !== 'unshaped') for (const l of doc.links) l['rate'] = shaping;
  return parseTopology(YAML.stringify(doc), `${name}-${shaping}`);
}

/** Fig. 5 addresses (src/lab/topologies/fig5.yaml). */
export const FIG5 = { client: 'client', m1: 'm1', server: 'server', serverAddr: 'fc00:2::2', gateway: 'fc00:1::1', locator: 'fc00:a::/80' } as const;
/** Fig. 1 addresses (src/lab/topologies/fig1.yaml). */
export const FIG1 = { serverAddr: 'fc00:2::2', gateway: 'fc00:1::1', locatorP1: 'fc00:a::/80', locatorP2: 'fc00:b::/80' } as const;

/** The SID of function F with argument A in a /80 locator with 16 function bits: LOC::F:0:A (hex). */
export function sid(locatorPrefix: string, fn: number, arg = 0): string {
  const base = locatorPrefix.split('/')[0]!.replace(/::$/, '');
  return `${base}::${fn.toString(16)}:0:${arg.toString(16)}`;
}

/** The machine, for the report: CPU model, count, kernel, tool versions. */
export function machine(): Record<string, string> {
  const tool = (argv: string[]): string => {
    try {
      return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim();
    } catch (e) {
      const out = (e as { stdout?: string; stderr?: string }).stdout || (e as { stderr?: string }).stderr || '';
      return out.split('\n')[0]?.trim() || 'unknown';
    }
  };
  let kernel = 'unknown';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // not Linux
  }
  const c = cpus();
  let cpusetInfo = '';
  try {
    cpusetInfo = readdirSync('/sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d)).length.toString();
  } catch {
    cpusetInfo = String(c.length);
  }
  return {
    cpu: c[0]?.model ?? 'unknown',
    cpus: String(c.length),
    cpusInSysfs: cpusetInfo,
    kernel,
    node: process.version,
    wrk: tool(['wrk', '-v']),
    lighttpd: tool(['lighttpd', '-v']),
    haproxy: tool(['haproxy', '-v']),
    cc: tool(['cc', '--version']),
  };
}
