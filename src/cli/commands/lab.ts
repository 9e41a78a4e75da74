/** `srv6pipes lab ...`: network-namespace labs from YAML topologies (src/lab). */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { SrError } from '../../core/errors.js';
import { builtinTopologies, checkLabName, Lab, loadTopology, planAsShell, planLab, stateDir, type LabState } from '../../lab/index.js';
import { topologyDot } from '../../lab/draw.js';
import { isRunning } from '../../lab/services.js';
import { hasCommand, runOk } from '../../sys/run.js';
import { table } from '../table.js';
import { flag, text } from '../options.js';
import { command, type CommandSpec, type GroupSpec } from '../spec.js';

export const LAB_GROUP: GroupSpec = { name: 'lab', summary: 'Network-namespace labs (topologies in YAML)' };

const NAME_OPTION = text('-n, --name <name>', 'the lab (default: the only lab that is up)');

/** The lab the command is about: --name, or the only lab there is. */
function pickName(opts: { name: string | undefined }): string {
  if (opts.name !== undefined) {
    checkLabName(opts.name);
    return opts.name;
  }
  const labs = Lab.list();
  if (labs.length === 1) return labs[0]!.name;
  if (labs.length === 0) throw new SrError('LAB_NOT_FOUND', 'no lab is up', { hint: 'start one with: srv6pipes lab up' });
  throw new SrError('BAD_ARGUMENT', `several labs are up (${labs.map((l) => l.name).join(', ')}): name one with --name`);
}

function describe(s: LabState): string {
  const t = s.topology;
  const rows = [['HOST', 'ROLE', 'NAMESPACE', 'ADDRESSES', 'LOCATORS']];
  for (const h of Object.values(t.hosts)) {
    const addrs = h.interfaces.map((i) => `${i.name} ${i.address}/${i.prefixLength}`).join(', ');
    rows.push([h.name, h.role, s.namespaces[h.name] ?? '?', addrs, h.locators.join(', ')]);
  }
  const crashed = s.status === 'starting' && !isRunning(s.ownerPid) ? ` (pid ${s.ownerPid} that ran up is gone: take it down)` : '';
  const lines = [`lab ${s.name}: topology ${t.name} (${t.source}), ${s.status}${crashed} since ${s.createdAt}`, table(rows, '  ')];
  if (s.services.length > 0) {
    const svc = [['SERVICE', 'HOST', 'PID', 'STATE', 'LOG']];
    for (const v of s.services) svc.push([v.name, v.host, String(v.pid), isRunning(v.pid) ? 'running' : 'exited', v.log]);
    lines.push(table(svc, '  '));
  }
  return lines.join('\n');
}

const up = command({
  name: 'lab up',
  summary: 'Create a lab: one network namespace per host, veth links, addresses, routes, services',
  options: {
    topology: text('-t, --topology <name|file>', 'a built-in topology (see `lab topologies`) or a YAML file', 'fig1'),
    name: text('-n, --name <name>', 'the lab name (default: the topology name)'),
    dryRun: flag('--dry-run', 'print the commands instead of running them'),
    verbose: flag('-v, --verbose', 'print each step with its time'),
  },
  async run(_args, opts) {
    const topo = loadTopology(opts.topology);
    const name = opts.name ?? topo.name;
    checkLabName(name);
    if (opts.dryRun) {
      process.stdout.write(planAsShell(planLab(name, topo)).join('\n') + '\n');
      return 0;
    }
    const t0 = Date.now();
    const log = opts.verbose ? (l: string) => process.stderr.write(`lab: ${l}\n`) : undefined;
    const lab = await Lab.up(topo, { name, ...(log ? { log } : {}) });
    const state = Lab.list().find((s) => s.name === lab.name);
    if (state) process.stdout.write(describe(state) + '\n');
    process.stdout.write(`up in ${Date.now() - t0} ms; run commands with: srv6pipes lab exec --name ${lab.name} HOST -- CMD\n`);
    return 0;
  },
});

