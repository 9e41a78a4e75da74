/** Page sizes ('1KB' … '10MB') and the lighttpd server that serves them inside a lab host. */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, closeSync, writeSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { SrError } from '../core/errors.js';
import type { Lab } from '../lab/index.js';

export const ALL_SIZES = ['1KB', '10KB', '100KB', '1MB', '10MB'];

export function sizeBytes(s: string): number {
  const m = /^(\d+)(KB|MB)$/.exec(s);
  if (!m) throw new SrError('BAD_ARGUMENT', `bad page size "${s}" (write 1KB, 10KB, 100KB, 1MB, 10MB)`);
  return Number(m[1]) * (m[2] === 'KB' ? 1000 : 1000_000);
}

/** Writes one page per size into work/www (pseudo-random bytes, so XOR and compression see real data). */
export function writePages(work: string, sizes: string[]): string {
  const dir = join(work, 'www');
  mkdirSync(dir, { recursive: true });
  const block = Buffer.alloc(64 * 1024);
  let x = 0x12345678;
  for (let i = 0; i < block.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    block[i] = x >>> 24;
  }
  for (const s of sizes) {
    const path = join(dir, `${s}.bin`);
    if (existsSync(path)) continue;
    const fd = openSync(path, 'w');
    let left = sizeBytes(s);
    while (left > 0) {
      const n = Math.min(left, block.length);
      writeSync(fd, block, 0, n);
      left -= n;
    }
    closeSync(fd);
  }
  return dir;
}

/** The hard RLIMIT_NOFILE of this process (children inherit it; raising it may not be allowed). */
export function fdLimit(): number {
  try {
    const m = /Max open files\s+\d+\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return 1024;
}

/** `sh -c 'ulimit -n HARD; exec argv'`: the soft fd limit raised to the hard one. */
export function withFdLimit(argv: string[]): string[] {
  return ['sh', '-c', `ulimit -n ${fdLimit()}; exec "$@"`, 'sh', ...argv];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `ss` in the host until something listens on the TCP port. */
export async function waitListening(lab: Lab, host: string, port: number, what: string, child?: ChildProcess, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await lab.exec(host, ['ss', '-Htln', `sport = :${port}`]);
    if (r.stdout.trim().length > 0) return;
    if (child && child.exitCode !== null) throw new SrError('COMMAND_FAILED', `${what} in ${host} exited with ${child.exitCode} before listening`);
    if (Date.now() > deadline) throw new SrError('COMMAND_FAILED', `${what} in ${host}: nothing listens on port ${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Runs `lighttpd -D` (foreground) in the host, serving work/www on port 80. */
export async function startLighttpd(lab: Lab, host: string, work: string, sizes: string[]): Promise<ChildProcess> {
  const root = writePages(work, sizes);
  const conf = join(work, `lighttpd-${lab.name}.conf`);
  writeFileSync(
    conf,
    [
      `server.document-root = "${root}"`,
      'server.port = 80',
      'server.bind = "[::]"',
      `server.max-fds = ${fdLimit()}`,
      `server.max-connections = ${Math.floor(fdLimit() / 2) - 100}`,
      'server.max-keep-alive-requests = 10000',
      'server.max-read-idle = 600',
      'server.max-keep-alive-idle = 600',
      'mimetype.assign = ( "" => "application/octet-stream" )',
      '',
    ].join('\n'),
  );
  const child = lab.spawn(host, ['lighttpd', '-D', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  const err: string[] = [];
  child.stderr!.on('data', (c: Buffer) => err.push(c.toString()));
  try {
    await waitListening(lab, host, 80, 'lighttpd', child);
  } catch (e) {
    throw new SrError('COMMAND_FAILED', `${(e as Error).message}: ${err.join('').trim().slice(0, 400)}`);
  }
  return child;
}
