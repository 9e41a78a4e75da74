/** The relays of the socket conformance suite: the native ones are skipped with a reason when the addon cannot load, never passed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SrError } from '../core/errors.js';
import { relayVariants } from './conformance-relays.js';

test('relayVariants: javascript, then native in each mode; without the addon the native ones carry a skip reason and no relay', () => {
  const missing = relayVariants({
    makeRelay: () => {
      throw new SrError('NATIVE_MISSING', 'cannot load the native addon build/Release/srv6pipes_native.node');
    },
  });
  assert.deepEqual(
    missing.map((f) => f.name),
    ['javascript', 'native:splice', 'native:copy', 'native:auto'],
  );
  const [js, ...natives] = missing.map((f) => f.open());
  assert.equal(js!.skip, undefined);
  for (const v of natives) {
    assert.match(v.skip ?? '', /NATIVE_MISSING.*build the addon/, `${v.name} not skipped with the reason`);
    assert.equal(v.pairRelay, undefined);
  }
});

test('relayVariants: with the addon the native variants have a pair relay and the relay capacity as their bound', () => {
  const [, splice] = relayVariants({ modes: ['splice'] }).map((f) => f.open());
  try {
    assert.equal(splice!.skip, undefined);
    assert.equal(typeof splice!.pairRelay, 'function');
    assert.equal(splice!.bound, 256 * 1024);
  } finally {
    splice!.close?.();
  }
});
