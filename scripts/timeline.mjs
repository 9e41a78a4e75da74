/**
 * Where a fresh connection's wall time goes (issue 14, the setup row): reads a `perf record -a -e
 * raw_syscalls:sys_enter,raw_syscalls:sys_exit` of sequential fresh connections (scripts/
 * profile-proxy.mjs --phases timeline) and lines up, per connection, the syscalls of the client, of
 * the proxy (its main threads and its other threads, by thread name) and of the server, from the
 * client's connect() to its first read of the response. Each connection is the window between two of
 * the client's connect() calls. The result: for every syscall that happens in most connections (the
 * k-th entry or exit of a syscall by a role), its median time from the client's connect(), sorted —
 * the median connection's path through the processes.
 *
 * With the scheduler's events in the recording (sched:sched_wakeup, sched:sched_switch; `--events`
 * of profile-proxy's timeline phase), each role's wake-ups and its getting a CPU are lined up too, and
 * `sched` says, per role over the whole recording, how long a woken thread waited for a CPU (the
 * kernel puts a thread woken by a socket on the waker's CPU) and for what share of that wait another
 * CPU was idle. Recorded alone (no syscalls), the scheduler's events do not slow the threads down.
 *
 *   node scripts/timeline.mjs perf.data --client PID --proxy PID,PID --server PID   (prints the table)
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

/** x86_64 syscall numbers of the calls a connection's path makes (others print as `nr N`) */
const NAMES = {
  0: 'read', 1: 'write', 3: 'close', 7: 'poll', 16: 'ioctl', 19: 'readv', 20: 'writev', 32: 'dup', 40: 'sendfile',
  41: 'socket', 42: 'connect', 43: 'accept', 44: 'sendto', 45: 'recvfrom', 46: 'sendmsg', 47: 'recvmsg', 48: 'shutdown',
  49: 'bind', 51: 'getsockname', 52: 'getpeername', 54: 'setsockopt', 55: 'getsockopt', 72: 'fcntl', 202: 'futex',
  232: 'epoll_wait', 233: 'epoll_ctl', 257: 'openat', 262: 'newfstatat', 5: 'fstat', 271: 'ppoll', 275: 'splice',
  281: 'epoll_pwait', 288: 'accept4', 290: 'eventfd2', 292: 'dup3', 293: 'pipe2', 441: 'epoll_pwait2', 9: 'mmap',
  10: 'mprotect', 11: 'munmap', 28: 'madvise', 13: 'rt_sigaction', 14: 'rt_sigprocmask', 24: 'sched_yield',
};
/** reads whose result carries bytes: only those with a positive result count as "the response arrived" */
const READS = new Set([0, 19, 45, 47]);
/** a sample: comm, pid, tid, cpu (with -F cpu), time, event, the rest */
const SAMPLE = /^\s*(.+?)\s+(\d+)\/(\d+)\s+(?:\[(\d+)\]\s+)?(\d+\.\d+):\s+([\w:]+):\s*(.*)$/;
const SYSCALL = /^NR (\d+)(?: \(.*\))?(?: = (-?\d+))?/;
const WAKEUP = /(?:^|\s)pid=(\d+) .*target_cpu=(\d+)/;
const SWITCH = /==>.*\snext_pid=(\d+)/;
/** pseudo syscall numbers for the scheduler's events */
const WOKEN = -1;
const ONCPU = -2;
const schedName = (nr) => (nr === WOKEN ? 'woken' : nr === ONCPU ? 'on a CPU' : undefined);

/**
 * @param {string} data the perf.data file
 * @param {{ client: number, proxy: number[], server: number[] }} pids
 * @returns {Promise<{ connections: number, rows: { key: string, p50us: number, share: number }[], milestones: Record<string, number>, summary: string, table: string, example: string, sched: Record<string, { wakeups: number, waitP50us: number, waitP90us: number, otherCpuIdle: number }> }>}
 */
