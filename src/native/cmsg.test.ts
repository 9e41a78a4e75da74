import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { buildCmsgs, parseCmsgs } from './cmsg.js';

test('parses several cmsg records with 8-byte alignment', () => {
  const recs = [
    { level: 41, type: 57, data: Buffer.from([1, 2, 3, 4, 5]) },
    { level: 41, type: 50, data: Buffer.alloc(20, 7) },
  ];
  const buf = buildCmsgs(recs);
  assert.equal(buf.length % 8, 0);
  const out = parseCmsgs(buf);
  assert.equal(out.length, 2);
  assert.deepEqual(out.map((m) => [m.level, m.type, [...m.data]]), recs.map((m) => [m.level, m.type, [...m.data]]));
});

test('empty ancillary data has no records', () => {
  assert.deepEqual(parseCmsgs(Buffer.alloc(0)), []);
});

test('a record longer than the buffer is CMSG_MALFORMED', () => {
  const buf = buildCmsgs([{ level: 41, type: 57, data: Buffer.alloc(8) }]);
  buf.writeBigUInt64LE(100n, 0);
  assert.throws(() => parseCmsgs(buf), (e) => isSrError(e, 'CMSG_MALFORMED'));
  buf.writeBigUInt64LE(3n, 0);
  assert.throws(() => parseCmsgs(buf), (e) => isSrError(e, 'CMSG_MALFORMED'));
});
