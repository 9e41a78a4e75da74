/** Lab topologies for the benchmarks (the built-in fig5/fig1, optionally with every link shaped),
 *  and the m1 scenario helper shared by Figs. 6 and 9 and the connection-cost measurement. */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import YAML from 'yaml';
import { SrError } from '../core/errors.js';
import { builtinTopologies, parseTopology, type Lab, type Topology } from '../lab/index.js';

/** A built-in topology with `rate` on every link ('unshaped' leaves them as they are). */
export function shapedTopology(name: 'fig5' | 'fig1', shaping: string): Topology {
  const b = builtinTopologies().find((t) => t.name === name);
  if (!b) throw new Error(`no built-in topology ${name}`);
  const doc = YAML.parse(readFileSync(b.path, 'utf8')) as { links: Record<string, unknown>[] };
  if (shaping !== 'unshaped') for (const l of doc.links) l['rate'] = shaping;
  return parseTopology(YAML.stringify(doc), `${name}-${shaping}`);
}

/** Delay and loss of one link (undefined: a plain link). */
export interface Impairment {
  delay: string;
  loss: string;
}

/** A built-in topology with `delay` and `loss` on the links given (by index; others left plain). */
export function impairedTopology(name: 'fig5' | 'fig1', impairments: (Impairment | undefined)[], label: string): Topology {
  const b = builtinTopologies().find((t) => t.name === name);
  if (!b) throw new Error(`no built-in topology ${name}`);
  const doc = YAML.parse(readFileSync(b.path, 'utf8')) as { links: Record<string, unknown>[] };
  doc.links.forEach((l, i) => {
    const imp = impairments[i];
    if (imp) Object.assign(l, { delay: imp.delay, loss: imp.loss });
  });
  return parseTopology(YAML.stringify(doc), `${name}-${label}`);
}

interface RouteJson {
  dst: string;
  gateway?: string;
  dev: string;
  metric?: number;
  type?: string;
}

/**
 * Every unicast route of the host's main table (link-local ones aside) re-installed with
 * `congctl CC`: TCP connections that use them (active and accepted) run that congestion control.
 * Per route because a lab namespace may not set `net.ipv4.tcp_congestion_control` to an algorithm
 * outside the kernel's allowed list (EPERM outside the initial namespace), and the host's own
 * namespace is never touched.
 */
export async function routeCongestionControl(lab: Lab, host: string, cc: string): Promise<void> {
  const r = await lab.exec(host, ['ip', '-6', '-j', 'route', 'show']);
  if (r.code !== 0) throw new SrError('COMMAND_FAILED', `${host}: ip -6 route show: ${r.stderr.trim()}`);
  for (const route of JSON.parse(r.stdout) as RouteJson[]) {
    if (route.dst.startsWith('fe80:') || (route.type !== undefined && route.type !== 'unicast')) continue;
    const argv = ['ip', '-6', 'route', 'replace', route.dst, ...(route.gateway ? ['via', route.gateway] : []), 'dev', route.dev];
    if (route.metric !== undefined) argv.push('metric', String(route.metric));
    const x = await lab.exec(host, [...argv, 'congctl', cc]);
    if (x.code !== 0) throw new SrError('COMMAND_FAILED', `${host}: ${argv.join(' ')} congctl ${cc}: ${x.stderr.trim()}`);
  }
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
    tcpCongestionControl: (() => {
      try {
        return readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
      } catch {
        return 'unknown';
      }
    })(),
  };
}
