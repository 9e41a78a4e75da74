/**
 * `srv6pipes doctor` (is this kernel and host fit for the proxy, the agents and MPTCP? src/sys/doctor.ts)
 * and `srv6pipes cleanup` (remove what a killed srv6pipes process left: src/sys/leftovers.ts).
 */
import { flag, text } from '../options.js';
import { command, type CommandSpec } from '../spec.js';

const JSON_OPTION = flag('--json', 'print JSON');

export const DOCTOR_COMMANDS: CommandSpec[] = [
  command({
    name: 'doctor',
    summary: 'Check the kernel and host for what the proxy, the agents and MPTCP need, and for state a killed srv6pipes left (probes run in a throwaway network namespace); exit 1 when something needed fails',
    options: {
      config: text('-c, --config <file>', 'check for this proxy config (its interception, mark, table, MPTCP, flow limits); default: the defaults'),
      json: JSON_OPTION,
    },
    async run(_args, opts) {
      const { doctorNeeds } = await import('../../proxy/doctor-needs.js');
      const { runDoctor, formatReport } = await import('../../sys/doctor.js');
      const rep = await runDoctor(doctorNeeds(opts.config));
      process.stdout.write(opts.json ? `${JSON.stringify(rep, null, 1)}\n` : formatReport(rep));
      return rep.ok ? 0 : 1;
    },
  }),
  command({
    name: 'cleanup',
    summary: 'Remove what killed srv6pipes processes left in this network namespace (nft tables, ip rules and routes, sysctls they changed); never what a live one uses',
    options: {
      dryRun: flag('--dry-run', 'print what would be removed; change nothing'),
      json: JSON_OPTION,
    },
    async run(_args, opts) {
      const { findLeftovers, cleanLeftovers } = await import('../../sys/leftovers.js');
      const { orphanJournals } = await import('../../sys/journal.js');
      const { rmSync } = await import('node:fs');
      // journals of namespaces that no longer exist name nothing: their files go (not with --dry-run)
      if (!opts.dryRun) for (const f of orphanJournals()) rmSync(f, { force: true });
      const rep = await findLeftovers();
      if (opts.dryRun || rep.found.length === 0) {
        if (opts.json) process.stdout.write(`${JSON.stringify({ live: rep.live, leftovers: rep.found.map((f) => f.describe), removed: [], failed: [] }, null, 1)}\n`);
        else {
          for (const f of rep.found) process.stdout.write(`would remove: ${f.describe}\n`);
          if (rep.found.length === 0) process.stdout.write(`nothing left over${rep.live.length ? ` (live: pid ${rep.live.map((l) => l.pid).join(', ')})` : ''}\n`);
        }
        if (!opts.dryRun) for (const j of rep.deadJournals) rmSync(j.file, { force: true });
        return 0;
      }
      const res = await cleanLeftovers(rep);
      if (opts.json) process.stdout.write(`${JSON.stringify({ live: rep.live, leftovers: rep.found.map((f) => f.describe), ...res }, null, 1)}\n`);
      else {
        for (const l of res.removed) process.stdout.write(`removed: ${l}\n`);
        for (const l of res.failed) process.stdout.write(`FAILED: ${l}\n`);
      }
      return res.failed.length ? 1 : 0;
    },
  }),
];
