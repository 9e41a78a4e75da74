/**
 * Relays one direction of a flow through a transform, with back-pressure: when the destination's
 * buffer is full the source is paused until 'drain'. A FIN is forwarded as a FIN (half-close); the
 * other direction goes on. Errors and resets are the flow's business (flow.ts).
 */
import type net from 'node:net';
import type { Transform } from '../vf/types.js';

export interface DirectionStats {
  bytesIn: number;
  bytesOut: number;
  ended: boolean;
}

export interface RelayHooks {
  /** a transform threw: the flow must be reset */
  onTransformError(e: unknown): void;
  /** any bytes moved (idle tracking) */
  onActivity(): void;
}

export function relay(src: net.Socket, dst: net.Socket, t: Transform, stats: DirectionStats, hooks: RelayHooks): void {
  const write = (buf: Buffer | null): void => {
    if (!buf || buf.length === 0 || dst.destroyed) return;
    stats.bytesOut += buf.length;
    if (!dst.write(buf)) src.pause();
  };
  src.on('data', (chunk: Buffer) => {
    stats.bytesIn += chunk.length;
    hooks.onActivity();
    let out: Buffer | null;
    try {
      out = t.data(chunk);
    } catch (e) {
      hooks.onTransformError(e);
      return;
    }
    write(out);
  });
  dst.on('drain', () => {
    if (!src.destroyed) src.resume();
  });
  src.on('end', () => {
    stats.ended = true;
    try {
      write(t.end?.() ?? null);
    } catch (e) {
      hooks.onTransformError(e);
      return;
    }
    if (!dst.destroyed) dst.end();
  });
}
