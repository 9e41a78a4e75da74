import assert from 'node:assert/strict';
import type net from 'node:net';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { encodeConvertHeader } from '../codec/convert.js';
import { isSrError } from '../core/errors.js';
import { readConvertHeader } from './converter.js';

const H = { client: { address: 'fc00:1::2', port: 40001 }, server: { address: 'fc00:2::2', port: 8080 }, sid: 'fc00:b::1:0:0', segments: ['fc00:c::1:0:0'] };
const stream = (): PassThrough & net.Socket => new PassThrough() as PassThrough & net.Socket;
const code = (e: unknown): string => (isSrError(e) ? e.code : String(e));

test('the header split over chunks; the payload that came with it stays in the stream, paused', async () => {
  const s = stream();
  const bytes = Buffer.concat([encodeConvertHeader(H), Buffer.from('hello')]);
  const got = readConvertHeader(s, 1000);
  s.write(bytes.subarray(0, 3));
  s.write(bytes.subarray(3, 30));
  s.write(bytes.subarray(30));
  const h = await got;
  assert.deepEqual(h, H);
  assert.equal(s.isPaused(), true);
  s.end();
  const rest: Buffer[] = [];
  for await (const c of s) rest.push(c as Buffer);
  assert.equal(Buffer.concat(rest).toString(), 'hello');
});

test('garbage fails on its first byte; an early end is CONVERT_TRUNCATED; silence is CONVERT_TIMEOUT', async () => {
  const g = stream();
  const bad = readConvertHeader(g, 1000);
  g.write(Buffer.from('GET / HTTP/1.1\r\n'));
  await assert.rejects(bad, (e) => code(e) === 'CONVERT_BAD_VERSION');
  const t = stream();
  const truncated = readConvertHeader(t, 1000);
  t.end(encodeConvertHeader(H).subarray(0, 20));
  await assert.rejects(truncated, (e) => code(e) === 'CONVERT_TRUNCATED');
  await assert.rejects(readConvertHeader(stream(), 50), (e) => code(e) === 'CONVERT_TIMEOUT');
});
