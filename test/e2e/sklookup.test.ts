/**
 * The sk_lookup interception mode (`netconf: { intercept: sklookup }`, src/proxy/sklookup.ts) in the
 * Fig. 5 lab (client — m1 — server, the proxy on m1): what `--dry-run` shows, the own-prefix trie
 * following m1's addresses (the host's own services keep the normal lookup), and a killed worker
 * (the listener in the first slot gone: the next slot takes the SYNs at once).
 * TIME_WAIT and a reused client port under this mode: test/e2e/timewait.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { BIN, JsonLines, startProxy, withLab, writeConfig } from '../helpers/harness.js';

const SERVER = 'fc00:2::2';
const CLIENT = 'fc00:1::2';
const PORT = 8080;
/** an address added to m1 while the proxy runs, and a service of m1's own on it */
const NEW_ADDRESS = 'fc00:1::99';
const OWN_PORT = 9000;

const PROXY = ['workers: 2', 'locators: [ { prefix: "fc00:a::/80" } ]', 'functions: [ { id: 1, function: copy } ]', 'timeouts: { connect: 2s, drain: 2s }', 'netconf: { intercept: sklookup }'].join('\n');

/** A server that says hello (naming the peer's address) and closes. */
const BANNER_JS = (host: string, port: number, word: string): string => `
const net = require('node:net');
net.createServer((s) => { s.on('error', () => {}); s.end('${word} ' + s.remoteAddress + '\\n'); })
  .listen({ port: ${port}, host: '${host}', ipv6Only: true }, () => console.log(JSON.stringify({ event: 'listening' })));
`;

/** One connection; prints {line} or {error}. */
const CONNECT_JS = (host: string, port: number): string => `
const net = require('node:net');
const s = net.connect({ host: '${host}', port: ${port}, family: 6 });
let got = '';
const timer = setTimeout(() => { s.destroy(); console.log(JSON.stringify({ error: 'ETIMEDOUT' })); }, 5000);
s.on('data', (d) => (got += d));
s.on('error', (e) => { clearTimeout(timer); console.log(JSON.stringify({ error: e.code })); });
s.on('close', (hadError) => { clearTimeout(timer); if (!hadError) console.log(JSON.stringify({ line: got.trim() })); });
`;

async function connect(lab: Lab, host: string, port: number): Promise<{ line?: string; error?: string }> {
  const r = await lab.exec('client', [process.execPath, '-e', CONNECT_JS(host, port)], { timeoutMs: 15000 });
  return JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { line?: string; error?: string };
}

async function steerClient(lab: Lab): Promise<void> {
  const r = await lab.exec('client', ['ip', '-6', 'route', 'add', `${SERVER}/128`, 'encap', 'seg6', 'mode', 'inline', 'segs', 'fc00:a::1:0:0', 'via', 'fc00:1::1', 'dev', 'eth0']);
  assert.equal(r.code, 0, r.stderr);
}

