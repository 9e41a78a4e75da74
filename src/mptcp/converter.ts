/**
 * The operator-side converter's first step on an accepted MPTCP connection: read the converter header
 * (codec/convert.ts) off the stream. Bytes after it stay in the socket (unshifted), which is left
 * paused for the flow's relay. Fails with the codec's SrError, CONVERT_TRUNCATED when the stream ends
 * first, or CONVERT_TIMEOUT.
 */
import type net from 'node:net';
import { convertHeaderLength, decodeConvertHeader, type ConvertHeader } from '../codec/convert.js';
import { SrError } from '../core/errors.js';

export function readConvertHeader(socket: net.Socket, timeoutMs: number): Promise<ConvertHeader> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let have = 0;
    const done = (err: unknown, header?: ConvertHeader, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      if (err) return reject(err);
      if (rest?.length) socket.unshift(rest);
      resolve(header!);
    };
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      have += chunk.length;
      const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      parts.splice(0, parts.length, buf);
      try {
        const len = convertHeaderLength(buf);
        if (len === null || have < len) return;
        const d = decodeConvertHeader(buf);
        done(undefined, d.header, Buffer.from(d.rest));
      } catch (e) {
        done(e);
      }
    };
    const onEnd = (): void => done(new SrError('CONVERT_TRUNCATED', `the stream ended after ${have} bytes, inside the converter header`));
    const timer = setTimeout(() => done(new SrError('CONVERT_TIMEOUT', `no complete converter header within ${timeoutMs} ms (${have} bytes)`)), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
    socket.resume();
  });
}
