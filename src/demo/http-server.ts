/**
 * The demo's HTTP server (run inside the lab's `server` namespace): serves /file — a generated body
 * that contains a recognisable plaintext marker — and logs each request as a JSON line with the
 * peer's address, so the demo can show that the server saw the client's own address.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';

import { MARKER } from './marker.js';

function argValue(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

const port = Number(argValue('port', '80'));
const size = Number(argValue('size', String(8 << 20)));
// the body: random bytes with the marker repeated every 4 KiB, so any capture of the stream sees it;
// with --text, numbered lines of text (compressible, as web pages are)
const body = process.argv.includes('--text') ? textBody(size) : randomBytes(size);
for (let off = 0; off + MARKER.length < size; off += 4096) body.write(MARKER, off, 'latin1');

function textBody(n: number): Buffer {
  const out = Buffer.alloc(n);
  let off = 0;
  for (let i = 0; off < n; i++) off += out.write(`${i.toString().padStart(8, '0')} srv6pipes: in-network bytestream functions over IPv6 segment routing\n`, off, 'latin1');
  return out;
}
const sha256 = createHash('sha256').update(body).digest('hex');

const server = http.createServer((req, res) => {
  const log = { event: 'request', method: req.method, url: req.url, remote: req.socket.remoteAddress, remotePort: req.socket.remotePort };
  if (req.url !== '/file') {
    res.writeHead(404).end('not found\n');
    process.stdout.write(`${JSON.stringify({ ...log, status: 404 })}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size, 'x-sha256': sha256 });
  res.end(body);
  process.stdout.write(`${JSON.stringify({ ...log, status: 200, bytes: size, sha256 })}\n`);
});
server.listen({ port, host: '::', ipv6Only: true }, () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', port, size, sha256 })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