export async function timeline(data, pids) {
  const proxy = new Set(pids.proxy);
  const server = new Set(pids.server);
  const roleOf = (comm, pid, tid) => {
    if (pid === pids.client) return tid === pid ? 'client' : null;
    if (proxy.has(pid)) return tid === pid ? 'proxy' : `proxy:${comm}`;
    if (server.has(pid)) return 'server';
    return null;
  };
  /** per connection: [role, dir, nr, ret, t] in order */
  const conns = [];
  let cur = null;
  /** tid → [pid, comm] of every thread seen in a sample (a scheduler event's trace names only the thread) */
  const threads = new Map();
  /** the scheduler's events, in order: { t, cpu, woken?: tid, targetCpu?, next?: tid } */
  const sched = [];
  const ps = spawn('perf', ['script', '-i', data, '-F', 'comm,pid,tid,cpu,time,event,trace'], { stdio: ['ignore', 'pipe', 'ignore'] });
  for await (const line of createInterface({ input: ps.stdout })) {
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const [, comm, pidS, tidS, cpuS, tS, event, trace] = m;
    if (!threads.has(Number(tidS))) threads.set(Number(tidS), [Number(pidS), comm.trim()]);
    const t = Number(tS) * 1e6;
    if (event === 'sched:sched_wakeup' || event === 'sched:sched_switch') {
      const w = event === 'sched:sched_wakeup' ? WAKEUP.exec(trace) : null;
      const n = w ? null : SWITCH.exec(trace);
      if (!w && !n) continue;
      const e = w ? { t, cpu: Number(cpuS), woken: Number(w[1]), targetCpu: Number(w[2]) } : { t, cpu: Number(cpuS), next: Number(n[1]) };
      sched.push(e);
      const tid = e.woken ?? e.next;
      const who = threads.get(tid);
      const role = who && roleOf(who[1], who[0], tid);
      if (role && cur && cur.done === undefined) cur.events.push({ role, dir: 'sched', nr: w ? WOKEN : ONCPU, ret: undefined, t: t - cur.t0 });
      continue;
    }
    const sc = event.startsWith('raw_syscalls:sys_') ? SYSCALL.exec(trace) : null;
    if (!sc) continue;
    const dir = event.slice('raw_syscalls:sys_'.length);
    const [, nrS, retS] = sc;
    const role = roleOf(comm.trim(), Number(pidS), Number(tidS));
    if (!role) continue;
    const nr = Number(nrS);
    if (role === 'client' && dir === 'enter' && nr === 42) {
      cur = { t0: t, events: [], done: undefined };
      conns.push(cur);
    }
    if (!cur || cur.done !== undefined) continue;
    const ret = retS === undefined ? undefined : Number(retS);
    cur.events.push({ role, dir, nr, ret, t: t - cur.t0 });
    if (role === 'client' && dir === 'exit' && READS.has(nr) && ret > 0) cur.done = t - cur.t0;
  }
  await new Promise((r) => ps.once('close', r));
  const complete = conns.filter((c) => c.done !== undefined).slice(1); // the first may have started before perf
  const offsets = new Map();
  for (const c of complete) {
    const seen = new Map();
    for (const e of c.events) {
      const name = schedName(e.nr) ?? NAMES[e.nr] ?? `nr ${e.nr}`;
      const base = `${e.role} ${e.dir === 'sched' ? '' : `${e.dir} `}${name}${e.dir === 'exit' && READS.has(e.nr) ? (e.ret > 0 ? ' (bytes)' : ' (none)') : ''}`;
      const k = (seen.get(base) ?? 0) + 1;
      seen.set(base, k);
      const key = `${base} #${k}`;
      if (!offsets.has(key)) offsets.set(key, []);
      offsets.get(key).push(e.t);
    }
    const key = 'client: first response byte';
    if (!offsets.has(key)) offsets.set(key, []);
    offsets.get(key).push(c.done);
  }
  const median = (xs) => {
    const s = [...xs].sort((x, y) => x - y);
    return s[Math.floor(s.length / 2)];
  };
  const rows = [...offsets.entries()]
    .filter(([, xs]) => xs.length >= complete.length / 2)
    .map(([key, xs]) => ({ key, p50us: Math.round(median(xs) * 10) / 10, share: Math.round((xs.length / complete.length) * 100) / 100 }))
    .sort((x, y) => x.p50us - y.p50us);
  const at = (prefix) => rows.find((r) => r.key.startsWith(prefix))?.p50us;
  const milestones = {
    proxyAccepted: at('proxy exit accept4') ?? at('proxy exit accept') ?? NaN,
    onwardConnect: at('proxy enter connect') ?? NaN,
    serverAccepted: at('server exit accept') ?? NaN,
    serverRequest: at('server exit read (bytes)') ?? at('server exit recvfrom (bytes)') ?? NaN,
    firstByte: at('client: first response byte') ?? NaN,
  };
  // the median connection, every syscall of it in order: what the medians above cannot show (a
  // thread's wake-ups, a step that happens in only some connections)
  const byDone = [...complete].sort((x, y) => x.done - y.done);
  const mid = byDone[Math.floor(byDone.length / 2)];
  const example = mid ? mid.events.map((e) => `${e.t.toFixed(1).padStart(9)} µs  ${e.role} ${e.dir === 'sched' ? '' : `${e.dir} `}${schedName(e.nr) ?? NAMES[e.nr] ?? `nr ${e.nr}`}${e.ret === undefined ? '' : ` = ${e.ret}`}`).join('\n') : '';
  const summary = Object.entries(milestones).map(([k, v]) => `${k} ${Number.isNaN(v) ? '—' : `${v} µs`}`).join(', ');
  const table = rows.map((r) => `${String(r.p50us).padStart(9)} µs  ${r.share < 1 ? `(${r.share}) ` : ''}${r.key}`).join('\n');
  return { connections: complete.length, rows, milestones, summary, table, example, sched: schedWaits(sched, (tid) => {
    const who = threads.get(tid);
    return who ? roleOf(who[1], who[0], tid) : null;
  }) };
}

