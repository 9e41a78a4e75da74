/**
 * Return traffic off the path (the `offpath` lab: client — r — server, proxies p and q hanging off r):
 *  - a flow through p breaks when the server's replies go straight to the client, and works when p
 *    tags its onward SRH with its return id and the server host runs `srv6pipes return-agent` — an
 *    unmodified server (lighttpd) and a peer with sha256 both ways; the SYN-ACK is steered too;
 *  - a chain of two proxies (returnHops); a return-path TLV carried across it with asymmetric
 *    compression; the Node.js server helper (reversed SRH, then the TLV); malformed TLVs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { BIN, runClient, startDaemon, startProxy, startServer, withLab, writeConfig } from '../helpers/harness.js';

const PROXY = (withReturn: boolean, locator = 'fc00:a', id = 17, hops: string[] = []): string =>
  [
    'workers: 1',
    `locators: [ { prefix: "${locator}::/80" } ]`,
    'functions: [ { id: 1, function: copy }, { id: 2, function: xor }, { id: 3, function: compress }, { id: 4, function: decompress } ]',
    ...(withReturn ? [`returnPath: { id: ${id}, sid: "${locator}::ffff" }`] : []),
    ...(hops.length ? [`returnHops: [ ${hops.join(', ')} ]`] : []),
    'timeouts: { connect: 1500ms, drain: 2s }',
  ].join('\n');

/**
 * A controller (run on r) that knows p's and q's return hops, and a policy for server.off.example:
 * relay unchanged through p then q (`pep-a`, `pep-b`: copy, by other names so that the walk takes
 * both), with a return path on which q compresses and p decompresses the replies.
 */
const OFFPATH_CONTROLLER = `
listen: { address: "::", port: 53 }
# the return agent on the server host asks for the return hops (a private lookup: issue 12 #4)
privateLookups: { allow: [ "fc00:2::/64" ] }
nodes:
  routers: [ r ]
  proxies:
    - { name: p, locators: [ { prefix: "fc00:a::/80" } ], functions: { pep-a: 1, decompress: 4 }, returnPath: { id: 17, sid: "fc00:a::ffff" } }
    - { name: q, locators: [ { prefix: "fc00:b::/80" } ], functions: { pep-b: 1, compress: 3 }, returnPath: { id: 18, sid: "fc00:b::ffff" } }
links:
  - { a: "fc00:1::/64", b: r }
  - { a: r, b: p }
  - { a: r, b: q }
  - { a: r, b: "fc00:2::/64" }
zones:
  off.example: { server: fc00:2::2 }
policies:
  - clients: "fc00:1::/64"
    destination: server.off.example
    require: [ pep-a, pep-b ]
    returnPath: { downstream: { pep-a: decompress, pep-b: compress } }
`;

async function marked(lab: Lab): Promise<number> {
  const r = await lab.exec('server', ['nft', 'list', 'table', 'ip6', 'srv6pipes_return']);
  return Number(/srh tag 17 .*counter packets (\d+)/.exec(r.stdout)?.[1] ?? -1);
}

