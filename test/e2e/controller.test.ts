/**
 * The SR controller end to end, in the Fig. 1 lab: the controller serves DNS in `server`
 * (fc00:2::2, port 53); `dig` and `srv6pipes resolve` ask from `client`; then a connection follows the
 * returned path through real proxies on p1 and p2. Every lab is taken down in `finally` (withLab).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { readExample } from '../../src/config/examples.js';

const FIG1_CONTROLLER_YAML = readExample('controller.yaml');
import { join } from 'node:path';
import { BIN, ROOT, exited, JsonLines, proxyYaml, runClient, startProxy, startServer, withLab, writeConfig } from '../helpers/harness.js';

const CTL = 'fc00:2::2';
const hex = (s: string): string => Buffer.from(s).toString('hex');

async function startController(lab: Lab, yaml = FIG1_CONTROLLER_YAML, extra: string[] = []): Promise<{ out: JsonLines; stop: () => Promise<number | null> }> {
  const path = writeConfig(yaml);
  const child = lab.spawn('server', [process.execPath, BIN, 'controller', '--config', path, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new JsonLines(child);
  await Promise.race([
    out.next((l) => l['msg'] === 'controller started', 15000, 'controller start'),
    exited(child).then((c) => {
      throw new Error(`controller exited with ${c}:\n${out.text.join('\n')}`);
    }),
  ]);
  return {
    out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited(child);
    },
  };
}

async function dig(lab: Lab, ...args: string[]): Promise<string> {
  return digFrom(lab, 'client', ...args);
}

async function digFrom(lab: Lab, host: string, ...args: string[]): Promise<string> {
  const r = await lab.exec(host, ['dig', `@${CTL}`, '+time=2', '+tries=1', ...args], { timeoutMs: 15000 });
  return r.stdout + r.stderr;
}

/**
 * Issue 12 #3: the Fig. 1 config forwarding out-of-zone names to a second controller (the upstream,
 * on the same host, port 5353) — but only for p1's network (fc00:12::/64), not the client's.
 */
const FORWARDING_YAML = `${FIG1_CONTROLLER_YAML}\nupstream: { server: "[${CTL}]:5353", allow: [ "fc00:12::/64" ] }\n`;
const UPSTREAM_YAML = 'listen: { address: "::", port: 5353 }\nnodes: {}\nzones: { other.example: { www: "2001:db8::77" } }\n';

