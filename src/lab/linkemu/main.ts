/**
 * The link emulator process, started by `Lab.up` in a link's middle namespace:
 *   node main.js --a a --b b --delay-us 25000 --mtu 1500 --stats FILE
 * Writes its stats as JSON to FILE (atomically) once the sockets are bound, then every 250 ms and at
 * exit; SIGTERM/SIGINT stop it (exit 0). Everything it does is in emulator.ts.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parseArgs } from 'node:util';
import { LinkEmulator, type EmulatorStats } from './emulator.js';

const STATS_EVERY_MS = 250;
const POLICIES = ['SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE', 'SCHED_DEADLINE'];

/** This process's scheduling policy (field 41 of /proc/self/stat). */
function schedPolicy(): string {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const rt = Number(fields[40 - 3]); // fields[k - 3] is field k (1-based; field 3 follows the ")"): 40 rt_priority, 41 policy
    const policy = POLICIES[Number(fields[41 - 3])] ?? 'unknown';
    return policy === 'SCHED_FIFO' || policy === 'SCHED_RR' ? `${policy} ${rt}` : policy;
  } catch {
    return 'unknown';
  }
}

function writeStats(path: string, s: EmulatorStats): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s)}\n`);
  renameSync(tmp, path);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      'delay-us': { type: 'string' },
      mtu: { type: 'string', default: '1500' },
      stats: { type: 'string' },
    },
    strict: true,
  });
  const delayUs = Number(values['delay-us']);
  const mtu = Number(values.mtu);
  if (!values.a || !values.b || !values.stats || !Number.isFinite(delayUs) || delayUs < 0 || !Number.isInteger(mtu) || mtu < 68) {
    process.stderr.write('usage: main.js --a IF --b IF --delay-us N [--mtu N] --stats FILE\n');
    process.exit(2);
  }
  const statsPath = values.stats;
  // a wire does not wait for CPU: Lab.up starts us SCHED_FIFO (chrt) where allowed; else nice -10
  let scheduling = schedPolicy();
  if (scheduling === 'SCHED_OTHER') {
    try {
      setPriority(-10);
      scheduling = 'SCHED_OTHER, nice -10';
    } catch {
      // not permitted here: the release lag in the stats shows what it costs
    }
  }
  const emu = new LinkEmulator({ a: values.a, b: values.b, delayUs, mtu, scheduling });
  writeStats(statsPath, emu.stats());
  process.stdout.write(`link emulator ${values.a} <-> ${values.b}: delay ${delayUs} us each way, mtu ${mtu}, ${scheduling}\n`);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    const s = emu.stop();
    writeStats(statsPath, s);
    process.stdout.write(`${sig}: stopped; ${JSON.stringify(s.directions)}; flushed ${s.flushedAtStop}\n`);
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  let lastStats = Date.now();
  // each turn returns to the event loop (signals, nothing else), so the wait inside step() is bounded
  const turn = (): void => {
    if (stopping) return;
    emu.step();
    const t = Date.now();
    if (t - lastStats >= STATS_EVERY_MS) {
      lastStats = t;
      writeStats(statsPath, emu.stats());
    }
    setImmediate(turn);
  };
  turn();
}

main();
