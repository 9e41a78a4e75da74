/**
 * Moves one direction of a flow from `src` through a transform to `dst`, with back-pressure at every
 * hop: when a write returns false the writer's source is paused until 'drain'. The end of `src` (a FIN)
 * becomes the end of `dst` (a FIN) once the transform has flushed; the other direction is independent
 * (half-close). Works on sockets and on in-memory streams alike (the conformance suite uses the latter).
 */
import type { Readable, Writable } from 'node:stream';
import { isSyncTransform, type DirectionTransform, type SyncTransform } from './types.js';
import type { Duplex } from 'node:stream';

export interface DirectionStats {
  bytesIn: number;
  bytesOut: number;
  ended: boolean;
}

export interface RelayHooks {
  /** the transform threw or emitted 'error': the flow must be reset */
  onTransformError(e: unknown): void;
  /** bytes moved (idle tracking) */
  onActivity(): void;
}

export function newDirectionStats(): DirectionStats {
  return { bytesIn: 0, bytesOut: 0, ended: false };
}

export function relay(src: Readable, dst: Writable, t: DirectionTransform, stats: DirectionStats, hooks: RelayHooks): void {
  if (isSyncTransform(t)) relaySync(src, dst, t, stats, hooks);
  else relayStream(src, dst, t, stats, hooks);
}

function relaySync(src: Readable, dst: Writable, t: SyncTransform, stats: DirectionStats, hooks: RelayHooks): void {
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
    let tail: Buffer | null;
    try {
      tail = t.end?.() ?? null;
    } catch (e) {
      hooks.onTransformError(e);
      return;
    }
    write(tail);
    if (!dst.destroyed) dst.end();
  });
}

function relayStream(src: Readable, dst: Writable, t: Duplex, stats: DirectionStats, hooks: RelayHooks): void {
  t.on('error', (e) => hooks.onTransformError(e));
  src.on('data', (chunk: Buffer) => {
    stats.bytesIn += chunk.length;
    hooks.onActivity();
    if (t.destroyed) return;
    if (!t.write(chunk)) src.pause();
  });
  t.on('drain', () => {
    if (!src.destroyed) src.resume();
  });
  src.on('end', () => {
    stats.ended = true;
    if (!t.destroyed) t.end();
  });
  t.on('data', (out: Buffer) => {
    if (out.length === 0 || dst.destroyed) return;
    stats.bytesOut += out.length;
    hooks.onActivity();
    if (!dst.write(out)) t.pause();
  });
  dst.on('drain', () => {
    if (!t.destroyed) t.resume();
  });
  t.on('end', () => {
    if (!dst.destroyed) dst.end();
  });
}
