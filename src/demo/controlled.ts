/**
 * The demo's second part, driven by the controller (the `access` lab): the client asks the DNS
 * controller for server.lab.example, gets a binding SID (never the path), and an unmodified `curl`
 * runs through it under `srv6pipes steer`; the access router expands the BSID to compress (p1a) →
 * decompress (p2), so the core carries compressed bytes. Then p1a fails: the controller re-points the
 * same BSID to the other replica (p1b) and the next download goes through it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readExample } from '../config/examples.js';
import { Lab, loadTopology } from '../lab/index.js';
import { JsonLines } from '../sys/json-lines.js';

const CTL = 'fc00:9::2';
const NAME = 'server.lab.example';

export interface PartContext {
  bin: string;
  here: string;
  work: string;
  size: number;
  print: (line: string) => void;
  /** registers the lab so that Ctrl-C takes it down */
  onLab: (lab: Lab | undefined) => void;
}

async function txBytes(lab: Lab, host: string, dev: string): Promise<number> {
  const r = await lab.exec(host, ['ip', '-j', '-s', 'link', 'show', 'dev', dev]);
  return (JSON.parse(r.stdout) as { stats64: { tx: { bytes: number } } }[])[0]!.stats64.tx.bytes;
}

async function flowsOf(lab: Lab, bin: string, host: string): Promise<string> {
  const r = await lab.exec(host, [process.execPath, bin, 'stats', '--json']);
  const s = JSON.parse(r.stdout) as { functions: { functionId: number; function: string; flowsTotal: number }[] };
  return s.functions.map((f) => `${f.function} ${f.flowsTotal} flow${f.flowsTotal === 1 ? '' : 's'}`).join(', ') || 'no flows';
}

async function bsidRoute(lab: Lab): Promise<string> {
  const r = await lab.exec('ar', ['ip', '-6', 'route', 'show']);
  return (r.stdout.split('\n').find((l) => l.includes('End.B6.Encaps')) ?? '(none)').replace(/\s+metric.*$/, '').replace(/\s+/g, ' ');
}

