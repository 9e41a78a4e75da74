/**
 * `npm run fuzz [-- --target NAME[,NAME…]] [--cases N] [--seed S] [--path P] [--list]`: runs the fuzz
 * targets (./targets.ts), 100,000 cases each by default, prints cases/s and findings per target,
 * and exits 1 when any target found something (its counterexample, stack and replay command above).
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { formatResult, runTarget } from './run.js';
import { FUZZ_TARGETS } from './targets.js';

const USAGE = 'usage: npm run fuzz -- [--target NAME[,NAME…]] [--cases N] [--seed S] [--path P] [--list] [--help]';

const OPTIONS = {
  target: { type: 'string', multiple: true },
  cases: { type: 'string', default: '100000' },
  seed: { type: 'string' },
  path: { type: 'string' },
  list: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

async function main(): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
  try {
    ({ values } = parseArgs({ options: OPTIONS }));
  } catch (e) {
    // a mistyped option is a user error: one line and the usage, no stack
    console.error(`fuzz: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.list) {
    for (const t of FUZZ_TARGETS) console.log(`${t.name.padEnd(18)} ${t.summary}`);
    return 0;
  }
  const names = (values.target ?? []).flatMap((t) => t.split(',')).filter(Boolean);
  const unknown = names.filter((n) => !FUZZ_TARGETS.some((t) => t.name === n));
  if (unknown.length) {
    console.error(`fuzz: unknown target ${unknown.join(', ')}; targets: ${FUZZ_TARGETS.map((t) => t.name).join(', ')}`);
    return 2;
  }
  const cases = Number(values.cases);
  if (!Number.isInteger(cases) || cases < 1) {
    console.error(`fuzz: --cases must be a positive integer, not ${values.cases}`);
    return 2;
  }
  const seed = values.seed === undefined ? randomInt(0, 2 ** 31) : Number(values.seed);
  if (!Number.isInteger(seed)) {
    console.error(`fuzz: --seed must be an integer, not ${values.seed}`);
    return 2;
  }
  const targets = names.length ? FUZZ_TARGETS.filter((t) => names.includes(t.name)) : FUZZ_TARGETS;
  console.log(`fuzz: ${targets.length} target(s), ${cases} cases each, seed ${seed}`);
  let findings = 0;
  for (const t of targets) {
    const r = await runTarget(t, { cases, seed, ...(values.path ? { path: values.path } : {}) });
    findings += r.findings;
    console.log(formatResult(r));
  }
  console.log(findings ? `fuzz: ${findings} finding(s)` : 'fuzz: no findings');
  return findings ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(2);
  },
);
