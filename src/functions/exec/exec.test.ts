import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { native } from '../../native/addon.js';
import { initFunction, runFlow, runFunction } from '../../sdk/testing.js';
import { ChildFilter, type ChildFailure } from './child-filter.js';
import { exec, substitute } from './index.js';

const b = (s: string) => Buffer.from(s);

/** true once the process is gone: kill(pid, 0) throws ESRCH (or, when `zombieOk`, it is a zombie of another parent) */
function isGone(pid: number, zombieOk = false): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as { code?: string }).code === 'ESRCH';
  }
  if (!zombieOk) return false;
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function waitGone(pid: number, zombieOk = false, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!isGone(pid, zombieOk)) {
    if (Date.now() > until) assert.fail(`process ${pid} still alive ${ms} ms after the flow`);
    await sleep(20);
  }
}

async function readPid(file: string): Promise<number> {
  for (let i = 0; i < 250 && !existsSync(file); i++) await sleep(20);
  const pid = Number(readFileSync(file, 'utf8').trim());
  assert.ok(Number.isInteger(pid) && pid > 1, `pid file ${file}: ${pid}`);
  return pid;
}

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'srv6pipes-exec-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('exec: tr a-z A-Z in both directions, {arg} substituted', async () => {
  const r = await runFunction(exec, {
    options: { upstream: ['tr', 'a-z', 'A-Z'], downstream: ['sh', '-c', 'tr a-z A-Z; echo " arg={arg}"'] },
    argument: 42n,
    upstream: [b('hello '), b('world')],
    downstream: b('from server'),
    chunkDelayMs: 5,
  });
  assert.equal(r.reset, undefined);
  assert.equal(r.upstream.toString(), 'HELLO WORLD');
  assert.equal(r.downstream.toString(), 'FROM SERVER arg=42\n');
});

test('exec: null leaves a direction unchanged; the filter sees SRV6PIPES_* variables', async () => {
  const r = await runFunction(exec, {
    options: { downstream: ['sh', '-c', 'cat >/dev/null; printf "%s %s %s" "$SRV6PIPES_ARGUMENT" "$SRV6PIPES_DIRECTION" "$GREETING"'], env: { GREETING: 'hi' } },
    argument: 7,
    upstream: b('as is'),
    downstream: b('ignored'),
  });
  assert.equal(r.reset, undefined);
  assert.equal(r.upstream.toString(), 'as is');
  assert.equal(r.downstream.toString(), '7 downstream hi');
});

test('exec: 2 MiB through cat with a slow consumer: intact, back-pressure pauses the source', async () => {
  const data = randomBytes(2 * 1024 * 1024);
  const parts = [];
  for (let i = 0; i < data.length; i += 65536) parts.push(data.subarray(i, i + 65536));
  const r = await runFunction(exec, { options: { upstream: ['cat'], downstream: ['cat'] }, upstream: parts, downstream: parts, slowConsumer: true });
  assert.equal(r.reset, undefined);
  assert.ok(r.upstream.equals(data));
  assert.ok(r.downstream.equals(data));
  assert.ok(r.pauses > 0, 'the sources were paused');
});

test('exec: a filter that stops reading early (head -c 5) ends its direction cleanly', async () => {
  const r = await runFunction(exec, { options: { upstream: ['head', '-c', '5'] }, upstream: randomBytes(1024 * 1024).fill(0x61), downstream: b('ok') });
  assert.equal(r.reset, undefined);
  assert.equal(r.upstream.toString(), 'aaaaa');
  assert.equal(r.downstream.toString(), 'ok');
});

test('exec: `false` (exit 1) and a filter killed by a signal reset the flow', async () => {
  for (const argv of [['false'], ['sh', '-c', 'kill -9 $$']]) {
    const r = await runFunction(exec, { options: { upstream: argv }, upstream: b('data'), downstream: b('x') });
    assert.equal(r.reset, 'exec_failed', argv.join(' '));
  }
});

test('exec: stderr is split into lines, its tail reported with the exit code', async () => {
  const lines: string[] = [];
  const failure = await new Promise<ChildFailure>((resolve) => {
    const f = new ChildFilter({
      argv: ['sh', '-c', 'echo one >&2; printf "two\\nthree" >&2; exit 3'],
      env: process.env,
      graceMs: 100,
      onStderrLine: (l) => lines.push(l),
      onFailure: resolve,
    });
    f.resume();
    f.end();
  });
  assert.deepEqual(lines, ['one', 'two', 'three']);
  assert.equal(failure.code, 3);
  assert.equal(failure.stderr, 'one\ntwo\nthree');
});

test("exec: sh -c 'exit 3' resets the flow, and the child is gone", async () => {
  const dir = tmp();
  const r = await runFunction(exec, { options: { downstream: ['sh', '-c', `echo $$ > ${dir}/pid; exit 3`] }, upstream: b('x'), downstream: b('y') });
  assert.equal(r.reset, 'exec_failed');
  await waitGone(await readPid(join(dir, 'pid')));
});

test('exec: a nonexistent binary resets the flow as a failed spawn (exec_spawn_failed)', async () => {
  const r = await runFunction(exec, { options: { upstream: ['/nonexistent/srv6pipes-no-such-filter'] }, upstream: b('x'), downstream: b('y') });
  assert.equal(r.reset, 'exec_spawn_failed');
});

