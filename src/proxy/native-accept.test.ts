/**
 * proxy/native-relay.ts `nativeAcceptConnect` with an early onward socket (config
 * nativeRelay.connectEarly): which of the relay's calls a natively accepted connection gets — the
 * early socket adopted when it carries the decision's onward SRH (or the decision is its memo), else
 * reset and a fresh onward connect, and what the accept learns. A recording relay stands in for the
 * addon; the sockets are real descriptors (their reset is observable as their closing).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { onwardSrh, type OnwardPath } from '../codec/srh.js';
import { native } from '../native/addon.js';
import type { NativeRelay, RelayPair } from '../native/relay.js';
import { listenFd } from '../native/sockets.js';
import { parseAddress } from '../net/ip6.js';
import type { PairConnectEvents } from '../sdk/flow.js';
import { IDENTITY } from '../sdk/types.js';
import { FdInbound } from './flow.js';
import { nativeAcceptConnect } from './native-relay.js';

const ownFd = (): number => listenFd({ address: '::1', port: 0 });
const isOpen = (fd: number): boolean => existsSync(`/proc/self/fd/${fd}`);
const ONWARD: OnwardPath = { path: [parseAddress('fc00:b::1:0:0'), parseAddress('fc00:2::2')], tlvs: [] };
const EVENTS: PairConnectEvents = { connected: () => undefined, bytes: () => undefined, eof: () => undefined, reset: () => undefined, done: () => undefined } as unknown as PairConnectEvents;
const COPY = { upstream: IDENTITY, downstream: IDENTITY };

function recordingRelay(): { relay: NativeRelay; calls: string[]; learnt: [Buffer, Buffer | null, unknown][] } {
  const calls: string[] = [];
  const learnt: [Buffer, Buffer | null, unknown][] = [];
  const pair = { id: 1, stats: () => null, abort: () => true } as unknown as RelayPair;
  const relay = {
    acceptAdopt: (fd: number, early: number) => (calls.push(`adopt ${fd} ${early}`), pair),
    acceptConnect: (fd: number, srh: Buffer | null) => (calls.push(`connect ${fd} ${srh ? srh.toString('hex') : 'null'}`), pair),
    earlyLearn: (syn: Buffer, srh: Buffer | null, memo: unknown) => void learnt.push([syn, srh, memo]),
  } as unknown as NativeRelay;
  return { relay, calls, learnt };
}

test('an early onward socket carrying the decision’s onward SRH is adopted; nothing is learnt again', () => {
  const { relay, calls, learnt } = recordingRelay();
  const srh = onwardSrh(ONWARD)!;
  const inbound = new FdInbound(ownFd(), '::1', 1, '::1', 2, { fd: ownFd(), srh: Buffer.from(srh) });
  const early = inbound.earlyOnward!.fd;
  assert.ok(nativeAcceptConnect(relay)(inbound, COPY, ONWARD, EVENTS));
  assert.deepEqual(calls, [`adopt ${inbound.fd} ${early}`]);
  assert.equal(isOpen(early), true, 'the relay’s now, not reset');
  assert.deepEqual(learnt, []);
  native().close(early);
  native().close(inbound.fd);
});

test('an early socket with another onward SRH (the functions changed) is reset; the connection connects anew and the accept learns the new header with the decision', () => {
  const { relay, calls, learnt } = recordingRelay();
  const inbound = new FdInbound(ownFd(), '::1', 1, '::1', 2, { fd: ownFd(), srh: null });
  const early = inbound.earlyOnward!.fd;
  const syn = Buffer.from([4, 2, 4, 1, 1, 0, 0, 0]);
  const decision = { ok: true };
  inbound.syn = syn;
  inbound.decision = decision;
  assert.ok(nativeAcceptConnect(relay)(inbound, COPY, ONWARD, EVENTS));
  assert.deepEqual(calls, [`connect ${inbound.fd} ${onwardSrh(ONWARD)!.toString('hex')}`]);
  assert.equal(isOpen(early), false, 'the early socket is reset');
  assert.equal(learnt.length, 1);
  assert.equal(learnt[0]![0], syn);
  assert.deepEqual(learnt[0]![1], onwardSrh(ONWARD));
  assert.equal(learnt[0]![2], decision);
  native().close(inbound.fd);
});

test('a decision that is the early socket’s memo adopts it without encoding (its onward SRH is the socket’s)', () => {
  const { relay, calls } = recordingRelay();
  // the socket's header differs from what ONWARD encodes: only the memo says they are the same decision
  const theirs = onwardSrh({ path: [parseAddress('fc00:c::1:0:0'), parseAddress('fc00:2::2')], tlvs: [] })!;
  const inbound = new FdInbound(ownFd(), '::1', 1, '::1', 2, { fd: ownFd(), srh: theirs, memo: {} });
  inbound.fromMemo = true;
  const early = inbound.earlyOnward!.fd;
  assert.ok(nativeAcceptConnect(relay)(inbound, COPY, ONWARD, EVENTS));
  assert.deepEqual(calls, [`adopt ${inbound.fd} ${early}`]);
  native().close(early);
  native().close(inbound.fd);
});
