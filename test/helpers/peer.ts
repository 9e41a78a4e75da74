/**
 * A traffic peer for end-to-end tests, run inside lab namespaces:
 *   node peer.js serve  --port P [--reply N] [--echo] [--after-eof] [--stall-ms MS] [--reset-after-bytes N]
 *                       [--save FILE]   (each connection's received bytes go to FILE.<client port>)
 *                       [--sr]          (srv6pipes' server helper: replies follow the flow's return path;
 *                                        the conn line gets replyVia, rejections a 'rejected' line)
 *                       (--stall-ms: a connection is read from MS after its accept, or from SIGUSR2 if sooner)
 *   (both) --data text: send compressible text instead of random bytes
 *                                                              one JSON line per connection on stdout
 *   node peer.js client --host H --port P [--segments a,b] [--send N] [--delay-end MS] [--tlvs padn,hmac,unknown,badreturn,bigreturn] [--return-path SID,…] [--flags N]
 *                                                              [--reset-after-ms MS] [--timeout MS] [--local ADDR]
 *                                                              one JSON line at the end on stdout
 * Data is pseudo-random (a 1 MiB block from a seed, rotated), hashed with sha256 on both ends, so a
 * test compares what one end sent with what the other received. `serve` sends its reply concurrently
 * with receiving (full duplex) unless --after-eof is given.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { connect } from '../../src/client/connect.js';
import { listen } from '../../src/server/index.js';
import { hmacTlv, TLV_PADN, type SrhTlv } from '../../src/codec/srh.js';

function arg(name: string, dflt?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

/** 1 MiB of data: random (incompressible), or `--data text` (compressible, with a marker in it). */
const BLOCK = ((): Buffer => {
  if (arg('data') !== 'text') return randomBytes(1 << 20);
  const line = Buffer.from('srv6pipes plaintext line: the quick brown fox jumps over the lazy dog 0123456789\n');
  const b = Buffer.alloc(1 << 20);
  for (let i = 0; i < b.length; i += line.length) line.copy(b, i);
  return b;
})();

/** Writes n bytes with back-pressure, then calls done. */
function sendBytes(sock: net.Socket, n: number, hash: ReturnType<typeof createHash>, done: () => void): void {
  let left = n;
  let off = 0;
  const pump = (): void => {
    while (left > 0) {
      const len = Math.min(left, 64 * 1024, BLOCK.length - off);
      const chunk = BLOCK.subarray(off, off + len);
      off = (off + len) % BLOCK.length;
      left -= len;
      hash.update(chunk);
      if (!sock.write(chunk)) {
        sock.once('drain', pump);
        return;
      }
    }
    done();
  };
  pump();
}

/** the stalled connections' resumes (--stall-ms): SIGUSR2 ends every stall at once */
const stalled = new Set<() => void>();

