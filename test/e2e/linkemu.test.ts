/**
 * Emulated links end to end (root): a topology with `delay` and `loss` on a link. The link emulator
 * holds every frame for the delay in each direction, nftables drops the configured share, TCP
 * still delivers intact data across it, and `down` removes the middle namespace and the emulator.
 * Tolerances are wide (a loaded 2-core machine): RTT ≥ 2 × delay, not > 2 × delay + 60 ms, and a
 * loss count within ±5 σ of the configured rate.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { checkPing, expectedPath, parsePing, resolveNeighbours } from '../../src/bench/fig78.js';
import { Lab, labOfNamespace, parseTopology } from '../../src/lab/index.js';
import { isRunning } from '../../src/lab/services.js';

const isRoot = process.getuid?.() === 0;
const NAME = `b6le${process.pid.toString(36)}`.slice(0, 16);

const TOPO = `
name: linkemu
hosts:
  client: { routes: [ { to: default, via: "fc00:1::1" } ] }
  m1: { role: router }
  server: { routes: [ { to: default, via: "fc00:2::1" } ] }
links:
  - { a: [client, "fc00:1::2/64"], b: [m1, "fc00:1::1/64"], delay: 20ms }
  - { a: [m1, "fc00:2::1/64"], b: [server, "fc00:2::2/64"], loss: 5% }
`;

/** 1 MB of deterministic bytes, sent client → server over TCP; the server answers the sha256. */
const SERVER = `const h = require('crypto').createHash('sha256');
require('net').createServer((s) => { s.on('data', (d) => h.update(d)); s.on('end', () => s.end(h.digest('hex'))); }).listen(9000, '::', () => console.log('listening'));`;
const CLIENT = `const b = Buffer.alloc(1 << 20); for (let i = 0; i < b.length; i++) b[i] = (i * 7 + (i >> 9)) & 255;
const s = require('net').connect(9000, 'fc00:2::2', () => s.end(b)); let got = '';
s.on('data', (d) => (got += d)); s.on('close', () => { console.log(got); process.exit(0); }); s.on('error', (e) => { console.error(e.message); process.exit(2); });`;

function expectedHash(): string {
  const b = Buffer.alloc(1 << 20);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + (i >> 9)) & 255;
  return createHash('sha256').update(b).digest('hex');
}

function namespacesOfLab(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((ns) => labOfNamespace(ns) === NAME);
}

describe('emulated links (e2e)', { skip: !isRoot && 'needs root' }, () => {
  after(async () => {
    await Lab.down(NAME);
    assert.deepEqual(namespacesOfLab(), [], 'namespaces left behind');
  });

  test('delay and loss are applied within tolerance; TCP data crosses intact; down removes the emulator', async () => {
    const lab = await Lab.up(parseTopology(TOPO, 'linkemu.yaml'), { name: NAME });
    let emulatorPid: number | undefined;
    try {
      assert.ok(namespacesOfLab().includes(`s6p-${NAME}-_l0`), 'middle namespace of links[0]');
      // delay: every ping RTT at least 2 × 20 ms; loss: 5 % each way on links[1] → 9.75 % round trip
      const want = expectedPath([{ delay: '20ms', loss: '0%' }, { delay: '0ms', loss: '5%' }]);
      assert.equal(want.rttMs, 40);
      await resolveNeighbours(lab, 'client', 'fc00:2::2'); // a lost first NS would stall the train for 1 s
      const r = await lab.exec('client', ['ping', '-6', '-q', '-n', '-c', '400', '-i', '0.005', '-W', '3', 'fc00:2::2'], { timeoutMs: 60_000 });
      const ping = parsePing(r.stdout);
      assert.ok(ping, r.stdout + r.stderr);
      assert.ok(ping.minMs >= 40 * 0.99 - 0.2, `RTT min ${ping.minMs} ms < 40 ms`);
      assert.ok(ping.minMs <= 40 + 60, `RTT min ${ping.minMs} ms`);
      assert.equal(checkPing(ping, want), undefined);
      assert.ok(ping.sent - ping.received > 0, 'some pings were lost');

      // TCP through both the delay line and the loss (partial checksums must survive the emulator)
      const server = lab.spawn('server', [process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((res) => server.stdout!.once('data', () => res()));
      const c = await lab.exec('client', [process.execPath, '-e', CLIENT], { timeoutMs: 120_000 });
      assert.equal(c.code, 0, c.stderr);
      assert.equal(c.stdout.trim(), expectedHash());

      await new Promise((r) => setTimeout(r, 700)); // the emulator writes its stats every 250 ms
      const links = await lab.linkStatus();
      assert.deepEqual(links.map((l) => l.link), [0, 1]);
      const emu = links[0]!.emulator!;
      assert.equal(emu.delayUs, 20_000);
      for (const d of Object.values(emu.directions)) {
        assert.ok(d.txFrames > 300, `frames forwarded: ${d.txFrames}`);
        assert.equal(d.queueDrops + d.oversizeDrops + d.txErrors, 0, JSON.stringify(d));
      }
      const counters = Object.values(links[1]!.lossCounters!);
      const frames = counters.reduce((n, x) => n + x.frames, 0);
      const dropped = counters.reduce((n, x) => n + x.dropped, 0);
      assert.ok(frames > 800 && dropped > 0, `loss chains saw ${frames}, dropped ${dropped}`);
      assert.ok(Math.abs(dropped / frames - 0.05) < 0.05, `loss rate ${dropped / frames}`);
      emulatorPid = Lab.list().find((s) => s.name === NAME)?.services.find((s) => s.name === 'linkemu')?.pid;
      assert.ok(emulatorPid);
    } finally {
      await lab.down();
    }
    assert.deepEqual(namespacesOfLab(), []);
    assert.equal(isRunning(emulatorPid!), false, 'the emulator ended with the lab (a zombie until Node reaps it counts as ended)');
  });
});
