/**
 * A client that reconnects from the same source port right after its connection closed (issue 12,
 * item 21), in the Fig. 5 lab (client — m1 — server, a proxy on m1). The server closes first, so the
 * proxy's client-facing socket does the active close and holds TIME_WAIT for
 * `[server]:port ↔ [client]:port`. Interception assigns the next SYN to the listener while its
 * destination is still the SID, so the kernel's TIME_WAIT handling for a new SYN never runs and,
 * without the proxy releasing that TIME_WAIT, the SYN is dropped for up to 60 s.
 * An unmodified client (node's net.connect with a fixed localPort) is steered by a host route
 * (`encap seg6 mode inline`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { JsonLines, startProxy, withLab } from '../helpers/harness.js';

const SERVER = 'fc00:2::2';
const CLIENT = 'fc00:1::2';
const PORT = 8080;
const CLIENT_PORT = 40123;
const ROUNDS = 6;

const PROXY = ['workers: 2', 'locators: [ { prefix: "fc00:a::/80" } ]', 'functions: [ { id: 1, function: copy } ]', 'timeouts: { connect: 2s, drain: 2s }'].join('\n');

/** A server that sends one line naming the client's port and then closes first (half-close: it waits for the client's FIN). */
const SERVER_JS = `
const net = require('node:net');
net.createServer({ allowHalfOpen: true }, (s) => {
  s.on('data', () => {});
  s.on('end', () => s.destroy());
  s.on('error', () => {});
  s.end('hello ' + s.remoteAddress + ' ' + s.remotePort + '\\n');
}).listen({ port: ${PORT}, host: '::', ipv6Only: true }, () => console.log(JSON.stringify({ event: 'listening' })));
`;

/**
 * ROUNDS connections from the same address and port, each started as soon as the previous one has
 * closed (a retry only while the kernel still holds the client's own old socket: EADDRINUSE /
 * EADDRNOTAVAIL for a few ms). One JSON line per round: the line received or the error.
 */
const CLIENT_JS = `
const net = require('node:net');
const once = () => new Promise((resolve) => {
  const t0 = Date.now();
  const s = net.connect({ host: '${SERVER}', port: ${PORT}, localAddress: '${CLIENT}', localPort: ${CLIENT_PORT}, family: 6 });
  let got = '';
  const timer = setTimeout(() => { s.destroy(); resolve({ error: 'ETIMEDOUT', ms: Date.now() - t0 }); }, 5000);
  s.on('data', (d) => (got += d));
  s.on('error', (e) => { clearTimeout(timer); resolve({ error: e.code, ms: Date.now() - t0 }); });
  s.on('close', () => { clearTimeout(timer); resolve({ line: got.trim(), ms: Date.now() - t0 }); });
});
(async () => {
  for (let round = 0; round < ${ROUNDS}; round++) {
    let r;
    for (let tries = 0; tries < 50; tries++) {
      r = await once();
      if (r.error !== 'EADDRINUSE' && r.error !== 'EADDRNOTAVAIL') break;
      await new Promise((res) => setTimeout(res, 10));
    }
    console.log(JSON.stringify({ round, ...r }));
  }
})();
`;

async function steerClient(lab: Lab): Promise<void> {
  const r = await lab.exec('client', ['ip', '-6', 'route', 'add', `${SERVER}/128`, 'encap', 'seg6', 'mode', 'inline', 'segs', 'fc00:a::1:0:0', 'via', 'fc00:1::1', 'dev', 'eth0']);
  assert.equal(r.code, 0, r.stderr);
}

/**
 * Under sk_lookup interception a new SYN meets the TIME_WAIT socket in TCP's own lookup
 * (TCP_TW_SYN), so no reconnect waits for a SYN retransmission (≥ 1 s, the failure mode): each
 * round must connect well under that. The bound is generous for a loaded 2-vCPU machine.
 */
const IMMEDIATE_MS = 800;

const MODES = [
  { intercept: 'tproxy', nativeRelay: false, title: 'tproxy interception: the proxy destroys its TIME_WAIT' },
  { intercept: 'sklookup', nativeRelay: false, title: 'sk_lookup interception: TCP lets the SYN replace the TIME_WAIT, every reconnect immediate' },
  { intercept: 'tproxy', nativeRelay: true, title: 'tproxy interception, the native relay: its thread destroys the TIME_WAIT' },
] as const;

describe('TIME_WAIT at the proxy and a reused client port (fig5 lab)', () => {
  for (const mode of MODES) test(`the server closes first; the client reconnects at once from the same port, every time (${mode.title})`, async (t) => {
    await withLab('fig5', async (lab) => {
      await steerClient(lab);
      const server = lab.spawn('server', [process.execPath, '-e', SERVER_JS], { stdio: ['ignore', 'pipe', 'inherit'] });
      const proxy = await startProxy(lab, 'm1', `${PROXY}\nnetconf: { intercept: ${mode.intercept} }${mode.nativeRelay ? '\nnativeRelay: {}' : ''}`);
      try {
        await new JsonLines(server).next((l) => l['event'] === 'listening', 10000, 'the server');
        const run = await lab.exec('client', [process.execPath, '-e', CLIENT_JS], { timeoutMs: 60000 });
        const rounds = run.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { round: number; line?: string; error?: string; ms: number });
        assert.equal(rounds.length, ROUNDS, run.stdout + run.stderr);
        t.diagnostic(`rounds (ms each): ${rounds.map((r) => r.ms).join(', ')}`);
        for (const r of rounds) {
          // relayed by the proxy: the server saw the client's address (the onward port is the proxy's)
          assert.match(r.line ?? '', new RegExp(`^hello ${CLIENT} \\d+$`), `round ${r.round}: ${JSON.stringify(r)}\n${proxy.out.text.filter((l) => l.includes('flow')).join('\n')}`);
        }
        const st = JSON.parse((await lab.exec('m1', ['curl', '-s', 'http://127.0.0.1:7778/stats'])).stdout) as { accepted: number };
        assert.equal(st.accepted, ROUNDS, 'every round went through the proxy');
        if (mode.intercept === 'sklookup') {
          for (const r of rounds) assert.ok(r.ms < IMMEDIATE_MS, `round ${r.round} took ${r.ms} ms: a SYN was dropped and retransmitted`);
          // the proxy kept its TIME_WAIT (no SOCK_DESTROY in this mode): the kernel itself let each new SYN replace it
          const ss = await lab.exec('m1', ['ss', '-Htn', 'state', 'time-wait', `dst [${CLIENT}]:${CLIENT_PORT}`]);
          assert.match(ss.stdout, new RegExp(`${SERVER.replace(/:/g, ':')}\\]?:${PORT}`), `a TIME_WAIT socket for the client port: ${ss.stdout}`);
        }
      } finally {
        await proxy.stop();
        server.kill('SIGTERM');
      }
    });
  });
});
