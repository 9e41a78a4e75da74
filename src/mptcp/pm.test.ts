import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { NLMSG_ERROR } from './netlink.js';
import { UserspacePm, type NetlinkIo } from './pm.js';

/** A netlink acknowledgement (NLMSG_ERROR) of `seq` with `error` (0 = success, else -errno). */
function ack(seq: number, error = 0): Buffer {
  const b = Buffer.alloc(36);
  b.writeUInt32LE(36, 0);
  b.writeUInt16LE(NLMSG_ERROR, 4);
  b.writeUInt32LE(seq, 8);
  b.writeInt32LE(error, 16);
  return b;
}

/** A family reply to CTRL_CMD_GETFAMILY: CTRL_ATTR_FAMILY_ID = id. */
function familyReply(seq: number, id: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt32LE(28, 0);
  b.writeUInt16LE(0x10, 4);
  b.writeUInt32LE(seq, 8);
  b.writeUInt16LE(6, 20); // nla_len
  b.writeUInt16LE(1, 22); // CTRL_ATTR_FAMILY_ID
  b.writeUInt16LE(id, 24);
  return b;
}

/**
 * A kernel stand-in that answers each request after `delayMs` of real time (a family reply and an
 * acknowledgement for GETFAMILY, else `answer(seq)`), or never.
 */
class SlowKernel implements NetlinkIo {
  readonly queue: Buffer[] = [];
  readonly sent: Buffer[] = [];
  recvCalls = 0;
  recvAfterClose = 0;
  closed = false;
  constructor(
    private readonly delayMs: number | null,
    private readonly answer: (seq: number, msg: Buffer) => Buffer = (seq) => ack(seq),
  ) {}
  send(msg: Buffer): number {
    this.sent.push(Buffer.from(msg));
    const seq = msg.readUInt32LE(8);
    const family = msg.readUInt16LE(4);
    const replies = family === 0x10 ? [Buffer.concat([familyReply(seq, 33), ack(seq)])] : [this.answer(seq, msg)];
    if (this.delayMs !== null) setTimeout(() => this.queue.push(...replies), this.delayMs);
    return msg.length;
  }
  recv(into: Buffer): number {
    this.recvCalls++;
    if (this.closed) this.recvAfterClose++;
    const next = this.queue.shift();
    if (!next) return -11; // EAGAIN
    next.copy(into);
    return next.length;
  }
  close(): void {
    this.closed = true;
  }
}

const local = { address: 'fc00:1::1', id: 2 };
const remote = { address: 'fc00:2::1', port: 7780 };

test('the event loop keeps running while a path manager request waits for its answer (issue 12 item 18)', async () => {
  const kernel = new SlowKernel(80);
  const pm = new UserspacePm({ io: () => kernel, timeoutMs: 1000 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    const t0 = Date.now();
    const done = pm.createSubflow(0x1234, local, remote);
    assert.equal(ticks, 0);
    await done;
    assert.ok(Date.now() - t0 >= 150, 'two answers (the family, the subflow), 80 ms each');
    // a busy-wait of 160 ms would let no 5 ms timer fire in between
    assert.ok(ticks >= 5, `only ${ticks} timer ticks while the requests waited`);
  } finally {
    clearInterval(timer);
    pm.close();
  }
  assert.equal(kernel.sent.length, 2);
  assert.equal(kernel.sent[1]!.readUInt16LE(4), 33, 'the subflow request goes to the resolved family');
  assert.ok(kernel.recvCalls < 200, `${kernel.recvCalls} reads: the retries back off`);
});

test('no answer: MPTCP_PM_FAILED at the deadline, timers running meanwhile', async () => {
  const pm = new UserspacePm({ io: () => new SlowKernel(null), timeoutMs: 60 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    await assert.rejects(pm.open(), (e: unknown) => isSrError(e, 'MPTCP_PM_FAILED') && /no netlink answer in 60 ms/.test(e.message));
    assert.ok(ticks >= 3, `only ${ticks} timer ticks`);
  } finally {
    clearInterval(timer);
    pm.close();
  }
});

test('a refused request rejects with its errno; requests on one socket go one at a time', async () => {
  const ENOTCONN = 107;
  let n = 0;
  const kernel = new SlowKernel(10, (seq) => ack(seq, ++n === 2 ? -ENOTCONN : 0));
  const pm = new UserspacePm({ io: () => kernel, timeoutMs: 1000 });
  try {
    const results = await Promise.allSettled([
      pm.createSubflow(1, local, remote),
      pm.setBackup(1, local, remote, true),
      pm.createSubflow(2, local, remote),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    const e = (results[1] as PromiseRejectedResult).reason as { errno?: number };
    assert.ok(isSrError(e, 'MPTCP_PM_FAILED'));
    assert.equal(e.errno, ENOTCONN);
    // one GETFAMILY, then the three requests in order, each sent after the previous one's answer
    assert.deepEqual(kernel.sent.map((m) => m.readUInt32LE(8)), [1, 2, 3, 4]);
    assert.deepEqual(kernel.sent.slice(1).map((m) => m[16]), [10, 7, 10]);
  } finally {
    pm.close();
  }
});

test('closing the path manager fails a waiting request and stops reading the descriptor', async () => {
  const kernel = new SlowKernel(null);
  const pm = new UserspacePm({ io: () => kernel, timeoutMs: 5000 });
  const waiting = pm.open();
  await new Promise((r) => setTimeout(r, 20));
  pm.close();
  await assert.rejects(waiting, (e: unknown) => isSrError(e, 'MPTCP_PM_FAILED') && /closed/.test(e.message));
  assert.equal(kernel.recvAfterClose, 0);
});

test('the real kernel: the mptcp_pm family resolves over generic netlink, asynchronously', { skip: !existsSync('/proc/sys/net/mptcp') && 'no MPTCP in this kernel' }, async () => {
  const pm = new UserspacePm();
  try {
    // a read-only query (CTRL_CMD_GETFAMILY): nothing changes in this namespace
    await pm.open();
    await pm.open(); // resolved once, kept
  } finally {
    pm.close();
  }
});