/** Runs `fn` with this process out of descriptors: soft RLIMIT_NOFILE at the highest fd + 1, every lower fd taken. */
function withoutDescriptors<T>(fn: () => T): T {
  const n = native();
  const [soft, hard] = n.getNofile();
  const maxFd = Math.max(...readdirSync('/proc/self/fd').map(Number));
  const fillers: number[] = [];
  n.setNofile(maxFd + 1, hard);
  try {
    for (;;) fillers.push(openSync('/dev/null', 'r'));
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'EMFILE');
  }
  try {
    return fn();
  } finally {
    for (const fd of fillers) closeSync(fd);
    n.setNofile(soft, hard);
  }
}

test('exec: spawn at EMFILE is a failure with a reason (spawnFailed, EMFILE), not a TypeError', async () => {
  const failure = await new Promise<ChildFailure>((resolve, reject) => {
    try {
      const f = withoutDescriptors(() => new ChildFilter({ argv: ['cat'], env: process.env, graceMs: 100, onStderrLine: () => undefined, onFailure: resolve }));
      f.resume();
      f.end(b('x'));
    } catch (e) {
      reject(e);
    }
  });
  assert.equal(failure.spawnFailed, true);
  assert.equal(failure.error, 'EMFILE');
});

test('exec: maxProcesses caps the filter processes of one instance; a flow beyond is reset (exec_process_limit)', async () => {
  const inst = await initFunction(exec, { upstream: ['sh', '-c', 'sleep 0.5; cat'], maxProcesses: 1 });
  try {
    const first = runFlow(exec, inst.options, inst.state, { upstream: b('first'), downstream: b('d') });
    const second = await runFlow(exec, inst.options, inst.state, { upstream: b('second'), downstream: b('d') });
    assert.equal(second.reset, 'exec_process_limit');
    const r1 = await first;
    assert.equal(r1.reset, undefined);
    assert.equal(r1.upstream.toString(), 'first');
    const third = await runFlow(exec, inst.options, inst.state, { upstream: b('third'), downstream: b('d') });
    assert.equal(third.reset, undefined, 'the process of the first flow is no longer counted');
    assert.equal(third.upstream.toString(), 'third');
  } finally {
    await inst.deinit();
  }
});

test('exec: maxProcesses is validated (at least 1) and defaults to 64', async () => {
  const inst = await initFunction(exec, { upstream: ['cat'] });
  assert.equal(inst.options.maxProcesses, 64);
  await assert.rejects(initFunction(exec, { upstream: ['cat'], maxProcesses: 0 }));
});

test('exec: the child and what it started are gone after a normal end', async () => {
  const dir = tmp();
  const r = await runFunction(exec, {
    // (the background job must not hold stdout: the direction ends when every writer has closed it)
    options: { upstream: ['sh', '-c', `echo $$ > ${dir}/pid; sleep 30 >/dev/null 2>&1 & echo $! > ${dir}/bg; cat`] },
    upstream: [b('a'), b('b')],
    downstream: b('y'),
    chunkDelayMs: 50,
  });
  assert.equal(r.reset, undefined);
  assert.equal(r.upstream.toString(), 'ab');
  await waitGone(await readPid(join(dir, 'pid')));
  await waitGone(await readPid(join(dir, 'bg')), true);
});

test('exec: resetAfterMs kills the child and its process group', async () => {
  const dir = tmp();
  const r = await runFunction(exec, {
    options: { downstream: ['sh', '-c', `echo $$ > ${dir}/pid; sleep 30 & echo $! > ${dir}/bg; wait`] },
    upstream: b('x'),
    downstream: b('y'),
    resetAfterMs: 400,
  });
  assert.equal(r.reset, 'reset_by_test');
  await waitGone(await readPid(join(dir, 'pid')));
  await waitGone(await readPid(join(dir, 'bg')), true);
});

test('exec: a child ignoring SIGTERM is SIGKILLed after graceMs', async () => {
  const dir = tmp();
  const r = await runFunction(exec, {
    options: { upstream: ['sh', '-c', `trap '' TERM; echo $$ > ${dir}/pid; while :; do sleep 0.05; done`], graceMs: 1000 },
    upstream: b('x'),
    downstream: b('y'),
    resetAfterMs: 300,
  });
  assert.equal(r.reset, 'reset_by_test');
  const pid = await readPid(join(dir, 'pid'));
  await sleep(200);
  assert.ok(!isGone(pid), 'SIGTERM is ignored: it lives on during the grace');
  await waitGone(pid);
});

test('exec: substitute and options', async () => {
  assert.deepEqual(substitute(['ffmpeg', '-b:a', '{arg}k', '{arg}{arg}'], 128n), ['ffmpeg', '-b:a', '128k', '128128']);
  const { options } = await initFunction(exec, { upstream: ['cat'] });
  assert.equal(options.downstream, null);
  assert.equal(options.graceMs, 2000);
  assert.equal(options.stderrLevel, 'info');
  await assert.rejects(initFunction(exec, {}), /set upstream, downstream or both/);
  await assert.rejects(initFunction(exec, { upstream: [] }), /options\.upstream/);
  await assert.rejects(initFunction(exec, { upstream: 'cat' }), /options\.upstream/);
  await assert.rejects(initFunction(exec, { upstream: ['cat'], shell: true }), /shell|Unrecognized/);
});
