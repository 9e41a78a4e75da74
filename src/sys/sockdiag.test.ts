import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAddress } from '../net/ip6.js';
import { ackErrno, destroyRequest, DESTROY_REQUEST_BYTES, NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR, SOCK_DESTROY } from './sockdiag.js';

const local = { address: parseAddress('fc00:2::2'), port: 8080 };
const remote = { address: parseAddress('fc00:1::2'), port: 40123 };
const cookie = Buffer.from('0102030405060708', 'hex');

/** An NLMSG_ERROR message for `seq` carrying `errno` (0: an acknowledgement). */
function ack(seq: number, errno: number, extra = 0): Buffer {
  const b = Buffer.alloc(20 + 16 + extra);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(NLMSG_ERROR, 4);
  b.writeUInt32LE(seq, 8);
  b.writeInt32LE(-errno, 16);
  return b;
}

describe('sock_diag SOCK_DESTROY', () => {
  test('the request: nlmsghdr, inet_diag_req_v2 for TCP/IPv6 in TIME_WAIT, the tuple in network order, the cookie as read', () => {
    const b = destroyRequest(7, local, remote, cookie);
    assert.equal(b.length, DESTROY_REQUEST_BYTES);
    assert.equal(b.readUInt32LE(0), 72);
    assert.equal(b.readUInt16LE(4), SOCK_DESTROY);
    assert.equal(b.readUInt16LE(6), NLM_F_REQUEST | NLM_F_ACK);
    assert.equal(b.readUInt32LE(8), 7);
    assert.deepEqual([b[16], b[17], b[18], b[19]], [10, 6, 0, 0], 'AF_INET6, IPPROTO_TCP');
    assert.equal(b.readUInt32LE(20), 1 << 6, 'states: TIME_WAIT');
    assert.equal(b.readUInt16BE(24), 8080, 'sport: the socket’s own port');
    assert.equal(b.readUInt16BE(26), 40123, 'dport: the peer’s');
    assert.deepEqual(b.subarray(28, 44), local.address, 'src: the socket’s own address');
    assert.deepEqual(b.subarray(44, 60), remote.address, 'dst: the peer’s');
    assert.equal(b.readUInt32LE(60), 0, 'any interface');
    assert.deepEqual(b.subarray(64, 72), cookie);
  });

  test('bad sizes are refused', () => {
    assert.throws(() => destroyRequest(1, { address: Buffer.alloc(4), port: 1 }, remote, cookie), RangeError);
    assert.throws(() => destroyRequest(1, local, remote, Buffer.alloc(4)), RangeError);
  });

  test('the acknowledgement: the errno of the reply to our sequence number; others and garbage are skipped', () => {
    assert.equal(ackErrno(ack(5, 0), 5), 0);
    assert.equal(ackErrno(ack(5, 2, 72), 5), 2, 'ENOENT, with the request echoed');
    assert.equal(ackErrno(Buffer.concat([ack(4, 95), ack(5, 0)]), 5), 0, 'an older reply first');
    assert.equal(ackErrno(ack(4, 0), 5), undefined);
    assert.equal(ackErrno(Buffer.alloc(10), 5), undefined);
    const bad = ack(5, 0);
    bad.writeUInt32LE(9999, 0);
    assert.equal(ackErrno(bad, 5), undefined, 'a length past the buffer');
  });
});
