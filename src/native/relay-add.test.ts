/**
 * relayAdd's id under a race: a pair whose both sides have already sent everything and their FIN
 * is relayed, finished and freed by the relay thread at once — possibly before relayAdd returns on
 * the JavaScript thread. The id it returns must still be the pair's (it was read from the freed pair:
 * a garbage id, the pair's events dropped as unknown, its flow left open for good — the e2e
 * "uncaughtException … every flow of the worker reset" saw such a phantom copy flow under load).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { NativeRelay, type PairEnd } from './relay.js';

/** A connected pair (client ↔ accepted) whose two ends both wrote `bytes` and ended, nothing read yet. */
async function finishedPair(server: net.Server): Promise<[net.Socket, net.Socket]> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ host: '::1', port: (server.address() as net.AddressInfo).port, allowHalfOpen: true, noDelay: true });
  client.on('error', () => undefined);
  await once(client, 'connect');
  const [peer] = await accepted;
  return [client, peer];
}

test('relayAdd returns the id of a pair the thread finishes at once (each of 400, one at a time: every onDone comes)', async () => {
  const front = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  front.listen(0, '::1');
  await once(front, 'listening');
  const relay = new NativeRelay({ mode: 'copy', reportMs: 1 });
  const outers: net.Socket[] = [];
  try {
    for (let i = 0; i < 400; i++) {
      // two TCP connections; the relay gets one end of each (a and b); the other ends send a byte and FIN first
      const [ca, a] = await finishedPair(front);
      const [cb, b] = await finishedPair(front);
      outers.push(ca, cb);
      for (const s of [ca, cb]) {
        s.on('data', () => undefined);
        s.end('x');
      }
      // both FINs are in a's and b's receive queues before the handover
      await new Promise((r) => setTimeout(r, 1));
      const done = new Promise<PairEnd>((resolve) => relay.adopt(a, b, { onDone: (end) => resolve(end) }));
      const end = await Promise.race([done, new Promise<string>((r) => setTimeout(() => r('no onDone within 10 s (the id relayAdd returned was not the pair’s)'), 10_000))]);
      assert.equal(end, 'ok', `pair ${i}`);
      assert.equal(relay.size, 0, 'a pair left in the table');
    }
  } finally {
    for (const s of outers) s.destroy();
    relay.close();
    front.close();
  }
});
