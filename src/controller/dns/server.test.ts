import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import dnsPacket from 'dns-packet';
import YAML from 'yaml';
import { resolve } from '../../client/resolve.js';
import { validateControllerConfig } from '../config.js';
import { readExample } from '../../config/examples.js';

const FIG1_CONTROLLER_YAML = readExample('controller.yaml');
import { Resolver } from '../resolver.js';
import { startDnsServer, type DnsServer } from './server.js';

/** The Fig. 1 config, with the loopback client ::1 attached to p1 and allowed like fc00:1::/64. */
function loopbackConfig() {
  const doc = YAML.parse(FIG1_CONTROLLER_YAML) as { links: unknown[]; policies: { clients: unknown }[] };
  doc.links.push({ a: '::1/128', b: 'p1' });
  for (const p of doc.policies) p.clients = ['fc00:1::/64', '::1/128'];
  return validateControllerConfig(doc);
}

describe('DNS server on loopback (UDP and TCP)', () => {
  let server: DnsServer;
  let controller: string;
  before(async () => {
    server = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(loopbackConfig()), log: pino({ level: 'silent' }) });
    controller = `[::1]:${server.port}`;
  });
  after(() => server.close());

  test('resolve(): plain and SR answers over UDP', async () => {
    const plain = await resolve({ name: 'plain.lab.example', controller });
    assert.deepEqual(plain, { name: 'plain.lab.example', rcode: 'NOERROR', addresses: ['fc00:2::2'], paths: [], transport: 'udp', ttl: 30 });
    const sr = await resolve({ name: 'plain.lab.example', controller, functions: ['xor', 'xor'] });
    assert.deepEqual(sr.paths, [{ destination: 'fc00:2::2', segments: ['fc00:a::2:0:5a', 'fc00:b::2:0:5a', 'fc00:2::2'] }]);
    const req = await resolve({ name: 'server.lab.example', controller });
    assert.deepEqual(req.paths[0]!.segments, ['fc00:a::1:0:0', 'fc00:2::2']);
  });

  test('resolve(): REFUSED and NXDOMAIN come back as rcodes', async () => {
    assert.equal((await resolve({ name: 'denied.lab.example', controller })).rcode, 'REFUSED');
    assert.equal((await resolve({ name: 'plain.lab.example', controller, functions: ['compress'] })).rcode, 'REFUSED');
    assert.equal((await resolve({ name: 'nope.lab.example', controller })).rcode, 'NXDOMAIN');
  });

  test('a truncated UDP answer is retried over TCP; --tcp asks TCP directly', async () => {
    const big = await resolve({ name: 'big.lab.example', controller });
    // our client advertises 1232 bytes: 40 AAAA records (≈ 1.3 kB) do not fit
    assert.equal(big.transport, 'tcp');
    assert.equal(big.addresses.length, 40);
    const t = await resolve({ name: 'plain.lab.example', controller, tcp: true });
    assert.equal(t.transport, 'tcp');
    assert.deepEqual(t.addresses, ['fc00:2::2']);
  });

  test('garbage over UDP: FORMERR or silence, and the server goes on', async () => {
    const sock = dgram.createSocket('udp6');
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => sock.bind(0, '::1', () => r()));
    const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, server.port, '::1', () => r()));
    await send(Buffer.from([1, 2, 3]));
    await send(Buffer.from('0102010000010000000000000377777700', 'hex')); // a name with no type/class
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    assert.equal(replies.length, 1, 'the runt got no answer');
    assert.equal(replies[0]!.readUInt16BE(0), 0x0102);
    assert.equal(replies[0]!.readUInt16BE(2) & 0x800f, 0x8001, 'QR + FORMERR');
    assert.equal((await resolve({ name: 'plain.lab.example', controller })).rcode, 'NOERROR');
  });

  test('TCP: two queries on one connection; a runt length closes it', async () => {
    const q = (id: number) => {
      const b = Buffer.from('000001000001000000000000056c6162656c00001c0001', 'hex');
      b.writeUInt16BE(id, 0);
      const f = Buffer.alloc(2 + b.length);
      f.writeUInt16BE(b.length, 0);
      b.copy(f, 2);
      return f;
    };
    const sock = net.connect({ host: '::1', port: server.port });
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    await new Promise((r) => sock.once('connect', r));
    sock.write(Buffer.concat([q(11), q(12)]));
    await new Promise((r) => setTimeout(r, 200));
    const all = Buffer.concat(chunks);
    const first = all.readUInt16BE(0);
    assert.equal(all.readUInt16BE(2), 11);
    assert.equal(all.readUInt16BE(2 + first + 2), 12);
    sock.write(Buffer.from([0, 3, 1, 2, 3]));
    await new Promise((r) => sock.once('close', r));
  });
});

