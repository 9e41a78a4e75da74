/**
 * Drain on the native relay, as ProxyWorker.drain does it: flows that end before the deadline end ok;
 * at the deadline every flow left is failed (drain_deadline: the pair aborts are queued) and the relay
 * is closed at once. Each handed-over flow must still close, counted with its ending, both of its
 * peers reset (never a FIN that would pass a truncated stream for a complete one).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { copy } from '../functions/copy/index.js';
import { NativeRelay } from '../native/relay.js';
import { openSocketFlow, socketSubject, type RelayVariant } from '../sdk/conformance-sockets.js';
import { flowEndLabel } from '../sdk/flow-end.js';
import { SOCKET_OPS } from './flow.js';
import { nativePairRelay } from './native-relay.js';

test('drain on the native relay: a flow that ends in time ends ok; those left at the deadline close as drain_deadline, counted, both peers reset', async () => {
  const relay = new NativeRelay();
  const v: RelayVariant = { name: 'native', ops: SOCKET_OPS, pairRelay: nativePairRelay(relay), bound: relay.options.capacity };
  const s = await socketSubject(copy, { identity: true });
  const rigs = await Promise.all([0, 1, 2].map(() => openSocketFlow(s, v)));
  try {
    assert.deepEqual(
      rigs.map((r) => r.native),
      [true, true, true],
    );
    // the first completes before the deadline
    const [done, ...left] = rigs;
    done!.server.on('data', () => undefined);
    done!.client.on('data', () => undefined);
    done!.client.end('request');
    await once(done!.server, 'end');
    done!.server.end('reply');
    assert.equal(flowEndLabel((await done!.closed).end!), 'ok');
    // the others are in flight: bytes both ways, no end
    const seen = left.map((r) => {
      const errors: string[] = [];
      for (const so of [r.client, r.server]) {
        so.on('data', () => undefined);
        so.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? 'error'));
        so.write(Buffer.alloc(64 * 1024, 1));
      }
      return errors;
    });
    await new Promise((r) => setTimeout(r, 50));
    // the deadline (worker.drain): fail what is left, close the relay at once
    for (const r of left) r.flow.fail({ kind: 'drain_deadline' });
    relay.close();
    const ends = await Promise.all(left.map((r) => r.closed));
    assert.deepEqual(
      ends.map((f) => flowEndLabel(f.end!)),
      ['drain_deadline', 'drain_deadline'],
    );
    for (const r of left) assert.deepEqual([r.counters.flowsActive, r.counters.endings], [0, { drain_deadline: 1 }], 'counted');
    // both peers of each were reset: a write now fails, if the reset has not surfaced already
    for (const [i, r] of left.entries()) {
      for (const so of [r.client, r.server]) {
        if (!so.destroyed) so.write('x');
        if (!so.destroyed) await new Promise<void>((x) => (so.once('close', () => x()), setTimeout(x, 5000)));
        assert.ok(so.destroyed, `flow ${i}: a peer was not reset`);
      }
      assert.ok(seen[i]!.length >= 1, `flow ${i}: no reset error seen at the peers (${seen[i]!.join(',')})`);
    }
  } finally {
    for (const r of rigs) r.close();
    relay.close();
    await s.close();
  }
});