const down = command({
  name: 'lab down',
  summary: 'Remove a lab: end its processes, delete its namespaces and state (works after a crash too)',
  options: {
    name: NAME_OPTION,
    all: flag('--all', 'every lab in the state directory and every stray s6p-* namespace'),
  },
  async run(_args, opts) {
    if (opts.all) {
      const names = await Lab.downAll();
      process.stdout.write(names.length ? `down: ${names.join(', ')}\n` : 'no labs\n');
      return 0;
    }
    let name: string;
    if (opts.name !== undefined) {
      checkLabName(opts.name);
      name = opts.name;
    } else {
      const stray = Lab.strayNamespaces();
      if (Lab.list().length === 0) {
        if (stray.length === 0) {
          process.stdout.write('no labs are up\n');
          return 0;
        }
        throw new SrError('BAD_ARGUMENT', `no lab has a state file, but namespaces are left: ${stray.join(', ')}`, {
          hint: 'remove them with: srv6pipes lab down --all (or --name NAME)',
        });
      }
      name = pickName(opts);
    }
    await Lab.down(name);
    process.stdout.write(`lab ${name} is down\n`);
    return 0;
  },
});

const exec = command({
  name: 'lab exec',
  summary: 'Run a command in a lab host (exit code, stdin, stdout and stderr are the command’s)',
  args: [
    { name: 'host', description: 'the host (see `lab status`)', required: true },
    { name: 'command', description: 'the command and its arguments, after --', variadic: true },
  ],
  options: { name: NAME_OPTION },
  // everything after `--` reaches `command` as it is
  async run(args, opts) {
    const [host, ...rest] = args;
    const argv = rest[0] === '--' ? rest.slice(1) : rest;
    if (!host || argv.length === 0) throw new SrError('BAD_ARGUMENT', 'usage: srv6pipes lab exec [--name NAME] HOST -- CMD [ARGS...]');
    const lab = Lab.attach(pickName(opts));
    const ns = lab.ns(host);
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'inherit' });
    return new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, sig) => resolve(code ?? 128 + (sig ? constants.signals[sig] : 0)));
    });
  },
});

const status = command({
  name: 'lab status',
  summary: 'Show labs: hosts, namespaces, addresses, services',
  options: {
    name: text('-n, --name <name>', 'only this lab'),
    json: flag('--json', 'the state as JSON'),
  },
  async run(_args, opts) {
    let labs = Lab.list();
    const only = opts.name;
    if (only !== undefined) {
      checkLabName(only);
      labs = labs.filter((l) => l.name === only);
      if (labs.length === 0) throw new SrError('LAB_NOT_FOUND', `no lab ${only} is up`);
    }
    const stray = Lab.strayNamespaces();
    if (opts.json) {
      process.stdout.write(JSON.stringify(only !== undefined ? labs[0] : { labs, strayNamespaces: stray }, null, 2) + '\n');
      return 0;
    }
    if (labs.length === 0) process.stdout.write(`no labs (state directory ${stateDir()})\n`);
    for (const s of labs) process.stdout.write(describe(s) + '\n');
    if (stray.length > 0) process.stdout.write(`stray namespaces (remove with \`lab down --all\`): ${stray.join(', ')}\n`);
    return 0;
  },
});

const topologies: CommandSpec = {
  name: 'lab topologies',
  summary: 'List the built-in topologies',
  async run() {
    const rows = [['NAME', 'HOSTS', 'DESCRIPTION']];
    for (const b of builtinTopologies()) {
      rows.push([b.name, Object.keys(loadTopology(b.name).hosts).join(' '), b.description]);
    }
    process.stdout.write(table(rows, '  ') + '\n');
    return 0;
  },
};

const draw = command({
  name: 'lab draw',
  summary: 'Draw a topology: Graphviz DOT, or SVG through Graphviz\'s dot (docs/pictures has the built-ins)',
  options: {
    topology: text('-t, --topology <name|file>', 'a built-in topology (see `lab topologies`) or a YAML file', 'fig1'),
    svg: flag('--svg', 'render with Graphviz (`dot -Tsvg`; apt-get install graphviz) instead of printing DOT'),
  },
  async run(_args, opts) {
    const dot = topologyDot(loadTopology(opts.topology));
    if (!opts.svg) {
      process.stdout.write(dot);
      return 0;
    }
    if (!hasCommand('dot')) throw new SrError('TOOL_MISSING', 'Graphviz (dot) is not installed', { hint: 'apt-get install graphviz, or print DOT without --svg' });
    process.stdout.write(await runOk(['dot', '-Tsvg'], dot));
    return 0;
  },
});

export const LAB_COMMANDS: CommandSpec[] = [up, down, exec, status, topologies, draw];
