import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAttrs, encodeAttrs, genlMessage, NLA_F_NESTED, NLMSG_ERROR, parseReplies, u16, u32, u8 } from './netlink.js';

test('attributes: 4-byte aligned, nested ones flagged, decoded back one level at a time', () => {
  const b = encodeAttrs([
    { type: 4, value: u32(0xdeadbeef) },
    { type: 1, value: [{ type: 2, value: u8(7) }, { type: 1, value: u16(10) }] },
  ]);
  assert.equal(b.length % 4, 0);
  assert.equal(b.readUInt16LE(10) & NLA_F_NESTED, NLA_F_NESTED, 'the second attribute is nested');
  const top = decodeAttrs(b);
  assert.equal(top.get(4)!.readUInt32LE(0), 0xdeadbeef);
  const inner = decodeAttrs(top.get(1)!);
  assert.equal(inner.get(2)![0], 7);
  assert.equal(inner.get(1)!.readUInt16LE(0), 10);
  // a truncated attribute ends the decoding instead of throwing
  assert.equal(decodeAttrs(b.subarray(0, 6)).size, 0);
});

test('a generic netlink request: nlmsghdr (length, family, REQUEST|ACK, seq), genlmsghdr (cmd, version), attributes', () => {
  const m = genlMessage(0x1c, 10, 1, 42, [{ type: 4, value: u32(5) }]);
  assert.equal(m.readUInt32LE(0), m.length);
  assert.equal(m.readUInt16LE(4), 0x1c);
  assert.equal(m.readUInt16LE(6), 1 | 4);
  assert.equal(m.readUInt32LE(8), 42);
  assert.deepEqual([m[16], m[17]], [10, 1]);
  assert.equal(decodeAttrs(m.subarray(20)).get(4)!.readUInt32LE(0), 5);
});

test('replies: acknowledgements and errors (-errno), attributes of a data message; malformed input stops the parse', () => {
  const err = Buffer.alloc(36);
  err.writeUInt32LE(36, 0);
  err.writeUInt16LE(NLMSG_ERROR, 4);
  err.writeUInt32LE(9, 8);
  err.writeInt32LE(-107, 16);
  const data = genlMessage(0x1c, 1, 1, 9, [{ type: 2, value: u16(3) }]);
  const replies = parseReplies(Buffer.concat([data, err]));
  assert.equal(replies.length, 2);
  assert.equal(replies[0]!.attrs!.get(2)!.readUInt16LE(0), 3);
  assert.deepEqual(replies[1], { type: NLMSG_ERROR, seq: 9, error: -107 });
  const short = Buffer.from(err.subarray(0, 16));
  short.writeUInt32LE(16, 0);
  assert.deepEqual(parseReplies(short), [], 'an error message without its errno');
  assert.deepEqual(parseReplies(Buffer.alloc(10)), []);
  const lying = Buffer.from(data);
  lying.writeUInt32LE(data.length + 100, 0);
  assert.deepEqual(parseReplies(lying), [], 'a length past the datagram');
});
