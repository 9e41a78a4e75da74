import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Option } from 'commander';
import { isSrError } from '../core/errors.js';
import { COMMANDS } from './commands/index.js';
import { main, parseOptions } from './main.js';
import { duration, flag, int, list, longFlag, oneOf, port, portArgument, text } from './options.js';

const badArgument = (flagName: string) => (e: unknown) => isSrError(e, 'BAD_ARGUMENT') && e.message.startsWith(`${flagName}: `) && e.hint.length > 0;

test('the option table: every key is commander’s attribute name for its flags, every default parses', () => {
  for (const c of COMMANDS) {
    for (const [key, o] of Object.entries(c.options ?? {})) {
      assert.equal(new Option(o.flags).attributeName(), key, `${c.name}: ${o.flags}`);
      if (o.default !== undefined) o.parse(o.default, longFlag(o.flags));
      o.parse(undefined, longFlag(o.flags));
    }
  }
});

test('whole numbers: digits only, within the bounds; absent = undefined or the default', () => {
  const n = int('--reps <n>', 'x', { min: 1, max: 100 });
  assert.equal(n.parse('7', '--reps'), 7);
  assert.equal(n.parse(undefined, '--reps'), undefined);
  for (const bad of ['abc', '', '1.5', '1e3', '0x10', ' ', '0', '101', 'NaN', '9'.repeat(30)]) assert.throws(() => n.parse(bad, '--reps'), badArgument('--reps'), bad);
  assert.equal(int('--size <b>', 'x', { min: 1, default: 8 }).parse(undefined, '--size'), 8);
  const p = port('--port <p>', 'x');
  assert.equal(p.parse('53', '--port'), 53);
  for (const bad of ['0', '65536', 'http']) assert.throws(() => p.parse(bad, '--port'), badArgument('--port'));
  assert.equal(portArgument('8080'), 8080);
  assert.throws(() => portArgument('80x', 'PORT'), badArgument('PORT'));
});

test('durations: a unit string, or a bare number in the flag’s documented unit', () => {
  const s = duration('--refresh <seconds>', 'x', { unit: 's', min: 1000, max: 86_400_000, default: '30' });
  assert.equal(s.parse('30', '--refresh'), 30_000);
  assert.equal(s.parse('2m', '--refresh'), 120_000);
  assert.equal(s.parse(undefined, '--refresh'), 30_000);
  const ms = duration('--timeout <ms>', 'x', { unit: 'ms', min: 1 });
  assert.equal(ms.parse('1500', '--timeout'), 1500);
  assert.equal(ms.parse('2s', '--timeout'), 2000);
  assert.equal(ms.parse(undefined, '--timeout'), undefined);
  for (const bad of ['soon', '0', '-5', '1e9']) assert.throws(() => ms.parse(bad, '--timeout'), badArgument('--timeout'), bad);
  assert.throws(() => s.parse('25h', '--refresh'), (e: unknown) => isSrError(e, 'BAD_ARGUMENT') && /from 1s to 24h/.test(e.hint));
});

test('text, switches, lists, choices', () => {
  assert.equal(text('--name <n>', 'x').parse(undefined, '--name'), undefined);
  assert.equal(text('--name <n>', 'x', 'ar').parse(undefined, '--name'), 'ar');
  assert.equal(flag('--json', 'x').parse(true, '--json'), true);
  assert.equal(flag('--json', 'x').parse(undefined, '--json'), false);
  assert.deepEqual(list('--hops <l>', 'x').parse(' a, b,,c ', '--hops'), ['a', 'b', 'c']);
  assert.deepEqual(list('--hops <l>', 'x').parse(undefined, '--hops'), []);
  const level = oneOf('--log-level <l>', 'x', ['info', 'debug'], 'info');
  assert.equal(level.parse('debug', '--log-level'), 'debug');
  assert.throws(() => level.parse('loud', '--log-level'), badArgument('--log-level'));
  assert.equal(longFlag('-c, --config <file>'), '--config');
});

test('parseOptions: commander’s values become the declared types', () => {
  const demo = COMMANDS.find((c) => c.name === 'demo')!;
  assert.deepEqual(parseOptions(Object.entries(demo.options!), { size: '1024' }), { size: 1024 });
  assert.throws(() => parseOptions(Object.entries(demo.options!), { size: 'big' }), badArgument('--size'));
});

test('a bad number on the command line: exit 2, one line naming the flag and a hint, no stack, nothing run', async () => {
  const written: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    assert.equal(await main(['demo', '--size', 'lots']), 2);
    assert.equal(await main(['ctl', 'unload', '3', '--deadline', 'soon']), 2);
    assert.equal(await main(['connect', '::1', '99999']), 2);
  } finally {
    process.stderr.write = original;
  }
  const lines = written.join('').trimEnd().split('\n');
  assert.equal(lines.length, 6, lines.join('\n'));
  assert.match(lines[0]!, /^srv6pipes: --size: "lots" is not a whole number from 1 to \d+ \[BAD_ARGUMENT\]$/);
  assert.match(lines[1]!, /^  hint: e\.g\. --size 1; see --help$/);
  assert.match(lines[2]!, /^srv6pipes: --deadline: .* \[BAD_ARGUMENT\]$/);
  assert.match(lines[4]!, /^srv6pipes: PORT: "99999" is not a whole number from 1 to 65535 \[BAD_ARGUMENT\]$/);
  assert.ok(!written.join('').includes('    at '), 'no stack');
});
