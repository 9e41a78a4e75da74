import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUILTIN_FUNCTIONS } from '../functions/all.js';
import type { FunctionInfo } from '../sdk/describe.js';
import { formatFunctions } from './function-list.js';

const BIN = fileURLToPath(new URL('../../../bin/srv6pipes', import.meta.url));

test('formatFunctions: per function its summary, argument, options, reset reasons and requirements', () => {
  const infos: FunctionInfo[] = [
    {
      name: 'ratelimit',
      summary: 'limit the rate',
      argument: 'the rate',
      options: [
        { name: 'burst', type: 'integer 1..9', required: false, default: 4, description: 'bucket size' },
        { name: 'key', type: 'string', required: true, description: 'a key' },
        { name: 'cwd', type: 'string', required: false, description: 'a directory' },
      ],
      resets: { ratelimit_x: 'why' },
      requires: [{ name: 'mptcp-userspace', description: 'MPTCP' }],
    },
    { name: 'old', summary: 'a 0.1 module', argument: null, options: null, resets: null, requires: [] },
    { name: 'copy', summary: 'relay', argument: 'unused', options: [], resets: {}, requires: [] },
  ];
  assert.equal(
    formatFunctions(infos),
    [
      'ratelimit — limit the rate',
      '  argument: the rate',
      '  options:',
      '    burst  integer 1..9  (default 4)  bucket size',
      '    key    string        (required)   a key',
      '    cwd    string        (optional)   a directory',
      '  resets:',
      '    ratelimit_x  why',
      '  requires: mptcp-userspace — MPTCP',
      '',
      'old — a 0.1 module',
      '  argument: (not described)',
      '  options: (not readable from its schema)',
      '  resets: (not declared)',
      '',
      'copy — relay',
      '  argument: unused',
      '  options: none',
      '  resets: none of its own',
      '',
    ].join('\n'),
  );
});

test('srv6pipes functions [--json]: every built-in with its argument and options, from the descriptors', () => {
  const json = spawnSync(process.execPath, [BIN, 'functions', '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(json.status, 0, json.stderr);
  const infos = JSON.parse(json.stdout) as FunctionInfo[];
  assert.deepEqual(infos.map((f) => f.name), BUILTIN_FUNCTIONS.map((d) => d.name));
  for (const f of infos) {
    assert.ok(f.argument, `${f.name}: argument described`);
    assert.ok(Array.isArray(f.options), `${f.name}: options readable`);
    assert.ok(f.resets && typeof f.resets === 'object', `${f.name}: resets declared`);
  }
  const xor = infos.find((f) => f.name === 'xor')!;
  assert.deepEqual(xor.options, [{ name: 'passes', type: 'integer 0..1024', required: false, default: 1, description: 'how many times each byte is XORed' }]);
  assert.deepEqual(infos.find((f) => f.name === 'mptcp')!.requires.map((r) => r.name), ['mptcp-userspace']);

  const text = spawnSync(process.execPath, [BIN, 'functions'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^xor — XOR each byte/m);
  assert.match(text.stdout, /^ {4}passes {2}integer 0\.\.1024 {2}\(default 1\) {2}how many times each byte is XORed$/m);
  assert.match(text.stdout, /^ {2}argument: the subflow policy: 0 bond, 1 backup, 2 low-delay/m);
  assert.match(text.stdout, /^ {4}ids_blocked {2}/m);
});
