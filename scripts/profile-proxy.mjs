#!/usr/bin/env node
/**
 * Issue 14, step 1: profiles the proxy's workers on the bench's Fig. 5 lab (unshaped), the way
 * `srv6pipes bench` runs them (2 workers, function `copy`, the bench's config), and leaves the raw
 * artefacts in --out (results/ is git-ignored). Not a benchmark: the numbers it prints are for
 * attribution (percentages, syscalls and CPU time per connection or per byte), read in
 * docs/performance.md ("Issue 14: where the time goes").
 *
 *   node scripts/profile-proxy.mjs --out results/profile14 [--phases perf,strace,memory,modules]
 *        [--sizes 1KB,100KB,10MB] [--seconds 8] [--setup 6000] [--idle 1000] [--snapshots no]
 *        [--warm no] [--intercept tproxy] [--relay js|native|native-nodeconnect|native-nodeaccept]
 *
 * Node flags reach the workers through NODE_OPTIONS (the primary forks them with its environment and
 * execArgv, daemon.ts): --perf-basic-prof (perf maps in /tmp/perf-PID.map) and
 * --interpreted-frames-native-stack for perf, --heapsnapshot-signal=SIGUSR2 for the heap snapshots.
 *
 * Phases:
 *  perf    — `perf record -g` on the worker pids during wrk (each page size) and during sequential
 *            fresh connections (the bench's `setup` client); CPU time of the workers per byte / per
 *            connection from /proc/PID/stat.
 *  strace  — `strace -c -f` on both workers during N fresh connections (syscalls per connection), and
 *            during a 10MB-page wrk run (syscalls per relayed chunk).
 *  memory  — RSS / smaps of an idle worker, heap snapshots at 0 and at --idle idle flows.
 *  modules — the files each worker opens while it starts (`strace -e openat`).
 *  haproxy — the same wrk and setup loads through HAProxy: its CPU per byte / per connection, `perf record`.
 *  hastrace — `strace -c` of HAProxy during N fresh connections (not in the default phases).
 *  cpu     — CPU per fresh connection without a profiler, the proxy's workers and HAProxy interleaved,
 *            --reps rounds of --setup connections (not in the default phases).
 *  timeline — where a fresh connection's wall time goes: `perf record -a` of every syscall entry and
 *            exit and the scheduler's wake-ups and switches (--events syscalls,sched; `sched` alone
 *            does not slow the threads) while --setup sequential connections run, for each --relay and HAProxy, --reps
 *            rounds interleaved; scripts/timeline.mjs lines the client's, the proxy's (main thread,
 *            relay thread) and the server's syscalls up per connection (not in the default phases).
 * Needs root (network namespaces), perf, strace, wrk, lighttpd. Takes its lab down in any case.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/srv6pipes');
const { Lab } = await import(join(ROOT, 'dist/src/lab/index.js'));
const { shapedTopology, FIG5, sid } = await import(join(ROOT, 'dist/src/bench/labs.js'));
const { startLighttpd, withFdLimit } = await import(join(ROOT, 'dist/src/bench/pages.js'));
const { steer, maxFlows, haproxy } = await import(join(ROOT, 'dist/src/bench/contenders.js'));
const { parseWrk, wrkScript } = await import(join(ROOT, 'dist/src/bench/wrk.js'));

const { values: a } = parseArgs({
  options: {
    out: { type: 'string', default: 'results/profile14' },
    phases: { type: 'string', default: 'perf,strace,memory,modules,haproxy' },
    sizes: { type: 'string', default: '1KB,100KB,10MB' },
    seconds: { type: 'string', default: '8' },
    setup: { type: 'string', default: '6000' },
    idle: { type: 'string', default: '1000' },
    freq: { type: 'string', default: '1999' },
    /** memory: heap snapshots (they grow the RSS by tens of MB: the RSS per flow is then measured in a run without them) */
    snapshots: { type: 'string', default: 'yes' },
    /** memory: warm the worker with a short wrk run first (its heap has grown), or measure a fresh one (as the bench does) */
    warm: { type: 'string', default: 'yes' },
    /** netconf.intercept of the proxy (the bench's default: auto, which is sklookup here) */
    intercept: { type: 'string', default: 'auto' },
    /** how the proxy relays its copy flows: js (default), native (nativeRelay: {}), native-nodeconnect (nativeRelay with connect: false), native-nodeaccept (accept: false: Node accepts); cpu: a comma list, each measured in every round */
    relay: { type: 'string', default: 'js' },
    /** cpu: rounds (proxy, then HAProxy, each round) */
    reps: { type: 'string', default: '3' },
    /** added to NODE_OPTIONS of every proxy started (e.g. --cpu-prof --cpu-prof-dir=DIR) */
    'node-options': { type: 'string', default: '' },
    /** timeline: what perf records — syscalls (every entry and exit), sched (wake-ups and context switches), or both */
    events: { type: 'string', default: 'syscalls,sched' },
  },
});
const RELAY_YAML = { js: [], native: ['nativeRelay: {}'], 'native-nodeconnect': ['nativeRelay: { connect: false }'], 'native-nodeaccept': ['nativeRelay: { accept: false }'], 'native-acceptthread': ['nativeRelay: { acceptOn: thread }'], 'native-late': ['nativeRelay: { connectEarly: false }'] };
const RELAYS = a.relay.split(',');
for (const r of RELAYS) if (!(r in RELAY_YAML)) throw new Error(`--relay: one of ${Object.keys(RELAY_YAML).join(', ')}`);
const OUT = resolve(a.out);
const WORK = join(OUT, 'work');
mkdirSync(WORK, { recursive: true });
const phases = new Set(a.phases.split(','));
const sizes = a.sizes === 'none' ? [] : a.sizes.split(',');
const SECONDS = Number(a.seconds);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const summary = { startedAt: new Date().toISOString(), args: a, cases: {} };
const save = () => writeFileSync(join(OUT, 'summary.json'), JSON.stringify(summary, null, 2));

