#!/usr/bin/env node
// Issue 14, step 2 (prototype): the JavaScript relay against the native relay thread (splice, and
// recv/send), over loopback. A real web server (lighttpd, sendfile) behind, real clients in front
// (curl for a 1 GB stream, wrk for 1KB/100KB request-response over keep-alive connections), one
// relay process per contender, measured interleaved; CPU is user+sys of the relay process
// (/proc/PID/stat, all its threads). Not a test: it asserts nothing about speed.
//   node scripts/relay-bench.mjs [--reps 3] [--seconds 3] [--gb 1]
// Needs the build (dist/, the addon), lighttpd, wrk and curl (scripts/setup.sh installs them).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

const args = process.argv.slice(2);
const opt = (name, d) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};


/** One relay process: accepts on `port`, connects to the backend, relays with `mode`. */
async function relayRole(mode, port, backendPort) {
  const { relay, newDirectionStats } = await import('../dist/src/sdk/relay.js');
  const { IDENTITY } = await import('../dist/src/sdk/types.js');
  const { NativeRelay } = await import('../dist/src/native/relay.js');
  const nat = mode === 'js' ? undefined : new NativeRelay({ mode, capacity: Number(process.env.CAPACITY ?? 256 * 1024) });
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (inbound) => {
    const out = net.connect({ host: '::1', port: backendPort, allowHalfOpen: true });
    inbound.on('error', () => out.destroy());
    out.on('error', () => inbound.destroy());
    out.once('connect', () => {
      inbound.setNoDelay(true);
      out.setNoDelay(true);
      if (nat) {
        nat.adopt(inbound, out, { onDone: () => undefined });
        return;
      }
      let last = 0;
      const hooks = { onTransformError: () => inbound.destroy(), onActivity: () => (last = Date.now()) };
      relay(inbound, out, IDENTITY, newDirectionStats(), hooks);
      relay(out, inbound, IDENTITY, newDirectionStats(), hooks);
      inbound.on('close', () => out.destroy());
      out.on('close', () => inbound.destroy());
      inbound.resume();
      void last;
    });
  });
  server.listen(port, '::1', () => process.send?.('ready'));
}

function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime (fields 14, 15)
}
const TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

async function freePort() {
  const s = net.createServer();
  s.listen(0, '::1');
  await once(s, 'listening');
  const p = s.address().port;
  s.close();
  return p;
}

function run(cmd, argv) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (out += b));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out}`))));
  });
}

async function orchestrate() {
  const reps = opt('reps', 3);
  const seconds = opt('seconds', 3);
  const gb = opt('gb', 1);
  const dir = mkdtempSync(join('/dev/shm', 'relay-bench-'));
  const children = [];
  try {
    writeFileSync(join(dir, '1k'), Buffer.alloc(1024, 97));
    writeFileSync(join(dir, '100k'), Buffer.alloc(100 * 1024, 97));
    execFileSync('truncate', ['-s', `${gb}G`, join(dir, 'big')]);
    const backendPort = await freePort();
    writeFileSync(
      join(dir, 'lighttpd.conf'),
      [`server.document-root = "${dir}"`, `server.port = ${backendPort}`, `server.bind = "[::1]"`, `server.max-keep-alive-requests = 100000`, `server.errorlog = "${dir}/error.log"`, ''].join('\n'),
    );
    const httpd = spawn('lighttpd', ['-D', '-f', join(dir, 'lighttpd.conf')], { stdio: 'ignore' });
    children.push(httpd);
    const contenders = ['js', 'splice', 'copy', 'auto'];
    const relays = {};
    for (const mode of contenders) {
      const port = await freePort();
      const child = spawn(process.execPath, [new URL(import.meta.url).pathname, 'relay', mode, String(port), String(backendPort)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      await once(child, 'message');
      relays[mode] = { port, pid: child.pid };
    }
    await new Promise((r) => setTimeout(r, 300));
    const loads = [
      { name: `${gb} GB stream (curl)`, key: 'stream', go: (port) => stream(port, gb) },
      { name: '1KB request-response (wrk -c8)', key: '1k', go: (port) => wrk(port, '1k', 1024, seconds) },
      { name: '100KB request-response (wrk -c8)', key: '100k', go: (port) => wrk(port, '100k', 100 * 1024, seconds) },
    ];
    const results = {};
    for (let rep = 0; rep < reps; rep++) {
      for (const load of loads) {
        for (const mode of contenders) {
          const { port, pid } = relays[mode];
          const c0 = cpuTicks(pid);
          const t0 = process.hrtime.bigint();
          const r = await load.go(port);
          const wall = Number(process.hrtime.bigint() - t0) / 1e9;
          const cpu = (cpuTicks(pid) - c0) / TCK;
          const row = { mbps: (r.bytes * 8) / r.seconds / 1e6, cpuPerGB: cpu / (r.bytes / 1e9), cpuShare: cpu / wall, ops: r.ops / r.seconds };
          (results[`${load.key}/${mode}`] ??= []).push(row);
          console.error(`rep ${rep + 1} ${load.name} ${mode}: ${row.mbps.toFixed(0)} Mb/s, ${row.cpuPerGB.toFixed(2)} CPU-s/GB, relay CPU ${(row.cpuShare * 100).toFixed(0)}%`);
        }
      }
    }
    console.log(JSON.stringify({ reps, seconds, gb, load: readFileSync('/proc/loadavg', 'utf8').trim(), results }, null, 1));
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function stream(port, gb) {
  const t0 = process.hrtime.bigint();
  const out = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download}', `http://[::1]:${port}/big`]);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const bytes = Number(out.trim());
  if (bytes !== gb * 1024 ** 3) throw new Error(`stream: ${bytes} bytes`);
  return { bytes, seconds, ops: 1 };
}

async function wrk(port, path, size, seconds) {
  const out = await run('wrk', ['-t1', '-c8', `-d${seconds}s`, `http://[::1]:${port}/${path}`]);
  const m = /(\d+) requests in ([\d.]+)s/.exec(out);
  if (!m) throw new Error(`wrk: ${out}`);
  if (/Non-2xx|Socket errors/.test(out)) throw new Error(`wrk reported errors: ${out}`);
  const ops = Number(m[1]);
  return { bytes: ops * size, seconds: Number(m[2]), ops };
}

if (args[0] === 'relay') await relayRole(args[1], Number(args[2]), Number(args[3]));
else await orchestrate();
