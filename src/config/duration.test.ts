import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSrError } from '../core/errors.js';
import { duration, durationArgument, parseDurationText, TIMER_MAX_MS } from './duration.js';

test('durations: ms numbers and unit strings', () => {
  const d = duration();
  assert.equal(d.parse(1500), 1500);
  assert.equal(d.parse('500ms'), 500);
  assert.equal(d.parse('1.5s'), 1500);
  assert.equal(d.parse('2m'), 120_000);
  assert.equal(d.parse('1h'), 3_600_000);
  assert.equal(parseDurationText('soon'), undefined);
});

test('every duration is bounded by what a Node timer honours (2^31-1 ms); tighter bounds per field', () => {
  const d = duration();
  assert.equal(d.parse(TIMER_MAX_MS), TIMER_MAX_MS);
  for (const bad of [TIMER_MAX_MS + 1, '36000m', '597h', `${'9'.repeat(15)}ms`, -1, 1.5, Number.NaN, Infinity, 'soon', '5 s', '1e9ms']) {
    assert.equal(d.safeParse(bad).success, false, `${String(bad)} accepted`);
  }
  const connect = duration({ min: 1, max: 60_000 });
  assert.equal(connect.safeParse('2m').success, false);
  assert.equal(connect.safeParse(0).success, false);
  assert.match(connect.safeParse('2m').error!.issues[0]!.message, /between 1ms and 1m/);
  // a max above the timer ceiling is clamped to it
  assert.equal(duration({ max: 2 ** 40 }).safeParse(TIMER_MAX_MS + 1).success, false);
});

test('durationArgument: bare numbers in the given unit, BAD_ARGUMENT outside the bounds', () => {
  assert.equal(durationArgument('30', '--refresh', { unit: 's', min: 1000 }), 30_000);
  assert.equal(durationArgument('2m', '--refresh', { unit: 's' }), 120_000);
  assert.equal(durationArgument(2500, 'deadlineMs'), 2500);
  for (const bad of ['soon', '0.1', '1e7', 'NaN', '']) {
    assert.throws(() => durationArgument(bad, '--refresh', { unit: 's', min: 1000, max: 86_400_000 }), (e: unknown) => isSrError(e, 'BAD_ARGUMENT') && e.message.startsWith('--refresh: '));
  }
  assert.throws(() => durationArgument(1e12, 'deadlineMs', { max: 3_600_000 }), (e: unknown) => isSrError(e, 'BAD_ARGUMENT'));
  assert.throws(() => durationArgument({}, 'deadlineMs'), (e: unknown) => isSrError(e, 'BAD_ARGUMENT'));
});