const SETUP_CLIENT = `import net from 'node:net';
const [host, n] = [process.argv[2], Number(process.argv[3])];
const req = 'GET /1KB.bin HTTP/1.1\\r\\nHost: bench\\r\\nConnection: close\\r\\n\\r\\n';
const ms = [];
for (let i = 0; i < n; i++) {
  ms.push(await new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let first;
    const s = net.connect({ host, port: 80 }, () => s.write(req));
    s.on('data', () => { if (first === undefined) first = Number(process.hrtime.bigint() - t0) / 1e6; });
    s.on('error', reject);
    s.on('close', () => (first === undefined ? reject(new Error('no response')) : resolve(first)));
  }));
}
ms.sort((x, y) => x - y);
process.stdout.write(JSON.stringify({ n: ms.length, p50: ms[Math.floor(ms.length / 2)], p99: ms[Math.floor(ms.length * 0.99)], ...(process.argv[4] === 'pid' ? { pid: process.pid } : {}) }) + '\\n');
`;
const IDLE_CLIENT = `import net from 'node:net';
const [host, n] = [process.argv[2], Number(process.argv[3])];
const socks = [];
let failed = 0;
const one = () => new Promise((resolve) => {
  const s = net.connect({ host, port: 80 }, () => (socks.push(s), resolve()));
  s.on('error', () => (failed++, resolve()));
});
for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, one));
process.stdout.write(JSON.stringify({ open: socks.length, failed }) + '\\n');
setInterval(() => undefined, 1 << 30);
`;
const setupClient = join(WORK, 'setup-client.mjs');
const idleClient = join(WORK, 'idle-client.mjs');
writeFileSync(setupClient, SETUP_CLIENT);
writeFileSync(idleClient, IDLE_CLIENT);

/** utime+stime (clock ticks → ms) of a pid and its threads */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100; // CLK_TCK 100
}
const sumCpu = (pids) => pids.reduce((s, p) => s + cpuMs(p), 0);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim();

function smaps(pid) {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? 0);
  return { rssKB: kb('Rss'), pssKB: kb('Pss'), anonKB: kb('Anonymous'), privateDirtyKB: kb('Private_Dirty'), sharedCleanKB: kb('Shared_Clean'), privateCleanKB: kb('Private_Clean') };
}

