/** wrk runs inside a lab host; results come from a Lua `done` hook that prints one JSON line. */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SrError } from '../core/errors.js';
import type { Lab } from '../lab/index.js';

const LUA = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"bytes":%d,"durationUs":%d,"errors":%d,"status":%d,"p50Us":%d,"p99Us":%d,"meanUs":%.1f}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
`;

export interface WrkResult {
  requests: number;
  bytes: number;
  durationUs: number;
  /** socket errors (connect, read, write, timeout) */
  errors: number;
  /** non-2xx/3xx responses */
  status: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  /** received bytes (headers included) in Mb/s */
  mbps: number;
  rps: number;
}

export interface WrkOptions {
  threads: number;
  connections: number;
  durationS: number;
}

export function wrkScript(work: string): string {
  const path = join(work, 'report.lua');
  if (!existsSync(path)) writeFileSync(path, LUA);
  return path;
}

export function parseWrk(stdout: string): Omit<WrkResult, 'mbps' | 'rps'> | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (!line) return undefined;
  return JSON.parse(line.slice(8)) as Omit<WrkResult, 'mbps' | 'rps'>;
}

export async function runWrk(lab: Lab, host: string, url: string, work: string, o: WrkOptions): Promise<WrkResult> {
  const d = Math.max(1, Math.round(o.durationS));
  const argv = ['wrk', '--latency', '-t', String(o.threads), '-c', String(o.connections), '-d', `${d}s`, '--timeout', '30s', '-s', wrkScript(work), url];
  const r = await lab.exec(host, argv, { timeoutMs: (d + 40) * 1000 });
  const parsed = parseWrk(r.stdout);
  if (r.code !== 0 || !parsed) {
    throw new SrError('COMMAND_FAILED', `wrk ${url} in ${host} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
  }
  const secs = parsed.durationUs / 1e6;
  return { ...parsed, mbps: (parsed.bytes * 8) / parsed.durationUs, rps: parsed.requests / secs };
}
