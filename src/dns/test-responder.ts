/**
 * For tests only: a DNS responder on loopback (UDP and TCP on one port) that answers as a test says,
 * and can spoof a UDP answer from another port (exchange.test.ts, proxy/bindings.test.ts).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

export type Reply = (msg: Buffer) => Promise<void>;

/**
 * A DNS responder on loopback, UDP and TCP on one port. `onQuery` gets the query and a `reply` that
 * sends on the query's own transport (from the responder's port); `spoof` sends a UDP datagram to the
 * querier from another port of the same address.
 */
export async function responder(
  host: '::1' | '127.0.0.1',
  onQuery: (q: dnsPacket.DecodedPacket, transport: 'udp' | 'tcp', reply: Reply, spoof: Reply) => Promise<void> | void,
): Promise<{ port: number; asked: ('udp' | 'tcp')[]; close: () => Promise<void> }> {
  const type = host === '::1' ? 'udp6' : 'udp4';
  const asked: ('udp' | 'tcp')[] = [];
  const spoofer = dgram.createSocket(type);
  await new Promise<void>((r) => spoofer.bind(0, host, r));
  const sendFrom = (s: dgram.Socket, port: number, address: string): Reply => (msg) => new Promise<void>((r, j) => s.send(msg, port, address, (e) => (e ? j(e) : r())));
  for (;;) {
    const udp = dgram.createSocket(type);
    await new Promise<void>((r) => udp.bind(0, host, r));
    const port = udp.address().port;
    const tcp = net.createServer((c) => {
      let got = Buffer.alloc(0);
      c.on('error', () => undefined);
      c.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length < 2 || got.length < 2 + got.readUInt16BE(0)) return;
        const q = dnsPacket.decode(got.subarray(2, 2 + got.readUInt16BE(0)));
        asked.push('tcp');
        const frame = (msg: Buffer): Promise<void> => {
          const f = Buffer.alloc(2 + msg.length);
          f.writeUInt16BE(msg.length);
          msg.copy(f, 2);
          return new Promise((r) => c.write(f, () => r()));
        };
        void onQuery(q, 'tcp', frame, () => Promise.reject(new Error('no spoofing over TCP')));
      });
    });
    const listening = await new Promise<boolean>((r) => {
      tcp.once('error', () => r(false));
      tcp.listen(port, host, () => r(true));
    });
    if (!listening) {
      udp.close();
      continue; // that TCP port was taken: another one
    }
    udp.on('message', (msg, from) => {
      asked.push('udp');
      void onQuery(dnsPacket.decode(msg), 'udp', sendFrom(udp, from.port, from.address), sendFrom(spoofer, from.port, from.address));
    });
    return {
      port,
      asked,
      close: async () => {
        udp.close();
        spoofer.close();
        await new Promise<void>((r) => tcp.close(() => r()));
      },
    };
  }
}
