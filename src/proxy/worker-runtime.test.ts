import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { WORKER_NODE_FLAGS, workerExecArgv } from './worker-runtime.js';

const FLAG = { name: '--max-semi-space-size', value: '2', why: 'test' };

test('a worker gets the table’s Node flags after the primary’s own execArgv', () => {
  assert.deepEqual(workerExecArgv(['--enable-source-maps'], {}, [FLAG]), ['--enable-source-maps', '--max-semi-space-size=2']);
  assert.deepEqual(workerExecArgv([], {}, []), []);
});

test('the operator’s Node flag wins, from execArgv or NODE_OPTIONS, in any spelling', () => {
  assert.deepEqual(workerExecArgv(['--max-semi-space-size=16'], {}, [FLAG]), ['--max-semi-space-size=16']);
  assert.deepEqual(workerExecArgv([], { NODE_OPTIONS: '--perf-prof  --max_semi_space_size=8' }, [FLAG]), []);
  assert.deepEqual(workerExecArgv([], { NODE_OPTIONS: '--max-old-space-size=100' }, [FLAG]), ['--max-semi-space-size=2']);
});

test('the table’s flags are accepted by this node', () => {
  const argv = workerExecArgv([], {});
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['NODE_OPTIONS'];
  const out = execFileSync(process.execPath, [...argv, '-p', 'process.execArgv.join(" ")'], { env, encoding: 'utf8' });
  for (const f of WORKER_NODE_FLAGS) assert.ok(out.includes(`${f.name}=${f.value}`), out);
});