describe('DNS server over TCP: bounded (issue 12 #3)', () => {
  const frame = (id: number, name = 'big.lab.example') => {
    const b = dnsPacket.encode({ type: 'query', id, questions: [{ type: 'AAAA', name }] });
    const f = Buffer.alloc(2 + b.length);
    f.writeUInt16BE(b.length, 0);
    b.copy(f, 2);
    return f;
  };
  const counting = () => {
    const seen = { queries: 0, refused: [] as string[] };
    const log = pino({ level: 'info' }, { write: (s: string) => {
      const l = JSON.parse(s) as { msg?: string; reason?: string };
      if (l.msg === 'query') seen.queries++;
      if (l.msg === 'tcp connection refused') seen.refused.push(l.reason ?? '');
    } });
    return { seen, log };
  };
  const connect = async (port: number) => {
    const s = net.connect({ host: '::1', port });
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    return s;
  };
  const closed = (s: net.Socket, ms: number) =>
    new Promise<boolean>((r) => {
      if (s.destroyed || s.readyState === 'closed') return r(true);
      const t = setTimeout(() => r(false), ms);
      s.once('close', () => (clearTimeout(t), r(true)));
    });
  /** resolves once `read()` has stayed the same for `quietMs` */
  const settled = async (read: () => number, quietMs: number) => {
    let last = -1;
    while (read() !== last) {
      last = read();
      await new Promise((r) => setTimeout(r, quietMs));
    }
    return last;
  };

  test('a client that pipelines 6000 queries without reading: the server stops reading it, holds little; all answers come, in order, once it reads', async () => {
    const { seen, log } = counting();
    const server = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(loopbackConfig()), log, limits: { tcpQueriesInFlight: 4, tcpWriteBuffer: 4096, tcpIdleMs: 60_000 } });
    const sock = await connect(server.port);
    try {
      const N = 6000;
      sock.pause(); // the client does not read
      sock.write(Buffer.concat(Array.from({ length: N }, (_, i) => frame(i))));
      const answered = await settled(() => seen.queries, 1000);
      // the answers (1.5 kB each, 9 MB in all) fill the kernel's buffers, then the server stops reading
      assert.ok(answered < N, `the server answered ${answered} of ${N} queries without the client reading`);
      const held = server.stats().tcpBufferedBytes;
      // at most: the write buffer, 4 answers in flight, one read chunk (64 kB) and a partial frame
      assert.ok(held <= 4096 + 4 * 1600 + 65536 + 65537, `the server holds ${held} bytes for the connection`);
      const ids: number[] = [];
      let buf = Buffer.alloc(0);
      sock.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          ids.push(buf.readUInt16BE(2));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
      });
      sock.resume();
      // every answer, however slow the machine: wait for the count (the test's own timeout bounds it)
      while (ids.length < N && !sock.destroyed) await new Promise((r) => setTimeout(r, 100));
      assert.equal(ids.length, N, 'every query answered once the client reads');
      assert.ok(ids.every((id, i) => id === i), 'in order');
    } finally {
      sock.destroy();
      await server.close();
    }
  });

  test('connection caps: per client, then in all; the refused are closed at once, logged', async () => {
    const { seen, log } = counting();
    const perClient = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(loopbackConfig()), log, limits: { tcpConnections: 100, tcpConnectionsPerClient: 2 } });
    const total = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(loopbackConfig()), log, limits: { tcpConnections: 3, tcpConnectionsPerClient: 100 } });
    const open: net.Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) open.push(await connect(perClient.port));
      const third = await connect(perClient.port);
      assert.equal(await closed(third, 2000), true, 'the third connection from ::1 is closed');
      assert.equal(await closed(open[0]!, 200), false, 'the first two stay');
      for (let i = 0; i < 3; i++) open.push(await connect(total.port));
      assert.equal(await closed(await connect(total.port), 2000), true, 'the fourth in all is closed');
      assert.match(seen.refused.join('\n'), /limits\.tcpConnectionsPerClient/);
      // one closes: room for another
      open[0]!.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const again = await connect(perClient.port);
      open.push(again);
      assert.equal(await closed(again, 300), false);
    } finally {
      for (const s of open) s.destroy();
      await perClient.close();
      await total.close();
    }
  });

  test('idle: a silent connection, and one that trickles bytes without a complete query, are closed after tcpIdle', async () => {
    const server = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(loopbackConfig()), log: pino({ level: 'silent' }), limits: { tcpIdleMs: 300 } });
    try {
      const silent = await connect(server.port);
      assert.equal(await closed(silent, 5000), true);
      // a length of 65535, then one byte every 100 ms: traffic, but never a complete query
      const trickle = await connect(server.port);
      trickle.write(Buffer.from([0xff, 0xff]));
      const timer = setInterval(() => !trickle.destroyed && trickle.write(Buffer.from([0])), 100);
      const byTrickle = await closed(trickle, 5000);
      clearInterval(timer);
      assert.equal(byTrickle, true);
    } finally {
      await server.close();
    }
  });

  test('malformed messages over TCP: FORMERR for each, the connection and server go on', async () => {
    const server = await startDnsServer({ address: '::1', port: 0, resolver: new Resolver(loopbackConfig()), log: pino({ level: 'silent' }) });
    const sock = await connect(server.port);
    try {
      const bad = [
        Buffer.from('abcd0100000100000000000003777777', 'hex'), // name runs off the end
        Buffer.from('abce01000001000000000000c00c001c0001', 'hex'), // a pointer to itself
        Buffer.from('abcf0100ffffffffffffffff00001c0001', 'hex'), // counts far larger than the data
      ];
      const frames = bad.map((b) => {
        const f = Buffer.alloc(2 + b.length);
        f.writeUInt16BE(b.length, 0);
        b.copy(f, 2);
        return f;
      });
      const got: Buffer[] = [];
      let buf = Buffer.alloc(0);
      sock.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          got.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
      });
      sock.write(Buffer.concat([...frames, frame(7, 'plain.lab.example')]));
      await settled(() => got.length, 300);
      assert.deepEqual(got.map((g) => [g.readUInt16BE(0), g.readUInt16BE(2) & 0x800f]), [[0xabcd, 0x8001], [0xabce, 0x8001], [0xabcf, 0x8001], [7, 0x8000]]);
    } finally {
      sock.destroy();
      await server.close();
    }
  });
});
