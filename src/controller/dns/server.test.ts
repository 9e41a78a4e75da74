import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import YAML from 'yaml';
import { resolve } from '../client.js';
import { validateControllerConfig } from '../config.js';
import { FIG1_CONTROLLER_YAML } from '../example.js';
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
