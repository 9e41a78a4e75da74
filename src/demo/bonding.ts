/**
 * The demo's third part, the paper's use case II-B (the `mptcp` lab): a customer proxy bonds an
 * "xdsl" (20 Mb/s, 5 ms) and an "lte" (10 Mb/s, 20 ms) uplink with Multipath TCP towards an operator
 * proxy, for an ordinary HTTP client and server. A download in bond mode uses both links; in backup
 * mode lte stays idle. The server sees the client's own address both times.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, loadTopology } from '../lab/index.js';
import { readExample } from '../config/examples.js';
import { JsonLines } from '../sys/json-lines.js';
import type { PartContext } from './controlled.js';

const MiB = 1 << 20;

/** The path through cp's converter (examples/mptcp-cp.yaml: function 7 or 8, the policy in the argument) and op's copy. */
export const mptcpSegments = (policy: number, fn = 7): string => `fc00:a::${fn}:0:${policy},fc00:b::1:0:0`;
const SERVER = 'fc00:2::2';
const CLIENT = 'fc00:1::2';

async function txBytes(lab: Lab, host: string, dev: string): Promise<number> {
  const r = await lab.exec(host, ['cat', `/sys/class/net/${dev}/statistics/tx_bytes`]);
  return Number(r.stdout.trim());
}

export async function runBondingPart(c: PartContext): Promise<boolean> {
  const { print, bin } = c;
  const size = 6 * MiB;
  const name = `demm${process.pid.toString(36)}`.slice(0, 16);
  print('');
  print('srv6pipes demo, part 3 — MPTCP bonding (II-B): client → cp ═ xdsl 20 Mb/s | lte 10 Mb/s ═ op → server');
  const lab = await Lab.up(loadTopology('mptcp'), { name });
  c.onLab(lab);
  const children: { kill(signal: NodeJS.Signals): boolean }[] = [];
  try {
    for (const [host, yaml] of [['op', readExample('mptcp-op.yaml')], ['cp', readExample('mptcp-cp.yaml')]] as const) {
      const cfg = join(c.work, `${host}.yaml`);
      writeFileSync(cfg, yaml);
      const child = lab.spawn(host, [process.execPath, bin, 'proxy', '--config', cfg], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      await new JsonLines(child).next((l) => l['msg'] === 'proxy started', 20000, `proxy on ${host}`);
    }
    const http = lab.spawn('server', [process.execPath, join(c.here, 'http-server.js'), '--port', '80', '--size', String(size)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(http);
    const httpOut = new JsonLines(http);
    const sha = String((await httpOut.next((l) => l['event'] === 'listening', 15000, 'HTTP server'))['sha256']);
    print(`  lab          ${name}: client ${CLIENT}, cp (mptcp on function 7), op (converter port 7780, copy), server ${SERVER}`);

    const download = async (policy: number, label: string): Promise<{ ok: boolean; lteShare: number }> => {
      // downstream: op sends over both uplinks (eth0 = xdsl, eth1 = lte)
      const [x0, l0] = [await txBytes(lab, 'op', 'eth0'), await txBytes(lab, 'op', 'eth1')];
      const segments = mptcpSegments(policy);
      const r = await lab.exec('client', [process.execPath, join(c.here, 'http-client.js'), '--host', SERVER, '--port', '80', '--path', '/file', '--segments', segments], { timeoutMs: 60000 });
      const resp = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as Record<string, unknown>;
      const req = await httpOut.next((l) => l['event'] === 'request', 5000, 'the request');
      const [xdsl, lte] = [(await txBytes(lab, 'op', 'eth0')) - x0, (await txBytes(lab, 'op', 'eth1')) - l0];
      const ok = resp['status'] === 200 && resp['bytes'] === size && resp['sha256'] === sha && req['remote'] === CLIENT;
      const mbps = ((size * 8) / (Number(resp['ms']) / 1000) / 1e6).toFixed(1);
      print(`  ${label.padEnd(12)} path ${segments}: HTTP ${resp['status']}, ${resp['bytes']} bytes, ${mbps} Mb/s (best single link: 20), sha256 ${resp['sha256'] === sha ? 'matches' : 'DOES NOT MATCH'}`);
      print(`  ${''.padEnd(12)} xdsl carried ${(xdsl / MiB).toFixed(2)} MiB, lte ${(lte / MiB).toFixed(2)} MiB; the server saw [${req['remote']}] — ${req['remote'] === CLIENT ? 'the client’s own address' : 'NOT the client'}`);
      return { ok, lteShare: lte / size };
    };
    const bond = await download(0, 'bond');
    const backup = await download(1, 'backup');
    const pass = bond.ok && backup.ok && bond.lteShare > 0.1 && backup.lteShare < 0.05;
    print(`  result       ${pass ? 'PASS' : 'FAIL'}`);
    return pass;
  } finally {
    for (const ch of children.reverse()) ch.kill('SIGTERM');
    await lab.down();
    c.onLab(undefined);
  }
}