const lab = await Lab.up(shapedTopology('fig5', 'unshaped'), { name: `pf${process.pid.toString(36)}`.slice(0, 12) });
log(`lab ${lab.name} up`);
let proxy;
let down = false;
async function teardown() {
  if (down) return;
  down = true;
  if (proxy && proxy.exitCode === null) {
    proxy.kill('SIGTERM');
    await Promise.race([new Promise((r) => proxy.once('exit', r)), sleep(8000)]);
  }
  await lab.down();
  log(`lab ${lab.name} down`);
}
process.on('SIGINT', () => void teardown().then(() => process.exit(130)));

/** starts the bench's proxy config (2 workers, copy) with NODE_OPTIONS; optionally under a wrapper (strace) */
async function startProxy(nodeOptions, wrap = [], relay = RELAYS[0]) {
  const cfg = join(WORK, 'proxy.yaml');
  const limits = `limits: { flows: ${maxFlows()}, flowsPerClient: ${maxFlows()} }`;
  writeFileSync(cfg, ['workers: 2', `locators: [ { prefix: "${FIG5.locator}" } ]`, 'functions:', '  - { id: 1, function: copy }', 'timeouts: { connect: 5s, drain: 1s }', limits, ...(a.intercept === 'auto' ? [] : [`netconf: { intercept: ${a.intercept} }`]), ...RELAY_YAML[relay], ''].join('\n'));
  const env = { ...process.env, NODE_OPTIONS: [nodeOptions, a['node-options']].filter(Boolean).join(' ') };
  const c = lab.spawn(FIG5.m1, withFdLimit([...wrap, process.execPath, BIN, 'proxy', '--config', cfg]), { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: WORK });
  const text = [];
  c.stderr.on('data', (b) => text.push(b.toString()));
  await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`proxy did not start: ${text.join('').slice(-400)}`)), 60000);
    createInterface({ input: c.stdout }).on('line', (line) => {
      if (line.includes('"proxy started"')) {
        clearTimeout(timer);
        res();
      }
    });
    c.once('exit', (code) => rej(new Error(`proxy exited ${code}: ${text.join('').slice(-3000)}`)));
  });
  proxy = c;
  return c;
}
async function stopProxy() {
  if (!proxy || proxy.exitCode !== null) return;
  const c = proxy;
  // the primary itself (under strace the child is strace, which would only detach)
  const pid = primaryPid();
  if (pid) process.kill(pid, 'SIGTERM');
  else c.kill('SIGTERM');
  await Promise.race([new Promise((r) => c.once('exit', r)), sleep(10000)]);
  proxy = undefined;
}

function workerPids() {
  const pids = execFileSync('ip', ['netns', 'pids', lab.ns(FIG5.m1)], { encoding: 'utf8' }).split('\n').filter((l) => /^\d+$/.test(l.trim()));
  return pids.filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('worker-main.js') && readFileSync(`/proc/${p}/comm`, 'utf8').trim() !== 'strace';
    } catch {
      return false;
    }
  }).map(Number);
}
function primaryPid() {
  const pids = execFileSync('ip', ['netns', 'pids', lab.ns(FIG5.m1)], { encoding: 'utf8' }).split('\n').filter((l) => /^\d+$/.test(l.trim()));
  return Number(pids.find((p) => {
    try {
      const c = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return c.includes('bin/srv6pipes') && readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'node';
    } catch {
      return false;
    }
  }));
}

