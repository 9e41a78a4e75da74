/**
 * The demo's HTTP client (run inside the lab's `client` namespace): an ordinary `http.get` whose
 * connection is made by the library's `connect()` — so the request travels over the SR path.
 * Prints one JSON line: status, bytes, sha256 of the body, the server's announced sha256, time.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { connect } from '../client/connect.js';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const host = argValue('host') ?? 'fc00:2::2';
const port = Number(argValue('port') ?? '80');
const path = argValue('path') ?? '/file';
const segments = (argValue('segments') ?? '').split(',').filter(Boolean);
const t0 = process.hrtime.bigint();

const req = http.get({
  host,
  port,
  path,
  headers: { host: `[${host}]` },
  createConnection: (_opts: unknown, cb: (err: Error | null, s?: net.Socket) => void) => {
    connect({ host, port, segments }).then((s) => cb(null, s), (e: Error) => cb(e));
    return undefined as unknown as net.Socket;
  },
} as http.RequestOptions, (res) => {
  const hash = createHash('sha256');
  let bytes = 0;
  res.on('data', (d: Buffer) => {
    bytes += d.length;
    hash.update(d);
  });
  res.on('end', () => {
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stdout.write(
      `${JSON.stringify({ event: 'response', status: res.statusCode, bytes, sha256: hash.digest('hex'), announced: res.headers['x-sha256'], ms })}\n`,
    );
  });
});
req.on('error', (e: NodeJS.ErrnoException) => {
  process.stdout.write(`${JSON.stringify({ event: 'error', error: e.code ?? e.message })}\n`);
  process.exitCode = 1;
});