/** The hex RDATA of the TYPE65281 records in dig's output (RFC 3597 generic format). */
function srhRecords(out: string): string[] {
  return [...out.matchAll(/\sTYPE65281\s+\\# \d+ ([0-9A-Fa-f ]+)/g)].map((m) => m[1]!.replace(/\s/g, '').toLowerCase());
}

describe('controller (fig1: the controller in server, dig from client)', () => {
  test('dig: plain AAAA, SR request, REFUSED, NXDOMAIN, malformed, truncation and TCP', async () => {
    await withLab('fig1', async (lab) => {
      const upstream = await startController(lab, UPSTREAM_YAML);
      const ctl = await startController(lab, FORWARDING_YAML);
      try {
        const plain = await dig(lab, 'AAAA', 'plain.lab.example');
        assert.match(plain, /status: NOERROR/);
        assert.match(plain, /flags: qr aa rd;/);
        assert.match(plain, /^plain\.lab\.example\.\s+30\s+IN\s+AAAA\s+fc00:2::2$/m);
        assert.deepEqual(srhRecords(plain), [], 'no function applies: no SRH record');

        // a required function (copy on p1): the SRH record comes unasked
        const server = await dig(lab, 'AAAA', 'server.lab.example');
        assert.deepEqual(srhRecords(server), ['02' + 'fc00000a000000000000000100000000' + 'fc000002000000000000000000000002']);

        // an SR request: EDNS0 option 65004 = "xor,xor"
        const sr = await dig(lab, 'AAAA', 'plain.lab.example', `+ednsopt=65004:${hex('xor,xor')}`);
        assert.match(sr, /status: NOERROR/);
        assert.deepEqual(srhRecords(sr), ['03' + 'fc00000a00000000000000020000005a' + 'fc00000b00000000000000020000005a' + 'fc000002000000000000000000000002']);

        assert.match(await dig(lab, 'AAAA', 'plain.lab.example', `+ednsopt=65004:${hex('compress')}`), /status: REFUSED/);
        assert.match(await dig(lab, 'AAAA', 'denied.lab.example'), /status: REFUSED/);
        await ctl.out.next((l) => l['rcode'] === 'REFUSED' && /denies/.test(String(l['reason'])), 5000, 'the denial logged with its reason');
        assert.match(await dig(lab, 'AAAA', 'nope.lab.example'), /status: NXDOMAIN/);
        // issue 12 #3: out-of-zone names are forwarded for upstream.allow only (p1's fc00:12::/64), not for the client
        assert.match(await dig(lab, 'AAAA', 'example.com'), /status: REFUSED/);
        assert.match(await dig(lab, 'AAAA', 'www.other.example'), /status: REFUSED/);
        await ctl.out.next((l) => l['rcode'] === 'REFUSED' && /not in upstream\.allow/.test(String(l['reason'])), 5000, 'the refusal logged with its reason');
        const forwarded = await digFrom(lab, 'p1', 'AAAA', 'www.other.example');
        assert.match(forwarded, /status: NOERROR/);
        assert.match(forwarded, /^www\.other\.example\.\s+\d+\s+IN\s+AAAA\s+2001:db8::77$/m);

        // malformed packets, sent raw from the client: a cut-off question → FORMERR; a runt → silence
        const raw = `
          const s = require('dgram').createSocket('udp6');
          const got = [];
          s.on('message', (m) => got.push(m.toString('hex')));
          s.send(Buffer.from('abcd01000001000000000000056c6162656c', 'hex'), 53, '${CTL}');
          s.send(Buffer.from('0102', 'hex'), 53, '${CTL}');
          setTimeout(() => { console.log(JSON.stringify(got)); s.close(); }, 500);`;
        const r = await lab.exec('client', [process.execPath, '-e', raw], { timeoutMs: 10000 });
        assert.deepEqual(JSON.parse(r.stdout), ['abcd81010000000000000000'], `FORMERR with the id, nothing for the runt: ${r.stdout}${r.stderr}`);

        // 40 AAAA records do not fit in 512 bytes: TC over UDP; dig +tcp gets them all
        const tc = await dig(lab, 'AAAA', 'big.lab.example', '+noedns', '+ignore');
        assert.match(tc, /flags: qr aa tc rd;/);
        assert.match(tc, /ANSWER: 0,/);
        const viaTcp = await dig(lab, 'AAAA', 'big.lab.example', '+tcp');
        assert.match(viaTcp, /ANSWER: 40,/);
        const retried = await dig(lab, 'AAAA', 'big.lab.example');
        assert.match(retried, /Truncated, retrying in TCP mode/);
        assert.match(retried, /ANSWER: 40,/);
        // issue 12 #3: a client's EDNS size does not raise a UDP answer past 1232 bytes (1764 before)
        // (dig 9.18 sends its default for +bufsize=65535: 16384 is the largest it passes on as it is)
        const amp = await dig(lab, 'AAAA', 'big.lab.example', '+bufsize=16384', '+ignore', '+qr');
        assert.match(amp, /udp: 16384/);
        assert.match(amp, /flags: qr aa tc rd;/);
        const rcvd = Number(/MSG SIZE\s+rcvd: (\d+)/.exec(amp)?.[1]);
        assert.ok(rcvd > 0 && rcvd <= 1232, `${rcvd} bytes over UDP`);
        // the controller is still up and answering
        assert.match(await dig(lab, 'AAAA', 'plain.lab.example', '+tcp'), /status: NOERROR/);
      } finally {
        assert.equal(await ctl.stop(), 0);
        assert.equal(await upstream.stop(), 0);
      }
    });
  });

  test('srv6pipes resolve → the path → a connection through p1 and p2 to the server', async () => {
    await withLab('fig1', async (lab) => {
      const ctl = await startController(lab);
      const fns = ['{ id: 1, function: copy }', '{ id: 2, function: xor }'];
      const p1 = await startProxy(lab, 'p1', proxyYaml('fc00:a::/80', fns));
      const p2 = await startProxy(lab, 'p2', proxyYaml('fc00:b::/80', fns));
      const echo = await startServer(lab, 'server', ['--port', '9000', '--echo']);
      try {
        const text = await lab.exec('client', [process.execPath, BIN, 'resolve', 'plain.lab.example', '--functions', 'xor,xor', '--controller', CTL]);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /^plain\.lab\.example fc00:2::2\n {2}path: fc00:a::2:0:5a → fc00:b::2:0:5a → fc00:2::2\n$/);

        const r = await lab.exec('client', [process.execPath, BIN, 'resolve', 'plain.lab.example', '--functions', 'xor,xor', '--controller', `[${CTL}]:53`, '--json']);
        assert.equal(r.code, 0, r.stderr);
        const res = JSON.parse(r.stdout) as { rcode: string; addresses: string[]; paths: { destination: string; segments: string[] }[] };
        assert.equal(res.rcode, 'NOERROR');
        const path = res.paths[0]!;
        const waypoints = path.segments.slice(0, -1);
        const c = await runClient(lab, 'client', ['--host', path.destination, '--port', '9000', '--segments', waypoints.join(','), '--send', String(1 << 20)]);
        assert.equal(c.error, undefined);
        assert.equal(c.received, 1 << 20);
        assert.equal(c.sha256Received, c.sha256Sent, 'xor on p1 and xor on p2 cancel out, both ways');
        const conn = await echo.out.next((l) => l['event'] === 'conn');
        assert.equal(conn['remote'], 'fc00:1::2', 'the server sees the client address');
        assert.equal(conn['sha256Received'], c.sha256Sent, 'the server got plaintext');
        for (const p of ['p1', 'p2']) {
          const st = JSON.parse((await lab.exec(p, [process.execPath, BIN, 'stats', '--json'])).stdout) as { functions: { functionId: number; flowsTotal: number }[] };
          assert.equal(st.functions.find((f) => f.functionId === 2)?.flowsTotal, 1, `${p} applied xor to the flow`);
        }

        // the library: resolveAndConnect() (what `srv6pipes connect --resolve` calls)
        const lib = join(ROOT, 'dist', 'src', 'client', 'resolve.js');
        const script = `
          import { resolveAndConnect } from ${JSON.stringify(lib)};
          const { socket, host, segments } = await resolveAndConnect({ name: 'plain.lab.example', port: 9000, functions: ['xor', 'xor'], controller: '${CTL}' });
          const got = [];
          socket.on('data', (c) => got.push(c));
          socket.on('end', () => { console.log(JSON.stringify({ host, segments, echo: Buffer.concat(got).toString() })); socket.end(); });
          socket.end('hello through two xors');
          try { await resolveAndConnect({ name: 'denied.lab.example', port: 9000, controller: '${CTL}' }); } catch (e) { console.log(JSON.stringify({ denied: e.code })); }`;
        const lr = await lab.exec('client', [process.execPath, '--input-type=module', '-e', script], { timeoutMs: 20000 });
        const lines = lr.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
        assert.deepEqual(lines.find((l) => 'denied' in l), { denied: 'DNS_REFUSED' }, lr.stderr);
        assert.deepEqual(lines.find((l) => 'echo' in l), { host: 'fc00:2::2', segments: ['fc00:a::2:0:5a', 'fc00:b::2:0:5a'], echo: 'hello through two xors' }, lr.stderr);

        // the CLI: srv6pipes connect --resolve NAME PORT --functions …
        const nc = await lab.exec('client', [process.execPath, BIN, 'connect', '--resolve', 'plain.lab.example', '9000', '--functions', 'xor,xor', '--controller', CTL], { input: 'netcat over a resolved path\n', timeoutMs: 20000 });
        assert.equal(nc.code, 0, nc.stderr);
        assert.equal(nc.stdout, 'netcat over a resolved path\n');
        assert.match(nc.stderr, /via fc00:a::2:0:5a → fc00:b::2:0:5a/);
        const ncDenied = await lab.exec('client', [process.execPath, BIN, 'connect', '--resolve', 'denied.lab.example', '9000', '--controller', CTL], { input: 'x' });
        assert.equal(ncDenied.code, 1);
        assert.match(ncDenied.stderr, /DNS_REFUSED/);

        // refused: the CLI says so and exits 1
        const denied = await lab.exec('client', [process.execPath, BIN, 'resolve', 'denied.lab.example', '--controller', CTL]);
        assert.equal(denied.code, 1);
        assert.match(denied.stderr, /REFUSED/);
      } finally {
        echo.stop();
        assert.equal(await p1.stop(), 0);
        assert.equal(await p2.stop(), 0);
        assert.equal(await ctl.stop(), 0);
      }
    });
  });
});