function run(argv, opts = {}) {
  return new Promise((res) => {
    const c = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const out = [];
    const err = [];
    c.stdout.on('data', (b) => out.push(b));
    c.stderr.on('data', (b) => err.push(b));
    c.on('close', (code) => res({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}
const wrk = (size, secs) => lab.exec(FIG5.client, ['wrk', '--latency', '-t', '2', '-c', '32', '-d', `${secs}s`, '--timeout', '30s', '-s', wrkScript(WORK), `http://[${FIG5.serverAddr}]/${size}.bin`], { timeoutMs: (secs + 40) * 1000 });
const setupRun = (n) => lab.exec(FIG5.client, [process.execPath, setupClient, FIG5.serverAddr, String(n)], { timeoutMs: 600000 });

async function established(host) {
  const r = await lab.exec(host, ['ss', '-Htn', 'state', 'established']);
  return r.stdout.split('\n').filter((l) => l.trim()).length;
}

/** perf record on the workers while `load` runs (it starts first; perf attaches after 1 s) */
async function perfDuring(name, pids, secs, load, delayMs = 1000, jit = true) {
  const data = join(OUT, `perf-${name}.data`);
  const c0 = sumCpu(pids);
  const t0 = Date.now();
  const loadP = load();
  await sleep(delayMs);
  const c1 = sumCpu(pids);
  const t1 = Date.now();
  // -k mono: the clock of Node's jitdump (--perf-prof), for `perf inject --jit`
  const perf = await run(['perf', 'record', '-k', 'mono', '-F', a.freq, '-g', '-p', pids.join(','), '-o', data, '--', 'sleep', String(secs)]);
  const c2 = sumCpu(pids);
  const t2 = Date.now();
  if (perf.code !== 0) log(`perf ${name}: ${perf.stderr.slice(-300)}`);
  const r = await loadP;
  const c3 = sumCpu(pids);
  if (jit) {
    // JIT code moves and its addresses are reused: the jitdump's timed records name each sample's code right
    const inj = await run(['perf', 'inject', '--jit', '-i', data, '-o', data.replace(/\.data$/, '.jit.data')]);
    if (inj.code !== 0) log(`perf inject ${name}: ${inj.stderr.slice(-300)}`);
  }
  return { data, load: r, workerCpuMsDuringPerf: c2 - c1, wallMsDuringPerf: t2 - t1, workerCpuMsTotal: c3 - c0, wallMsTotal: Date.now() - t0 };
}

try {
  await startLighttpd(lab, FIG5.server, WORK, ['1KB', ...sizes.filter((s) => s !== '1KB')]);
  for (const host of [FIG5.client, FIG5.m1]) await lab.exec(host, ['sysctl', '-qw', 'net.ipv4.ip_local_port_range=1024 65535', 'net.ipv4.tcp_tw_reuse=1']);
  await steer(lab, FIG5.client, FIG5.serverAddr, FIG5.gateway, [sid(FIG5.locator, 1)]);

  if (phases.has('modules')) {
    // the files each process opens while the proxy starts: which modules a worker loads
    const trace = join(OUT, 'modules-openat.txt');
    await startProxy('', ['strace', '-f', '-tt', '-e', 'trace=openat,clone,clone3,vfork', '-o', trace]);
    const pids = workerPids();
    summary.cases.modules = { workers: pids, trace };
    await stopProxy();
    log('modules: traced');
    save();
  }

  if (phases.has('memory')) {
    await startProxy('--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=' + OUT);
    const pids = workerPids();
    if (a.warm !== 'no') await wrk('1KB', 2); // warm: every code path of a flow has run once
    await sleep(2000);
    const snap = async (label) => {
      if (a.snapshots === 'no') return [];
      const before = new Set(readdirSync(OUT).filter((f) => f.endsWith('.heapsnapshot')));
      for (const p of pids) process.kill(p, 'SIGUSR2');
      const deadline = Date.now() + 60000;
      let fresh = [];
      while (Date.now() < deadline) {
        fresh = readdirSync(OUT).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
        if (fresh.length >= pids.length) break;
        await sleep(500);
      }
      await sleep(3000); // the writer finishes
      const named = [];
      for (const f of fresh) {
        const pid = /\.(\d+)\.\d+\.\d+\.heapsnapshot$/.exec(f)?.[1];
        const to = `heap-${label}-w${pids.indexOf(Number(pid))}.heapsnapshot`;
        renameSync(join(OUT, f), join(OUT, to));
        named.push(to);
      }
      return named;
    };
    const idle0 = { smaps: pids.map(smaps), primary: smaps(primaryPid()) };
    const snaps0 = await snap('0flows');
    const idle0after = pids.map(smaps);
    const n = Number(a.idle);
    const child = lab.spawn(FIG5.client, withFdLimit([process.execPath, idleClient, FIG5.serverAddr, String(n)]), { stdio: ['ignore', 'pipe', 'pipe'] });
    const opened = await new Promise((res) => createInterface({ input: child.stdout }).once('line', (l) => res(JSON.parse(l))));
    const deadline = Date.now() + 30000;
    while ((await established(FIG5.m1)) < 2 * opened.open && Date.now() < deadline) await sleep(200);
    await sleep(1000);
    const estM1 = await established(FIG5.m1);
    const flowsPerWorker = [];
    const busy = { smaps: pids.map(smaps) };
    const snapsN = await snap(`${n}flows`);
    // flows per worker: from the primary's flow table would need admin; count sockets per worker pid instead
    for (const p of pids) flowsPerWorker.push(readdirSync(`/proc/${p}/fd`).length);
    child.kill('SIGKILL');
    summary.cases.memory = { pids, idle0, idle0afterSnapshot: idle0after, snaps0, opened, establishedOnM1: estM1, busy, fdsPerWorker: flowsPerWorker, snapsN };
    await stopProxy();
    log(`memory: ${JSON.stringify({ idle0: idle0.smaps, busy: busy.smaps, opened })}`);
    save();
    for (let i = 0; i < 100 && (await established(FIG5.m1)) > 0; i++) await sleep(200);
  }

  if (phases.has('perf')) {
    await startProxy('--perf-prof --interpreted-frames-native-stack');
    const pids = workerPids();
    summary.cases.perfWorkers = pids;
    for (const size of sizes) {
      await wrk(size, 2); // warm-up (JIT)
      log(`perf ${size}: load ${loadavg()}`);
      const r = await perfDuring(size, pids, SECONDS, () => wrk(size, SECONDS + 2));
      const w = parseWrk(r.load.stdout);
      summary.cases[size] = { ...r, loadavg: loadavg(), wrk: w, mbps: w ? (w.bytes * 8) / w.durationUs : undefined, workerCpuNsPerByte: w ? (r.workerCpuMsTotal * 1e6) / w.bytes : undefined, workerCpuUsPerRequest: w ? (r.workerCpuMsTotal * 1e3) / w.requests : undefined };
      log(`perf ${size}: ${JSON.stringify(summary.cases[size].wrk)} worker cpu ${r.workerCpuMsTotal} ms`);
      save();
    }
    const n = Number(a.setup);
    await setupRun(50);
    // CPU per connection without perf attached
    const c0 = sumCpu(pids);
    const plain = await setupRun(n);
    const plainCpuMs = sumCpu(pids) - c0;
    log(`perf setup: load ${loadavg()}`);
    // the perf window is the first part of the run (--setup connections must outlast --seconds)
    const r = await perfDuring('setup', pids, SECONDS, () => setupRun(n), 300);
    summary.cases.setup = { ...r, loadavg: loadavg(), result: JSON.parse(r.load.stdout || '{}'), plain: JSON.parse(plain.stdout || '{}'), plainWorkerCpuMs: plainCpuMs, workerCpuUsPerConnection: (plainCpuMs * 1e3) / n, workerCpuUsPerConnectionUnderPerf: (r.workerCpuMsTotal * 1e3) / n };
    log(`perf setup: ${JSON.stringify(summary.cases.setup.result)} cpu/conn ${summary.cases.setup.workerCpuUsPerConnection} us`);
    save();
    await stopProxy();
  }

  if (phases.has('strace')) {
    await startProxy('');
    const pids = workerPids();
    await setupRun(50);
    const n = 500;
    const st = join(OUT, 'strace-setup.txt');
    const tracer = spawn('strace', ['-c', '-f', '-o', st, ...pids.flatMap((p) => ['-p', String(p)])], { stdio: 'ignore' });
    await sleep(1500);
    const r = await setupRun(n);
    tracer.kill('SIGINT');
    await new Promise((res) => tracer.once('exit', res));
    summary.cases.straceSetup = { connections: n, file: st, result: r.stdout.trim() };
    const st2 = join(OUT, 'strace-10MB.txt');
    const tracer2 = spawn('strace', ['-c', '-f', '-o', st2, ...pids.flatMap((p) => ['-p', String(p)])], { stdio: 'ignore' });
    await sleep(1500);
    const w = await wrk('10MB', 4);
    tracer2.kill('SIGINT');
    await new Promise((res) => tracer2.once('exit', res));
    summary.cases.strace10MB = { file: st2, wrk: parseWrk(w.stdout) };
    const st3 = join(OUT, 'strace-1KB.txt');
    const tracer3 = spawn('strace', ['-c', '-f', '-o', st3, ...pids.flatMap((p) => ['-p', String(p)])], { stdio: 'ignore' });
    await sleep(1500);
    const w3 = await wrk('1KB', 4);
    tracer3.kill('SIGINT');
    await new Promise((res) => tracer3.once('exit', res));
    summary.cases.strace1KB = { file: st3, wrk: parseWrk(w3.stdout) };
    // one connection, every syscall with its arguments (the accept path, in order)
    const st4 = join(OUT, 'strace-one-connection.txt');
    const tracer4 = spawn('strace', ['-f', '-tt', '-o', st4, ...pids.flatMap((p) => ['-p', String(p)])], { stdio: 'ignore' });
    await sleep(1500);
    await setupRun(3);
    await sleep(500);
    tracer4.kill('SIGINT');
    await new Promise((res) => tracer4.once('exit', res));
    save();
    await stopProxy();
    log('strace: done');
  }
  if (phases.has('haproxy')) {
    // the same loads through HAProxy (transparent, splice-auto, 2 threads): its CPU per byte and per connection
    const h = haproxy(lab, FIG5.m1, FIG5.locator, WORK);
    await h.start();
    try {
      const pid = h.pid();
      // the child is `sh -c 'ulimit…; exec haproxy'`: the same pid after exec
      const pids = [pid];
      for (const size of sizes) {
        await wrk(size, 2);
        const r = await perfDuring(`haproxy-${size}`, pids, SECONDS, () => wrk(size, SECONDS + 2), 1000, false);
        const w = parseWrk(r.load.stdout);
        summary.cases[`haproxy-${size}`] = { ...r, load: undefined, loadavg: loadavg(), wrk: w, mbps: w ? (w.bytes * 8) / w.durationUs : undefined, cpuNsPerByte: w ? (r.workerCpuMsTotal * 1e6) / w.bytes : undefined, cpuUsPerRequest: w ? (r.workerCpuMsTotal * 1e3) / w.requests : undefined };
        log(`haproxy ${size}: ${JSON.stringify(w)} cpu ${r.workerCpuMsTotal} ms`);
        save();
      }
      const n = Number(a.setup);
      await setupRun(50);
      const c0 = sumCpu(pids);
      const plain = await setupRun(n);
      const plainCpuMs = sumCpu(pids) - c0;
      const r = await perfDuring('haproxy-setup', pids, SECONDS, () => setupRun(n), 300, false);
      summary.cases['haproxy-setup'] = { ...r, load: undefined, result: JSON.parse(r.load.stdout || '{}'), plain: JSON.parse(plain.stdout || '{}'), plainCpuMs, cpuUsPerConnection: (plainCpuMs * 1e3) / n };
      log(`haproxy setup: ${JSON.stringify(summary.cases['haproxy-setup'].plain)} cpu/conn ${summary.cases['haproxy-setup'].cpuUsPerConnection} us`);
      save();
    } finally {
      await h.stop();
    }
  }
  if (phases.has('cpu')) {
    // CPU per fresh connection, no profiler: the proxy's workers and HAProxy interleaved, --reps rounds
    // of --setup connections each (issue 14 step 3: before/after)
    const n = Number(a.setup);
    const rounds = [];
    for (let rep = 0; rep < Number(a.reps); rep++) {
      const byRelay = {};
      let proxyUs;
      let r;
      for (const relay of RELAYS) {
        await startProxy('', [], relay);
        const pids = workerPids();
        await setupRun(50);
        const c0 = sumCpu(pids);
        r = await setupRun(n);
        proxyUs = ((sumCpu(pids) - c0) * 1e3) / n;
        byRelay[relay] = { cpuUsPerConnection: proxyUs, result: JSON.parse(r.stdout || '{}') };
        await stopProxy();
      }
      const h = haproxy(lab, FIG5.m1, FIG5.locator, WORK);
      await h.start();
      let haproxyUs;
      let hr;
      try {
        await setupRun(50);
        const h0 = cpuMs(h.pid());
        hr = await setupRun(n);
        haproxyUs = ((cpuMs(h.pid()) - h0) * 1e3) / n;
      } finally {
        await h.stop();
      }
      rounds.push({ proxyCpuUsPerConnection: proxyUs, haproxyCpuUsPerConnection: haproxyUs, ratio: proxyUs / haproxyUs, proxy: JSON.parse(r.stdout || '{}'), haproxy: JSON.parse(hr.stdout || '{}'), ...(RELAYS.length > 1 ? { byRelay } : {}), loadavg: loadavg() });
      log(`cpu round ${rep + 1}: ${JSON.stringify(rounds.at(-1))}`);
    }
    summary.cases.cpu = { connections: n, rounds };
    save();
  }
  if (phases.has('timeline')) {
    const { timeline } = await import('./timeline.mjs');
    const n = Number(a.setup);
    const serverPids = () => execFileSync('ip', ['netns', 'pids', lab.ns(FIG5.server)], { encoding: 'utf8' }).split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number);
    /** perf records every syscall and scheduler event system-wide while the client runs (the client's pid is perf's child's: `ip netns exec` execs) */
    const EVENTS = { syscalls: 'raw_syscalls:sys_enter,raw_syscalls:sys_exit', sched: 'sched:sched_wakeup,sched:sched_switch' };
    const events = a.events.split(',').map((e) => EVENTS[e] ?? (() => { throw new Error(`--events: syscalls, sched or both, not ${e}`); })()).join(',');
    const traced = async (name, proxyPids) => {
      await setupRun(100);
      const data = join(OUT, `timeline-${name}.data`);
      const r = await run(['perf', 'record', '-q', '-a', '-m', '1024', '-e', events, '-o', data, '--', 'ip', 'netns', 'exec', lab.ns(FIG5.client), process.execPath, setupClient, FIG5.serverAddr, String(n), 'pid']);
      if (r.code !== 0) throw new Error(`perf record ${name}: ${r.stderr.slice(-400)}`);
      const client = JSON.parse(r.stdout.trim().split('\n').at(-1));
      const t = await timeline(data, { client: client.pid, proxy: proxyPids, server: serverPids() });
      writeFileSync(join(OUT, `timeline-${name}.txt`), `${t.connections} connections, client p50 ${client.p50} ms\n${t.summary}\n${t.table}\n\nthe median connection:\n${t.example}\n\nscheduler (wake-up → on a CPU): ${JSON.stringify(t.sched)}\n`);
      log(`timeline ${name}: client p50 ${client.p50.toFixed(3)} ms; ${t.summary}; scheduler ${JSON.stringify(t.sched)}`);
      return { client, ...t };
    };
    const rounds = [];
    for (let rep = 0; rep < Number(a.reps); rep++) {
      const round = {};
      for (const relay of RELAYS) {
        await startProxy('', [], relay);
        try {
          round[relay] = await traced(`${relay}-${rep}`, workerPids());
        } finally {
          await stopProxy();
        }
      }
      const h = haproxy(lab, FIG5.m1, FIG5.locator, WORK);
      await h.start();
      try {
        round.haproxy = await traced(`haproxy-${rep}`, [h.pid()]);
      } finally {
        await h.stop();
      }
      rounds.push(round);
    }
    summary.cases.timeline = { connections: n, rounds };
    save();
  }
  if (phases.has('hastrace')) {
    // HAProxy's syscalls per connection, as the proxy's (strace phase)
    const h = haproxy(lab, FIG5.m1, FIG5.locator, WORK);
    await h.start();
    try {
      await setupRun(50);
      const n = 500;
      const st = join(OUT, 'strace-haproxy-setup.txt');
      const tracer = spawn('strace', ['-c', '-f', '-o', st, '-p', String(h.pid())], { stdio: 'ignore' });
      await sleep(1500);
      const r = await setupRun(n);
      tracer.kill('SIGINT');
      await new Promise((res) => tracer.once('exit', res));
      summary.cases.straceHaproxySetup = { connections: n, file: st, result: r.stdout.trim() };
      const st4 = join(OUT, 'strace-haproxy-one-connection.txt');
      const tracer4 = spawn('strace', ['-f', '-tt', '-o', st4, '-p', String(h.pid())], { stdio: 'ignore' });
      await sleep(1500);
      await setupRun(3);
      await sleep(500);
      tracer4.kill('SIGINT');
      await new Promise((res) => tracer4.once('exit', res));
      save();
    } finally {
      await h.stop();
    }
  }
  summary.endedAt = new Date().toISOString();
  save();
} finally {
  await teardown();
}