describe('return traffic off the path (offpath lab)', () => {
  test('without return steering the flow fails; with the return id and the agent it works, SYN-ACK included', async () => {
    await withLab('offpath', async (lab) => {
      const server = await startServer(lab, 'server', ['--port', '8080', '--reply', String(1 << 20)]);
      try {
        // without: the server's SYN-ACK goes straight to the client, p's onward connect times out
        let proxy = await startProxy(lab, 'p', PROXY(false));
        const broken = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', 'fc00:a::1:0:0', '--send', '1000', '--timeout', '5000']);
        assert.ok(broken.error !== undefined || broken.received !== 1 << 20, `the flow must fail without return steering: ${JSON.stringify(broken)}`);
        assert.equal(await proxy.stop(), 0);

        // with: p tags its onward SRH with return id 17; the server host steers tag-17 connections back to p
        proxy = await startProxy(lab, 'p', PROXY(true));
        const agent = await startDaemon(lab, 'server', ['return-agent', '--hops', '17=fc00:a::ffff'], 'return agent started');
        try {
          const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', 'fc00:a::1:0:0', '--send', String(1 << 20)]);
          assert.equal(r.error, undefined, JSON.stringify(r));
          assert.equal(r.received, 1 << 20);
          const conn = await server.out.next((l) => l['event'] === 'conn' && l['received'] === 1 << 20, 10000, 'the server side');
          assert.equal(conn['sha256Received'], r.sha256Sent);
          assert.equal(conn['remote'], 'fc00:1::2', 'the server sees the client’s address');
          assert.ok((await marked(lab)) >= 1, 'the SYN carried tag 17');
          // the replies crossed p: p's interface carried the reply bytes encapsulated towards it
          const st = await lab.exec('p', ['curl', '-s', 'http://127.0.0.1:7778/stats']);
          assert.equal((JSON.parse(st.stdout) as { accepted: number }).accepted, 1);
          // an unmodified server: lighttpd
          await lab.exec('server', ['sh', '-c', 'mkdir -p /tmp/rt-www && head -c 300000 /dev/urandom > /tmp/rt-www/f && printf \'server.document-root = "/tmp/rt-www"\\nserver.port = 8081\\nserver.bind = "[::]"\\n\' > /tmp/rt-www/l.conf']);
          const httpd = lab.spawn('server', ['lighttpd', '-D', '-f', '/tmp/rt-www/l.conf'], { stdio: 'ignore' });
          try {
            // until it listens (as steer.test.ts waits for its lighttpd), not a fixed second
            for (let i = 0; !(await lab.exec('server', ['ss', '-Htln', 'sport = :8081'])).stdout.trim(); i++) {
              assert.ok(httpd.exitCode === null && i < 200, `lighttpd did not start (exit ${httpd.exitCode})`);
              await new Promise((res) => setTimeout(res, 50));
            }
            const get = await lab.exec('client', [process.execPath, '-e', `
              const { connect } = await import(${JSON.stringify(new URL('../../src/client/connect.js', import.meta.url).href)});
              const { createHash } = await import('node:crypto');
              const s = await connect({ host: 'fc00:2::2', port: 8081, segments: ['fc00:a::1:0:0'], timeoutMs: 5000 });
              s.end('GET /f HTTP/1.0\\r\\n\\r\\n');
              const parts = []; for await (const c of s) parts.push(c);
              const all = Buffer.concat(parts); const body = all.subarray(all.indexOf('\\r\\n\\r\\n') + 4);
              console.log(all.subarray(0, 12).toString(), body.length, createHash('sha256').update(body).digest('hex'));
            `, '--input-type=module'], { timeoutMs: 20000 });
            const want = (await lab.exec('server', ['sha256sum', '/tmp/rt-www/f'])).stdout.split(' ')[0];
            assert.equal(get.stdout.trim(), `HTTP/1.0 200 300000 ${want}`, get.stderr);
          } finally {
            httpd.kill('SIGTERM');
          }
        } finally {
          assert.equal(await agent.stop(), 0);
          await proxy.stop();
        }
        const left = await lab.exec('server', ['sh', '-c', 'nft list tables; ip -6 rule show; ip -6 route show table 20017']);
        assert.doesNotMatch(left.stdout, /srv6pipes_return|20017|encap/, 'the agent removed everything');
      } finally {
        server.stop();
      }
    });
  });

  test('a stock server (kernel defaults, seg6_enabled=0): the agent makes it accept the tagged SRH while it runs, and restores the defaults', async () => {
    await withLab('offpath', async (lab) => {
      const SEG6 = ['all', 'default', 'eth0'].map((n) => `/proc/sys/net/ipv6/conf/${n}/seg6_enabled`);
      const seg6 = async (): Promise<string> => (await lab.exec('stock', ['cat', ...SEG6])).stdout.split(/\s+/).filter(Boolean).join(',');
      assert.equal(await seg6(), '0,0,0', 'the lab left the kernel defaults');
      const server = await startServer(lab, 'stock', ['--port', '8080', '--reply', String(1 << 20)]);
      const proxy = await startProxy(lab, 'p', PROXY(true));
      const agent = await startDaemon(lab, 'stock', ['return-agent', '--hops', '17=fc00:a::ffff'], 'return agent started');
      try {
        // p sends an SRH (tag 17, its return SID as a visited segment) even though only the server is left
        const r = await runClient(lab, 'client', ['--host', 'fc00:5::2', '--port', '8080', '--segments', 'fc00:a::1:0:0', '--send', String(1 << 20)]);
        assert.equal(r.error, undefined, JSON.stringify(r));
        assert.equal(r.received, 1 << 20);
        const conn = await server.out.next((l) => l['event'] === 'conn' && l['received'] === 1 << 20, 10000, 'the server side');
        assert.equal(conn['sha256Received'], r.sha256Sent);
        assert.equal(conn['remote'], 'fc00:1::2');
        assert.equal(await seg6(), '1,1,1', 'the agent accepts SRHs on all, default and every interface');
      } finally {
        assert.equal(await agent.stop(), 0);
        await proxy.stop();
        server.stop();
      }
      assert.equal(await seg6(), '0,0,0', 'the agent put the old values back');
    });
  });

  test('the return-agent learns the return hops from the controller (TYPE 65283) and steers with them', async () => {
    await withLab('offpath', async (lab) => {
      const ctl = await startDaemon(lab, 'r', ['controller', '--config', writeConfig(OFFPATH_CONTROLLER)], 'controller started');
      const server = await startServer(lab, 'server', ['--port', '8080', '--reply', String(1 << 20)]);
      const proxy = await startProxy(lab, 'p', PROXY(true));
      const agent = await startDaemon(lab, 'server', ['return-agent', '--controller', '[fc00:2::1]:53', '--refresh', '1'], 'return agent started');
      try {
        const started = agent.out.text.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'return agent started')!;
        assert.deepEqual(started['hops'], [{ id: 17, sid: 'fc00:a::ffff' }, { id: 18, sid: 'fc00:b::ffff' }]);
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', 'fc00:a::1:0:0', '--send', String(1 << 20)]);
        assert.equal(r.error, undefined, JSON.stringify(r));
        assert.equal(r.received, 1 << 20);
        assert.ok((await marked(lab)) >= 1, 'the SYN carried tag 17');
        // the controller goes away: the agent says so at its next refresh and keeps its steering
        await ctl.stop();
        await agent.out.next((l) => l['msg'] === 'return hops: no answer from the controller; keeping the current ones', 8000, 'the refresh warning');
        const still = await lab.exec('server', ['ip', '-6', 'rule', 'show']);
        assert.match(still.stdout, /fwmark 0x10011 lookup 20017/);
      } finally {
        assert.equal(await agent.stop(), 0);
        await proxy.stop();
        server.stop();
        await ctl.stop();
      }
      const left = await lab.exec('server', ['sh', '-c', 'nft list tables; ip -6 rule show']);
      assert.doesNotMatch(left.stdout, /srv6pipes_return|0x10011/, 'the agent removed everything');
    });
  });

  test('all from the controller: the path, a return path with asymmetric compression, and the return hops', async () => {
    await withLab('offpath', async (lab) => {
      const size = 2 << 20;
      const ctl = await startDaemon(lab, 'r', ['controller', '--config', writeConfig(OFFPATH_CONTROLLER)], 'controller started');
      const server = await startServer(lab, 'server', ['--port', '8080', '--reply', String(size), '--data', 'text']);
      const p = await startProxy(lab, 'p', PROXY(true, 'fc00:a', 17));
      const q = await startProxy(lab, 'q', PROXY(true, 'fc00:b', 18, ['{ id: 17, sid: "fc00:a::ffff" }']));
      const agent = await startDaemon(lab, 'server', ['return-agent', '--controller', '[fc00:2::1]:53'], 'return agent started');
      try {
        const resolved = await lab.exec('client', [process.execPath, BIN, 'resolve', 'server.off.example', '--controller', 'fc00:1::1']);
        assert.match(resolved.stdout, /path: fc00:a::1:0:0 → fc00:b::1:0:0 → fc00:2::2\n {2}return path: fc00:b::3:0:0 → fc00:a::4:0:0/, resolved.stdout + resolved.stderr);
        const cli = await lab.exec('client', ['sh', '-c', `head -c 1000 /dev/zero | ${BIN} connect --resolve server.off.example 8080 --controller fc00:1::1 | sha256sum`], { timeoutMs: 30000 });
        const conn = await server.out.next((l) => l['event'] === 'conn', 10000, 'the server side');
        assert.equal(cli.stdout.split(' ')[0], conn['sha256Sent'], cli.stderr);
        assert.equal(conn['remote'], 'fc00:1::2');
        await new Promise((res) => setTimeout(res, 300));
        const st = JSON.parse((await lab.exec('q', ['curl', '-s', 'http://127.0.0.1:7778/stats'])).stdout) as { functions: { functionId: number; bytesDown: number }[] };
        const qDown = st.functions.find((f) => f.functionId === 1)?.bytesDown ?? -1;
        assert.ok(qDown > 0 && qDown < size / 4, `q compressed the replies, as the controller's return path said: ${qDown} of ${size}`);
      } finally {
        assert.equal(await agent.stop(), 0);
        await q.stop();
        await p.stop();
        server.stop();
        await ctl.stop();
      }
    });
  });

  test('a chain of two proxies off the path: q steers its replies back to p (returnHops), the server agent to q', async () => {
    await withLab('offpath', async (lab) => {
      const server = await startServer(lab, 'server', ['--port', '8080', '--reply', String(2 << 20)]);
      const p = await startProxy(lab, 'p', PROXY(true, 'fc00:a', 17));
      const q = await startProxy(lab, 'q', PROXY(true, 'fc00:b', 18, ['{ id: 17, sid: "fc00:a::ffff" }']));
      const agent = await startDaemon(lab, 'server', ['return-agent', '--hops', '18=fc00:b::ffff'], 'return agent started');
      try {
        // xor with the same key on p and q: an inverse pair, the server gets plaintext
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', 'fc00:a::2:0:33,fc00:b::2:0:33', '--send', String(2 << 20)]);
        assert.equal(r.error, undefined, JSON.stringify(r));
        assert.equal(r.received, 2 << 20);
        const conn = await server.out.next((l) => l['event'] === 'conn', 10000, 'the server side');
        assert.equal(conn['sha256Received'], r.sha256Sent);
        assert.equal(r.sha256Received, conn['sha256Sent']);
        const steered = await lab.exec('q', ['nft', 'list', 'table', 'ip6', 'srv6pipes_return']);
        assert.ok(Number(/srh tag 17 .*counter packets (\d+)/.exec(steered.stdout)?.[1] ?? 0) >= 1, steered.stdout);
      } finally {
        assert.equal(await agent.stop(), 0);
        await q.stop();
        await p.stop();
        server.stop();
      }
      const left = await lab.exec('q', ['sh', '-c', 'nft list tables; ip -6 rule show']);
      assert.doesNotMatch(left.stdout, /srv6pipes_return|0x10011/, 'q removed its return steering');
    });
  });

  test('a return-path TLV across two proxies: replies follow it, and it picks compression for the downstream direction only', async () => {
    await withLab('offpath', async (lab) => {
      const size = 2 << 20;
      const server = await startServer(lab, 'server', ['--port', '8080', '--reply', String(size), '--data', 'text']);
      const p = await startProxy(lab, 'p', PROXY(true, 'fc00:a', 17));
      const q = await startProxy(lab, 'q', PROXY(true, 'fc00:b', 18, ['{ id: 17, sid: "fc00:a::ffff" }']));
      const agent = await startDaemon(lab, 'server', ['return-agent', '--hops', '18=fc00:b::ffff'], 'return agent started');
      // count what reaches p addressed to its decompress SID (q's replies, when the TLV steers them)
      const nft = await lab.exec('p', ['nft', '-f', '-'], { input: 'table ip6 rt_count {\n chain pre {\n  type filter hook prerouting priority -300\n  ip6 daddr fc00:a::4:0:0 counter\n }\n}\n' });
      assert.equal(nft.code, 0, nft.stderr);
      const toDecompressSid = async (): Promise<number> =>
        Number(/counter packets (\d+)/.exec((await lab.exec('p', ['nft', 'list', 'table', 'ip6', 'rt_count'])).stdout)?.[1] ?? -1);
      const down = async (host: string): Promise<number> => {
        const st = JSON.parse((await lab.exec(host, ['curl', '-s', 'http://127.0.0.1:7778/stats'])).stdout) as { functions: { functionId: number; bytesDown: number }[] };
        return st.functions.find((f) => f.functionId === 1)?.bytesDown ?? 0;
      };
      const flow = async (extra: string[]) => {
        const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', 'fc00:a::1:0:0,fc00:b::1:0:0', '--send', '1000', ...extra]);
        assert.equal(r.error, undefined, JSON.stringify(r));
        assert.equal(r.received, size);
        const conn = await server.out.next((l) => l['event'] === 'conn', 10000, 'the server side');
        assert.equal(r.sha256Received, conn['sha256Sent'], 'the client gets the server’s bytes intact');
        assert.equal(conn['remote'], 'fc00:1::2');
        await new Promise((res) => setTimeout(res, 300)); // the flows' byte counts land when they close
      };
      try {
        // without a return path: copy both ways, q sends the reply plain, nothing is addressed to p's decompress SID
        await flow([]);
        const [q0, p0] = [await down('q'), await down('p')];
        assert.equal(q0, size);
        assert.equal(await toDecompressSid(), 0);
        // with: replies travel back through q's compress SID and p's decompress SID; upstream stays copy
        await flow(['--return-path', 'fc00:b::3:0:0,fc00:a::4:0:0']);
        const [q1, p1] = [(await down('q')) - q0, (await down('p')) - p0];
        assert.ok(q1 < size / 4, `q compressed the downstream bytes: ${q1} of ${size}`);
        assert.equal(p1, size, 'p decompressed them');
        assert.ok((await toDecompressSid()) > 10, 'q’s replies were sent to p’s SID named in the TLV');
      } finally {
        assert.equal(await agent.stop(), 0);
        await q.stop();
        await p.stop();
        server.stop();
      }
    });
  });

  test('a Node.js server with the server helper: replies follow the reversed SRH, or the return-path TLV; bad TLVs are refused', async () => {
    await withLab('offpath', async (lab) => {
      const p = await startProxy(lab, 'p', PROXY(true, 'fc00:a', 17));
      // the host steering takes the handshake (the SYN-ACK leaves before accept) to another SID of p's
      const agent = await startDaemon(lab, 'server', ['return-agent', '--hops', '17=fc00:a::fffe'], 'return agent started');
      const nft = await lab.exec('p', ['nft', '-f', '-'], {
        input: 'table ip6 rt_count {\n chain pre {\n  type filter hook prerouting priority -300\n  ip6 daddr fc00:a::ffff counter\n  ip6 daddr fc00:a::7:0:0 counter\n }\n}\n',
      });
      assert.equal(nft.code, 0, nft.stderr);
      const counts = async (): Promise<number[]> =>
        [...(await lab.exec('p', ['nft', 'list', 'table', 'ip6', 'rt_count'])).stdout.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
      const flow = async (port: number, serverArgs: string[], clientArgs: string[]) => {
        const server = await startServer(lab, 'server', ['--port', String(port), '--reply', String(1 << 20), ...serverArgs]);
        try {
          const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', String(port), '--segments', 'fc00:a::1:0:0', '--send', '1000', ...clientArgs]);
          assert.equal(r.error, undefined, JSON.stringify(r));
          const conn = await server.out.next((l) => l['event'] === 'conn', 10000, 'the server side');
          assert.equal(r.sha256Received, conn['sha256Sent']);
          assert.equal(conn['remote'], 'fc00:1::2');
          return conn;
        } finally {
          server.stop();
        }
      };
      try {
        // a plain server: everything follows the host steering
        await flow(8080, [], []);
        assert.deepEqual(await counts(), [0, 0]);
        // the helper reverses the SYN's SRH: p left its return SID fc00:a::ffff there as a visited segment
        const reversed = await flow(8081, ['--sr'], []);
        assert.equal(reversed['replyVia'], 'fc00:a::ffff');
        const [viaReversed] = await counts();
        assert.ok(viaReversed! > 10, `the server's replies were sent to p's return SID: ${viaReversed}`);
        // a return-path TLV from the client (here `srv6pipes connect --return-path`) takes precedence
        const server = await startServer(lab, 'server', ['--port', '8082', '--reply', String(1 << 20), '--sr']);
        try {
          const cli = await lab.exec('client', ['sh', '-c', `head -c 1000 /dev/zero | ${BIN} connect -s fc00:a::1:0:0 --return-path fc00:a::7:0:0 fc00:2::2 8082 | sha256sum`], { timeoutMs: 20000 });
          const conn = await server.out.next((l) => l['event'] === 'conn', 10000, 'the server side');
          assert.equal(conn['replyVia'], 'fc00:a::7:0:0');
          assert.equal(cli.stdout.split(' ')[0], conn['sha256Sent'], cli.stderr);
        } finally {
          server.stop();
        }
        assert.ok((await counts())[1]! > 10, 'the replies went to the SID the TLV named');
        // straight to the helper with a malformed TLV: reset, and the server is told why
        const helper = await startServer(lab, 'server', ['--port', '8083', '--sr']);
        try {
          const bad = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8083', '--tlvs', 'badreturn', '--send', '10']);
          assert.ok(bad.error !== undefined, JSON.stringify(bad));
          const rej = await helper.out.next((l) => l['event'] === 'rejected', 5000, 'the rejection');
          assert.equal(rej['code'], 'SRH_BAD_TLV');
        } finally {
          helper.stop();
        }
      } finally {
        assert.equal(await agent.stop(), 0);
        await p.stop();
      }
    });
  });

  test('a malformed return-path TLV: the flow is reset, the reason logged and counted, the proxy goes on', async () => {
    await withLab('offpath', async (lab) => {
      const server = await startServer(lab, 'server', ['--port', '8080', '--reply', '1000']);
      const proxy = await startProxy(lab, 'p', PROXY(false));
      try {
        for (const tlv of ['badreturn', 'bigreturn']) {
          const r = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', 'fc00:a::1:0:0', '--tlvs', tlv, '--send', '10']);
          assert.equal(r.error, 'ECONNRESET', JSON.stringify(r));
          const log = await proxy.out.next((l) => l['msg'] === 'flow rejected', 5000, 'the rejection');
          assert.equal(log['code'], 'SRH_BAD_TLV');
          assert.match(String(log['reason']), /return-path TLV value is (16|255) bytes/);
        }
        const st = await lab.exec('p', ['curl', '-s', 'http://127.0.0.1:7778/stats']);
        assert.equal((JSON.parse(st.stdout) as { rejected: Record<string, number> }).rejected['SRH_BAD_TLV'], 2);
      } finally {
        await proxy.stop();
        server.stop();
      }
    });
  });
});
