/**
 * The socket conformance checks can fail: a relay that drops back-pressure, and stream ops that end
 * a reset flow with a FIN, are caught (the checks run directly on such broken variants).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copy } from '../functions/copy/index.js';
import { relayVariants } from './conformance-relays.js';
import { SOCKET_OPS } from './flow.js';
import { SOCKET_CHECKS, socketSubject, openSocketFlow, type RelayVariant } from '../sdk/conformance-sockets.js';
import { relay as jsRelay } from '../sdk/relay.js';
import type { StreamOps } from '../sdk/flow.js';

const check = (name: string) => {
  const c = Object.entries(SOCKET_CHECKS).find(([n]) => n.startsWith(name));
  assert.ok(c, name);
  return c[1];
};

async function run(v: RelayVariant, name: string): Promise<void> {
  const s = await socketSubject(copy, { identity: true });
  try {
    await check(name)({ s, v, open: (o) => openSocketFlow(s, v, o) });
  } finally {
    await s.close();
  }
}

/** the proxy's socket ops (a reset is SO_LINGER 0 + close), and the TCP state read as the suite's relays read it */
const OPS = SOCKET_OPS;
const tcpState = relayVariants({ modes: [] })[0]!.open().tcpState;

test('the socket checks pass the JavaScript relay (the baseline of the two tests below)', async () => {
  const v: RelayVariant = { name: 'javascript', ops: OPS, bound: 1 << 20, tcpState };
  await run(v, 'back-pressure: a stalled server');
  await run(v, "reset: the client's RST");
});

test('a relay that ignores back-pressure (never pauses its source) fails the back-pressure check', async () => {
  // writes whatever it reads, never pausing: bytes pile up in the flow's outbound write buffer
  const greedy: typeof jsRelay = (src, dst, t, stats, hooks) => {
    const write = dst.write.bind(dst) as (b: Buffer) => boolean;
    dst.write = ((b: Buffer) => (write(b), true)) as typeof dst.write;
    jsRelay(src, dst, t, stats, hooks);
  };
  const v: RelayVariant = { name: 'greedy', ops: OPS, relay: greedy, bound: 1 << 20, tcpState };
  await assert.rejects(run(v, 'back-pressure: a stalled server'), /never held back|held \d+ bytes/);
});

test('stream ops that end a reset flow with a FIN (not a RST) fail the reset check', async () => {
  // a FIN, reading on (a close with unread bytes would still send a RST)
  const finOps: StreamOps = { reset: (s) => void s.end().resume(), abortive: () => undefined, orderly: () => undefined };
  const v: RelayVariant = { name: 'fin-instead-of-rst', ops: finOps, bound: 1 << 20, tcpState };
  await assert.rejects(run(v, "reset: the client's RST"), /saw an end \(a FIN\)/);
});
