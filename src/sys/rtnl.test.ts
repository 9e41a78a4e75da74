import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressDumpRequest, parseAddrMessages, RTM_DELADDR, RTM_NEWADDR } from './rtnl.js';

function attr(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(4 + value.length, 0);
  h.writeUInt16LE(type, 2);
  return Buffer.concat([h, value, Buffer.alloc(((value.length + 3) & ~3) - value.length)]);
}

function msg(type: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, body]);
}

function ifaddr(family: number, ifindex: number, attrs: Buffer[]): Buffer {
  const b = Buffer.alloc(8);
  b[0] = family;
  b[1] = 64;
  b.writeUInt32LE(ifindex, 4);
  return Buffer.concat([b, ...attrs]);
}

const A = Buffer.from('fc000000000000010000000000000002', 'hex');
const PEER = Buffer.from('fc000000000000010000000000000009', 'hex');

test('the dump request: RTM_GETADDR, request|dump, AF_INET6', () => {
  const r = addressDumpRequest(7);
  assert.equal(r.length, 24);
  assert.equal(r.readUInt32LE(0), 24);
  assert.equal(r.readUInt16LE(4), 22);
  assert.equal(r.readUInt16LE(6), 0x301);
  assert.equal(r.readUInt32LE(8), 7);
  assert.equal(r[16], 10);
});

test('address messages: IFA_LOCAL before IFA_ADDRESS; IPv4 skipped; done and error kept', () => {
  const buf = Buffer.concat([
    msg(RTM_NEWADDR, 3, ifaddr(10, 2, [attr(1, A)])),
    msg(RTM_NEWADDR, 3, ifaddr(10, 3, [attr(1, PEER), attr(2, A)])),
    msg(RTM_NEWADDR, 3, ifaddr(2, 2, [attr(1, Buffer.alloc(4))])),
    msg(RTM_DELADDR, 0, ifaddr(10, 2, [attr(1, A)])),
    msg(3, 3, Buffer.alloc(4)),
    msg(2, 4, Buffer.from([0xf3, 0xff, 0xff, 0xff, ...Buffer.alloc(16)])),
  ]);
  const m = parseAddrMessages(buf);
  assert.deepEqual(
    m.map((x) => (x.type === 'address' ? [x.kind, x.seq, x.ifindex, x.address.toString('hex')] : [x.type, x.seq, 'errno' in x ? x.errno : 0])),
    [
      ['new', 3, 2, A.toString('hex')],
      ['new', 3, 3, A.toString('hex')],
      ['del', 0, 2, A.toString('hex')],
      ['done', 3, 0],
      ['error', 4, 13],
    ],
  );
});

test('truncated or malformed datagrams end the parse without throwing', () => {
  const good = msg(RTM_NEWADDR, 1, ifaddr(10, 2, [attr(1, A)]));
  assert.equal(parseAddrMessages(good.subarray(0, good.length - 1)).length, 0);
  const badAttr = msg(RTM_NEWADDR, 1, ifaddr(10, 2, [Buffer.from([200, 0, 1, 0])]));
  assert.deepEqual(parseAddrMessages(badAttr), []);
  assert.deepEqual(parseAddrMessages(Buffer.alloc(3)), []);
});