function serve(): void {
  process.on('SIGUSR2', () => [...stalled].forEach((resume) => resume()));
  const port = Number(arg('port', '8080'));
  const reply = Number(arg('reply', '0'));
  const echo = flag('echo');
  const afterEof = flag('after-eof');
  const onConnection = (sock: net.Socket, sr?: { replyVia?: string }): void => {
    const rx = createHash('sha256');
    const tx = createHash('sha256');
    let received = 0;
    let sent = 0;
    let gotEof = false;
    let doneSending = reply === 0 && !echo;
    const info = { remote: sock.remoteAddress, remotePort: sock.remotePort, local: sock.localAddress, localPort: sock.localPort, ...(sr ?? {}) };
    const report = (error?: string): void => {
      process.stdout.write(
        `${JSON.stringify({ event: 'conn', ...info, received, sha256Received: rx.digest('hex'), sent, sha256Sent: tx.digest('hex'), error })}\n`,
      );
    };
    let reported = false;
    const finish = (error?: string): void => {
      if (reported) return;
      reported = true;
      if (save) writeFileSync(`${save}.${info.remotePort}`, Buffer.concat(saved));
      report(error);
    };
    const startReply = (): void =>
      sendBytes(sock, reply, tx, () => {
        sent = reply;
        doneSending = true;
        if (gotEof) sock.end();
      });
    const save = arg('save');
    const saved: Buffer[] = [];
    sock.on('data', (d: Buffer) => {
      received += d.length;
      rx.update(d);
      if (save) saved.push(Buffer.from(d));
      if (echo) {
        tx.update(d);
        sent += d.length;
        if (!sock.write(d)) sock.pause();
      }
    });
    sock.on('drain', () => sock.resume());
    sock.on('end', () => {
      gotEof = true;
      if (echo) doneSending = true;
      if (afterEof && reply > 0) startReply();
      else if (doneSending) sock.end();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    sock.on('close', () => finish());
    if (reply > 0 && !afterEof) startReply();
    const resetAfter = Number(arg('reset-after-bytes', '0'));
    if (resetAfter > 0) {
      sock.on('data', () => {
        if (received >= resetAfter && !sock.destroyed) {
          finish('RESET_SENT');
          sock.resetAndDestroy();
        }
      });
    }
    const stall = Number(arg('stall-ms', '0'));
    if (stall > 0) {
      sock.pause();
      const resume = (): void => {
        clearTimeout(timer);
        stalled.delete(resume);
        sock.resume();
      };
      const timer = setTimeout(resume, stall);
      stalled.add(resume);
    }
  };
  const listening = (): void => void process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`);
  if (flag('sr')) {
    const onReject = (e: { code: string; message: string }, peer: { address: string }): void =>
      void process.stdout.write(`${JSON.stringify({ event: 'rejected', code: e.code, reason: e.message, remote: peer.address })}\n`);
    void listen({ port, allowHalfOpen: true, onReject }, (sock, i) => onConnection(sock, i.replyVia ? { replyVia: i.replyVia } : {})).then(listening);
  } else net.createServer({ allowHalfOpen: true }, (sock) => onConnection(sock)).listen({ port, host: '::', ipv6Only: true }, listening);
}

async function client(): Promise<void> {
  const host = arg('host')!;
  const port = Number(arg('port', '8080'));
  const segments = (arg('segments', '') ?? '').split(',').filter(Boolean);
  const send = Number(arg('send', '0'));
  const tlvs: SrhTlv[] = [];
  for (const t of (arg('tlvs', '') ?? '').split(',').filter(Boolean)) {
    if (t === 'padn') tlvs.push({ type: TLV_PADN, value: Buffer.alloc(4) });
    else if (t === 'hmac') tlvs.push(hmacTlv(7, Buffer.alloc(32, 0xab)));
    else if (t === 'unknown') tlvs.push({ type: 0x7e, value: Buffer.from('srv6pipes-unknown-tlv') });
    else if (t === 'badreturn') tlvs.push({ type: 6, value: Buffer.alloc(6 + 10) }); // a return-path TLV that is not 6 + 16n bytes
    else if (t === 'bigreturn') tlvs.push({ type: 6, value: Buffer.alloc(255) }); // the largest TLV: more than 15 segments' room, not 6 + 16n
    else throw new Error(`unknown --tlvs item ${t}`);
  }
  const t0 = Date.now();
  let sock: net.Socket;
  try {
    const local = arg('local');
    const returnPath = (arg('return-path', '') ?? '').split(',').filter(Boolean);
    sock = await connect({ host, port, segments, tlvs, returnPath, flags: Number(arg('flags', '0')), timeoutMs: Number(arg('timeout', '5000')), ...(local ? { localAddress: local } : {}) });
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ event: 'done', error: (e as NodeJS.ErrnoException).code ?? String(e), ms: Date.now() - t0 })}\n`);
    return;
  }
  const rx = createHash('sha256');
  const tx = createHash('sha256');
  let received = 0;
  let error: string | undefined;
  sock.on('data', (d: Buffer) => {
    received += d.length;
    rx.update(d);
  });
  sock.on('error', (e: NodeJS.ErrnoException) => {
    error = e.code ?? e.message;
  });
  sock.on('close', () => {
    process.stdout.write(
      `${JSON.stringify({ event: 'done', sent: send, sha256Sent: tx.digest('hex'), received, sha256Received: rx.digest('hex'), error, ms: Date.now() - t0 })}\n`,
    );
  });
  const delayEnd = Number(arg('delay-end', '0'));
  const resetAfter = Number(arg('reset-after-ms', '0'));
  // a socket that closes first (the other side reset it) ends the client at once, not at the end of the delay
  let closed = false;
  let later: NodeJS.Timeout | undefined;
  sock.on('close', () => {
    closed = true;
    clearTimeout(later);
  });
  sendBytes(sock, send, tx, () => {
    if (closed) return;
    later = setTimeout(() => {
      if (resetAfter > 0) {
        error = 'RESET_SENT';
        sock.resetAndDestroy();
      } else sock.end();
    }, resetAfter || delayEnd);
  });
}

if (process.argv[2] === 'serve') serve();
else if (process.argv[2] === 'client') void client();
else {
  process.stderr.write('usage: peer.js serve|client ...\n');
  process.exit(2);
}