async function banner(lab: Lab, host: string, listen: string, port: number, word: string): Promise<() => void> {
  const child = lab.spawn(host, [process.execPath, '-e', BANNER_JS(listen, port, word)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new JsonLines(child).next((l) => l['event'] === 'listening', 10000, `${word} server`);
  return () => void child.kill('SIGTERM');
}

describe('sk_lookup interception (fig5 lab)', () => {
  test('--dry-run shows the ruleset without tproxy, the maps and the program, and changes nothing', async () => {
    await withLab('fig5', async (lab) => {
      const cfg = writeConfig(PROXY);
      const r = await lab.exec('m1', [process.execPath, BIN, 'proxy', '--config', cfg, '--dry-run']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /tproxy/);
      assert.match(r.stdout, /meta mark & 0x1000000 == 0x1000000 accept/);
      assert.match(r.stdout, /bpf map own: LPM trie, 4096 entries max: fc00:a::\/80/);
      assert.match(r.stdout, /bpf map listeners: SOCKMAP, 2 slot\(s\)/);
      assert.match(r.stdout, /call sk_assign/);
      assert.match(r.stdout, /pass: r0 = 1\n#\s+\d+: exit/);
      assert.doesNotMatch((await lab.exec('m1', ['nft', 'list', 'tables'])).stdout, /srv6pipes/);
    });
  });

  test('the host’s own addresses keep the normal lookup, including one added while the proxy runs', async () => {
    await withLab('fig5', async (lab) => {
      await steerClient(lab);
      const stops = [await banner(lab, 'server', '::', PORT, 'hello'), await banner(lab, 'm1', '::', OWN_PORT, 'own')];
      const proxy = await startProxy(lab, 'm1', PROXY);
      try {
        // through the proxy (the SYN to the server is delivered on m1 by the mark, the program assigns the listener)
        assert.deepEqual(await connect(lab, SERVER, PORT), { line: `hello ${CLIENT}` });
        // m1's own service on m1's address: not taken by the proxy
        assert.deepEqual(await connect(lab, 'fc00:1::1', OWN_PORT), { line: `own ${CLIENT}` });
        // a new address: the trie follows it (rtnetlink), so m1's service answers on it too
        const isUpdate = (l: Record<string, unknown>): boolean => l['msg'] === 'sk_lookup own prefixes updated';
        // the next trie update (not the ones logged at start)
        const nextUpdate = (what: string): Promise<Record<string, unknown>> => {
          const seen = proxy.out.count(isUpdate);
          return proxy.out.next(() => proxy.out.count(isUpdate) > seen, 10000, what).then(() => proxy.out.lines.filter(isUpdate).pop()!);
        };
        const updated = nextUpdate('the trie update');
        const add = await lab.exec('m1', ['ip', '-6', 'addr', 'add', `${NEW_ADDRESS}/64`, 'dev', 'eth0', 'nodad']);
        assert.equal(add.code, 0, add.stderr);
        assert.equal((await updated)['added'], 1);
        assert.deepEqual(await connect(lab, NEW_ADDRESS, OWN_PORT), { line: `own ${CLIENT}` });
        // and removed again
        const removed = nextUpdate('the trie removal');
        await lab.exec('m1', ['ip', '-6', 'addr', 'del', `${NEW_ADDRESS}/64`, 'dev', 'eth0']);
        assert.equal((await removed)['removed'], 1);
        const st = JSON.parse((await lab.exec('m1', ['curl', '-s', 'http://127.0.0.1:7778/stats'])).stdout) as { accepted: number };
        assert.equal(st.accepted, 1, 'only the steered connection went through the proxy');
      } finally {
        await proxy.stop();
        for (const s of stops) s();
      }
    });
  });

  test('a killed worker: the listener in the next slot takes new connections at once, the restarted worker registers again', async () => {
    await withLab('fig5', async (lab) => {
      await steerClient(lab);
      const stopServer = await banner(lab, 'server', '::', PORT, 'hello');
      const proxy = await startProxy(lab, 'm1', PROXY);
      try {
        const isRegistration = (l: Record<string, unknown>): boolean => l['msg'] === 'listener registered for sk_lookup';
        const registered = (slot: number, notPid?: number) => proxy.out.next((l) => isRegistration(l) && l['slot'] === slot && l['pid'] !== notPid, 15000, `slot ${slot} registered`);
        // both workers registered
        await proxy.out.next(() => proxy.out.count(isRegistration) >= 2, 15000, 'two registrations');
        assert.deepEqual(await connect(lab, SERVER, PORT), { line: `hello ${CLIENT}` });
        // kill the worker whose listener is in slot 0 now (the last to register there), the slot the program tries first
        const inSlot0 = proxy.out.lines.filter((l) => isRegistration(l) && l['slot'] === 0);
        const pid = Number(inSlot0[inSlot0.length - 1]!['pid']);
        const died = proxy.out.next((l) => l['msg'] === 'worker died; restarting it', 10000, 'the primary noticing the death');
        const again = registered(0, pid);
        process.kill(pid, 'SIGKILL');
        await died;
        // before the restarted worker is up: slot 1's listener answers
        assert.deepEqual(await connect(lab, SERVER, PORT), { line: `hello ${CLIENT}` });
        await again;
        assert.deepEqual(await connect(lab, SERVER, PORT), { line: `hello ${CLIENT}` });
      } finally {
        await proxy.stop();
        stopServer();
      }
    });
  });

  test('a worker killed just before stop: its restart does not keep the proxy alive', async () => {
    await withLab('fig5', async (lab) => {
      const proxy = await startProxy(lab, 'm1', PROXY);
      try {
        await proxy.out.next(() => proxy.out.count((l) => l['msg'] === 'listener registered for sk_lookup') >= 2, 15000, 'two registrations');
        const pid = Number(proxy.out.lines.find((l) => l['msg'] === 'listener registered for sk_lookup')!['pid']);
        const died = proxy.out.next((l) => l['msg'] === 'worker died; restarting it', 10000, 'the primary noticing the death');
        process.kill(pid, 'SIGKILL');
        await died;
        const code = await Promise.race([proxy.stop(), new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 20000).unref())]);
        assert.equal(code, 0, proxy.out.text.slice(-10).join('\n'));
      } finally {
        // a primary that hangs must not hold the lab: its workers drain when it is gone
        if (proxy.child.exitCode === null && proxy.child.signalCode === null) proxy.child.kill('SIGKILL');
        await proxy.stop();
      }
    });
  });
});