export async function runControllerPart(c: PartContext): Promise<boolean> {
  const { print, bin } = c;
  const name = `demc${process.pid.toString(36)}`.slice(0, 16);
  print('');
  print('srv6pipes demo, part 2 — the controller: client → access router (BSID) → p1a|p1b (compress) → p2 (decompress) → server');
  const lab = await Lab.up(loadTopology('access'), { name });
  c.onLab(lab);
  try {
    const daemons: { host: string; stop: () => void }[] = [];
    const start = async (host: string, args: string[], ready: string): Promise<JsonLines> => {
      const child = lab.spawn(host, [process.execPath, bin, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      daemons.push({ host, stop: () => child.kill('SIGTERM') });
      const out = new JsonLines(child);
      await out.next((l) => l['msg'] === ready, 20000, `${args[0]} on ${host}`);
      return out;
    };
    // the agent and the controller share a token (ar.token beside the controller's config)
    const tokenFile = join(c.work, 'ar.token');
    writeFileSync(tokenFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    await start('ar', ['access-router', '--bsid-prefix', 'fc00:f::/64', '--listen', '[fc00:9::1]:7780', '--client-interface', 'eth0', '--token-file', tokenFile], 'access-router agent started');
    const proxies: Record<string, JsonLines> = {};
    for (const host of ['p1a', 'p1b', 'p2'] as const) {
      const cfg = join(c.work, `${host}.yaml`);
      writeFileSync(cfg, readExample(`proxy-access-${host}.yaml`));
      proxies[host] = await start(host, ['proxy', '--config', cfg], 'proxy started');
    }
    const ctlCfg = join(c.work, 'controller.yaml');
    writeFileSync(ctlCfg, readExample('controller-access.yaml'));
    const ctl = await start('ctl', ['controller', '--config', ctlCfg], 'controller started');
    print(`  lab          ${name}: client fc00:1::2, ar (BSIDs from fc00:f::/64), p1a, p1b, p2, server fc00:2::2, controller ${CTL}`);

    const http = lab.spawn('server', [process.execPath, join(c.here, 'http-server.js'), '--port', '80', '--size', String(c.size), '--text'], { stdio: ['ignore', 'pipe', 'inherit'] });
    daemons.push({ host: 'server', stop: () => http.kill('SIGTERM') });
    const httpOut = new JsonLines(http);
    const listening = await httpOut.next((l) => l['event'] === 'listening', 15000, 'HTTP server');
    const sha = String(listening['sha256']);

    const dig = await lab.exec('client', ['dig', `@${CTL}`, '+noall', '+answer', '+additional', 'AAAA', NAME]);
    for (const l of dig.stdout.trim().split('\n')) print(`  dig          ${l.replace(/\s+/g, ' ')}`);
    print(`  ar route     ${await bsidRoute(lab)}`);

    const download = async (n: number): Promise<{ ok: boolean; bsid?: string; line: string }> => {
      const file = join(c.work, `file${n}`);
      const r = await lab.exec(
        'client',
        [process.execPath, bin, 'steer', NAME, '--controller', CTL, '--json', '--', 'curl', '-s', '-o', file, '-w', '%{http_code} %{size_download} %{time_total}', 'http://[fc00:2::2]/file'],
        { timeoutMs: 60000 },
      );
      const steering = r.stderr
        .split('\n')
        .concat(r.stdout.split('\n'))
        .map((l) => {
          try {
            return JSON.parse(l) as { event?: string; routes?: { bsid?: string }[] };
          } catch {
            return undefined;
          }
        })
        .find((x) => x?.event === 'steering');
      const [code, bytes, secs] = (r.stdout.match(/(\d{3}) (\d+) ([\d.]+)\s*$/)?.slice(1) ?? []) as string[];
      let got = '';
      try {
        got = createHash('sha256').update(readFileSync(file)).digest('hex');
      } catch {
        // no file: the download failed
      }
      const ok = r.code === 0 && code === '200' && got === sha;
      const mbps = secs ? ((Number(bytes) * 8) / Number(secs) / 1e6).toFixed(0) : '?';
      const bsid = steering?.routes?.[0]?.bsid;
      return { ok, ...(bsid ? { bsid } : {}), line: `curl (unmodified, under steer via ${bsid ?? '?'}): HTTP ${code ?? '?'}, ${bytes ?? 0} bytes, ${mbps} Mb/s, sha256 ${got === sha ? 'matches' : 'DOES NOT MATCH'}` };
    };

    const core0 = await txBytes(lab, 'p2', 'eth0');
    const first = await download(1);
    const core = (await txBytes(lab, 'p2', 'eth0')) - core0;
    const req = await httpOut.next((l) => l['event'] === 'request', 5000, 'the request');
    print(`  download 1   ${first.line}`);
    print(`  server saw   [${req['remote']}] — ${req['remote'] === 'fc00:1::2' ? 'the client’s own address' : 'NOT the client'}`);
    print(`  core link    p2 → p1a carried ${(core / 1048576).toFixed(2)} MiB for ${(c.size / 1048576).toFixed(1)} MiB of text (compress on p1a, decompress on p2)`);
    print(`  proxies      p1a: ${await flowsOf(lab, bin, 'p1a')}; p2: ${await flowsOf(lab, bin, 'p2')}; p1b: ${await flowsOf(lab, bin, 'p1b')}`);

    print('  failure      p1a fails (its proxy stopped, its links gone)');
    daemons.find((d) => d.host === 'p1a')?.stop();
    await lab.exec('p1a', ['sh', '-c', 'ip link del eth0; ip link del eth1']);
    const moved = await ctl.next((l) => l['msg'] === 'BSID re-pointed', 15000, 'the BSID re-pointed');
    print(`  controller   p1a down → BSID ${String(moved['bsid'])} re-pointed to ${(moved['to'] as string[]).join(', ')}`);
    print(`  ar route     ${await bsidRoute(lab)}`);
    const second = await download(2);
    print(`  download 2   ${second.line}`);
    const p1b = await flowsOf(lab, bin, 'p1b');
    print(`  proxies      p1b: ${p1b}; p2: ${await flowsOf(lab, bin, 'p2')}`);
    const sameBsid = first.bsid !== undefined && first.bsid === second.bsid;
    print(`  bsid         ${sameBsid ? 'the client kept its BSID' : 'the BSID CHANGED'}`);
    for (const d of daemons.reverse()) d.stop();
    const pass = first.ok && second.ok && sameBsid && req['remote'] === 'fc00:1::2' && core < c.size / 2 && /compress 1 flow/.test(p1b);
    print(`  result       ${pass ? 'PASS' : 'FAIL'}`);
    return pass;
  } finally {
    await lab.down();
    c.onLab(undefined);
  }
}