/**
 * Per role: each wake-up's wait until the thread is on a CPU, and the share of those waits during
 * which another CPU than the one the thread waited for was idle (running the idle task, pid 0).
 */
export function schedWaits(events, roleOf) {
  const running = new Map(); // cpu → tid
  const pending = new Map(); // tid → { t, cpu, idleSince: Map(cpu → t), idleUs }
  const out = new Map();
  for (const e of events) {
    if (e.woken !== undefined) {
      const role = roleOf(e.woken);
      if (role && !pending.has(e.woken)) {
        const idle = new Map([...running].filter(([c, tid]) => tid === 0 && c !== e.targetCpu).map(([c]) => [c, e.t]));
        pending.set(e.woken, { t: e.t, cpu: e.targetCpu, idle, idleUs: 0, role });
      }
      continue;
    }
    running.set(e.cpu, e.next);
    for (const [tid, p] of pending) {
      if (e.cpu === p.cpu) continue;
      if (e.next === 0 && !p.idle.has(e.cpu)) p.idle.set(e.cpu, e.t);
      else if (e.next !== 0 && p.idle.has(e.cpu)) {
        p.idleUs += e.t - p.idle.get(e.cpu);
        p.idle.delete(e.cpu);
      }
      void tid;
    }
    const p = pending.get(e.next);
    if (p) {
      pending.delete(e.next);
      // idle until now on another CPU (at most the whole wait: one idle CPU counts once)
      let idleUs = p.idleUs;
      for (const since of p.idle.values()) idleUs += e.t - since;
      const wait = e.t - p.t;
      if (!out.has(p.role)) out.set(p.role, { waits: [], waitUs: 0, idleUs: 0 });
      const r = out.get(p.role);
      r.waits.push(wait);
      r.waitUs += wait;
      r.idleUs += Math.min(idleUs, wait);
    }
  }
  const q = (xs, f) => {
    const s = [...xs].sort((x, y) => x - y);
    return Math.round(s[Math.min(s.length - 1, Math.floor(s.length * f))] ?? NaN);
  };
  return Object.fromEntries(
    [...out].map(([role, r]) => [role, { wakeups: r.waits.length, waitP50us: q(r.waits, 0.5), waitP90us: q(r.waits, 0.9), otherCpuIdle: r.waitUs > 0 ? Math.round((r.idleUs / r.waitUs) * 100) / 100 : 0 }]),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: o, positionals } = parseArgs({ allowPositionals: true, options: { client: { type: 'string' }, proxy: { type: 'string', default: '' }, server: { type: 'string', default: '' } } });
  const list = (s) => s.split(',').filter(Boolean).map(Number);
  const t = await timeline(positionals[0], { client: Number(o.client), proxy: list(o.proxy), server: list(o.server) });
  console.log(`${t.connections} connections\n${t.summary}\n${t.table}\n\nthe median connection:\n${t.example}\n\nscheduler: ${JSON.stringify(t.sched)}`);
}
