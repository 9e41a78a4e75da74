/**
 * The MPTCP converter pair (docs/mptcp.md) in the `mptcp` lab: client — cp ═ xdsl 20 Mb/s | lte
 * 10 Mb/s ═ op — server. cp converts the client's TCP flow to one MPTCP connection over both uplinks
 * (the userspace path manager adds the lte subflow per connection); op converts it back to TCP from
 * the client's address. Bond beats the best single link, backup keeps lte idle until xdsl fails,
 * low-delay moves the data to the lower-RTT uplink even when it is not the first.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Lab } from '../../src/lab/index.js';
import { readExample } from '../../src/config/examples.js';
import { mptcpSegments } from '../../src/demo/bonding.js';

const MPTCP_CP_YAML = readExample('mptcp-cp.yaml');
const MPTCP_OP_YAML = readExample('mptcp-op.yaml');
import { BIN, runClient, startProxy, startServer, withLab, type ClientResult, type PeerServer } from '../helpers/harness.js';

const MB = 1 << 20;
const XDSL_MBPS = 20; // the best single link's shaped rate (mptcp.yaml)
async function txBytes(lab: Lab, host: string, iface: string): Promise<number> {
  const r = await lab.exec(host, ['cat', `/sys/class/net/${iface}/statistics/tx_bytes`]);
  return Number(r.stdout.trim());
}

function assertIntact(r: ClientResult, conn: Record<string, unknown>, bytes: number, port: number): void {
  assert.equal(r.error, undefined, `client error: ${r.error}`);
  assert.equal(conn['received'], bytes, 'the server received every byte');
  assert.equal(conn['sha256Received'], r.sha256Sent, 'the bytes are intact');
  assert.equal(conn['remote'], 'fc00:1::2', "the server sees the client's address");
  assert.equal(conn['localPort'], port, 'the destination port is kept');
}

describe('MPTCP converter pair (mptcp lab)', () => {
  test('bond beats the best link; backup keeps lte idle, then carries the flow when xdsl fails; low-delay prefers xdsl; a bad header is reset', async () => {
    await withLab('mptcp', async (lab) => {
      const op = await startProxy(lab, 'op', MPTCP_OP_YAML);
      const cp = await startProxy(lab, 'cp', MPTCP_CP_YAML);
      // one server per phase, so each phase reads its own connection line
      const servers = await Promise.all([8080, 8081, 8082, 8083].map((port) => startServer(lab, 'server', ['--port', String(port)])));
      const [server, server2, server3, server4] = servers as [PeerServer, PeerServer, PeerServer, PeerServer];
      // half-close and resets cross the pair as on any hop: a server that answers only after the
      // client's FIN, and one that resets mid-stream
      servers.push(await startServer(lab, 'server', ['--port', '8084', '--after-eof', '--reply', String(MB)]));
      servers.push(await startServer(lab, 'server', ['--port', '8085', '--reset-after-bytes', String(MB)]));
      const server6 = await startServer(lab, 'server', ['--port', '8086']);
      const server7 = await startServer(lab, 'server', ['--port', '8087', '--reply', String(4 * MB), '--data', 'text']);
      servers.push(server6, server7);
      try {
        // bond: both uplinks carry data
        const size = 6 * MB;
        const lte0 = await txBytes(lab, 'cp', 'eth2');
        const bond = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8080', '--segments', mptcpSegments(0), '--send', String(size)]);
        const c1 = await server.out.next((l) => l['event'] === 'conn');
        assertIntact(bond, c1, size, 8080);
        const lte = (await txBytes(lab, 'cp', 'eth2')) - lte0;
        const mbps = (size * 8) / (bond.ms / 1000) / 1e6;
        console.log(`bond: ${mbps.toFixed(1)} Mb/s, lte carried ${(lte / MB).toFixed(2)} MiB of ${size / MB}`);
        assert.ok(lte > size / 5, `lte carried ${lte} bytes in bond mode`);
        assert.ok(mbps > 1.1 * XDSL_MBPS, `bond ${mbps.toFixed(1)} Mb/s is not above the best single link (${XDSL_MBPS} Mb/s)`);

        // backup: lte carries (almost) nothing while xdsl is up
        const lte1 = await txBytes(lab, 'cp', 'eth2');
        const backup = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8081', '--segments', mptcpSegments(1), '--send', String(2 * MB)]);
        const c2 = await server2.out.next((l) => l['event'] === 'conn');
        assertIntact(backup, c2, 2 * MB, 8081);
        const idle = (await txBytes(lab, 'cp', 'eth2')) - lte1;
        console.log(`backup: lte carried ${idle} bytes of ${2 * MB}`);
        assert.ok(idle < 64 * 1024, `lte carried ${idle} bytes while xdsl was up`);

        // low-delay with lte (20 ms) as the first uplink: once both subflows have an RTT, xdsl (5 ms)
        // carries the data and lte stands by
        const lte3 = await txBytes(lab, 'cp', 'eth2');
        const fast = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8083', '--segments', mptcpSegments(2, 8), '--send', String(4 * MB)]);
        const c4 = await server4.out.next((l) => l['event'] === 'conn');
        assertIntact(fast, c4, 4 * MB, 8083);
        const slow = (await txBytes(lab, 'cp', 'eth2')) - lte3;
        console.log(`low-delay: lte (the first uplink) carried ${(slow / MB).toFixed(2)} MiB of 4`);
        assert.ok(slow < (4 * MB) / 6, `lte carried ${slow} bytes in low-delay mode`);

        const halfClosed = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8084', '--segments', mptcpSegments(0), '--send', String(MB)]);
        assert.equal(halfClosed.error, undefined, JSON.stringify(halfClosed));
        assert.equal(halfClosed.received, MB, 'the reply sent after the client’s FIN came back over MPTCP');
        const reset = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8085', '--segments', mptcpSegments(0), '--send', String(4 * MB)]);
        assert.equal(reset.error, 'ECONNRESET', `the server's reset reached the client: ${JSON.stringify(reset)}`);

        // a return-path TLV crosses the converter pair in the header: op compresses the replies (its
        // entry names compress), cp decompresses them (decompress), upstream stays as it was
        const [x4, l4] = [await txBytes(lab, 'op', 'eth0'), await txBytes(lab, 'op', 'eth1')];
        const packed = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8087', '--segments', mptcpSegments(0), '--return-path', 'fc00:b::3:0:0,fc00:a::4:0:0', '--send', '1000']);
        const c7 = await server7.out.next((l) => l['event'] === 'conn');
        assert.equal(packed.error, undefined, JSON.stringify(packed));
        assert.equal(packed.sha256Received, c7['sha256Sent'], 'the replies arrive intact');
        const down = (await txBytes(lab, 'op', 'eth0')) - x4 + (await txBytes(lab, 'op', 'eth1')) - l4;
        console.log(`return path over MPTCP: the uplinks carried ${(down / MB).toFixed(2)} MiB for 4 MiB of text`);
        assert.ok(down < MB, `the bonded links carried ${down} bytes of replies: not compressed`);

        // a malformed converter header: op resets the connection, logs and counts why
        const bad = await runClient(lab, 'cp', ['--host', 'fc00:b::1:0:0', '--port', '7780', '--send', '4096']);
        assert.ok(bad.error === 'ECONNRESET' || bad.error === 'EPIPE', `garbage got ${bad.error ?? 'no error'}`);
        await op.out.next((l) => l['msg'] === 'flow rejected' && l['code'] === 'CONVERT_BAD_VERSION', 5000, 'the rejection log line');
        // only cp's uplinks may open converted flows: the client itself is refused before any header
        const forbidden = await runClient(lab, 'client', ['--host', 'fc00:b::1:0:0', '--port', '7780', '--send', '4096']);
        assert.ok(forbidden.error !== undefined, `a converter connection from the client got ${JSON.stringify(forbidden)}`);
        await op.out.next((l) => l['msg'] === 'flow rejected' && l['code'] === 'CONVERT_FORBIDDEN', 5000, 'the refusal log line');
        const stats = JSON.parse((await lab.exec('op', [process.execPath, BIN, 'stats', '--json'])).stdout) as { rejected: Record<string, number> };
        assert.equal(stats.rejected['CONVERT_BAD_VERSION'], 1);
        assert.equal(stats.rejected['CONVERT_FORBIDDEN'], 1);
        // failover: xdsl goes down mid-transfer; the flow completes over lte, intact
        const lte2 = await txBytes(lab, 'cp', 'eth2');
        const running = runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8082', '--segments', mptcpSegments(1), '--send', String(4 * MB)]);
        await new Promise((r) => setTimeout(r, 600));
        await lab.exec('cp', ['ip', 'link', 'set', 'eth1', 'down']);
        const failed = await running;
        const c3 = await server3.out.next((l) => l['event'] === 'conn');
        assertIntact(failed, c3, 4 * MB, 8082);
        const moved = (await txBytes(lab, 'cp', 'eth2')) - lte2;
        console.log(`failover: lte carried ${(moved / MB).toFixed(2)} MiB of 4 in ${failed.ms} ms`);
        assert.ok(moved > MB, `lte carried only ${moved} bytes after xdsl went down`);

        // while xdsl is down, a new flow starts on lte (the first uplink that is up)
        const later = await runClient(lab, 'client', ['--host', 'fc00:2::2', '--port', '8086', '--segments', mptcpSegments(1), '--send', String(MB)]);
        assertIntact(later, await server6.out.next((l) => l['event'] === 'conn'), MB, 8086);

      } catch (e) {
        console.log(`cp:\n${cp.out.text.join('\n')}\nop:\n${op.out.text.join('\n')}`);
        throw e;
      } finally {
        for (const s of servers) s.stop();
        await cp.stop();
        await op.stop();
      }
    });
  });
});
