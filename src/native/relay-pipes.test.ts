/**
 * The relay's pipes in `auto` mode: made per direction at its first bulk read, not at the handover —
 * a short flow (a connection set up, a small request and reply) never makes any; `splice` mode keeps
 * them from the start.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { NativeRelay, type RelayMode } from './relay.js';
import { loopbackSockets, waitFor } from './test-streams.js';

const fds = (): number => readdirSync('/proc/self/fd').length;

/** client -> [front | relay | outbound] -> server; resolves once the pair is handed over */
async function pairOf(relay: NativeRelay) {
  const { client, accepted, outbound, server, close } = await loopbackSockets();
  const before = fds();
  let done = false;
  relay.adopt(accepted, outbound, { onDone: () => void (done = true) });
  await Promise.all([once(accepted, 'close'), once(outbound, 'close')]);
  return {
    client,
    server,
    before,
    done: () => done,
    close,
  };
}

for (const [mode, small, bulk] of [
  ['auto', 0, 2],
  ['splice', 4, 4],
] as [RelayMode, number, number][]) {
  test(`relay mode ${mode}: ${small} pipe descriptors once a pair is handed over and a small message moved, ${bulk} after a bulk direction`, async () => {
    const relay = new NativeRelay({ mode });
    const p = await pairOf(relay);
    try {
      // the handover: two dups in, Node's two descriptors out
      p.client.write('ping');
      await once(p.server, 'data');
      assert.equal(fds() - p.before, small, 'descriptors after a small message');
      const got = { n: 0 };
      p.server.on('data', (b: Buffer) => void (got.n += b.length));
      p.client.write(Buffer.alloc(4 * 1024 * 1024));
      await waitFor(() => got.n === 4 * 1024 * 1024, 'the bulk bytes');
      assert.equal(fds() - p.before, bulk, 'descriptors after a bulk direction');
      p.client.end();
      p.server.end();
      await waitFor(p.done, 'the pair to end');
      await waitFor(() => fds() <= p.before - 2, `descriptors back (now ${fds() - p.before})`);
    } finally {
      p.close();
      relay.close();
    }
  });
}
