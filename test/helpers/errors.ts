import assert from 'node:assert/strict';
import { SrError, type ErrorCode } from '../../src/core/errors.js';

/** The SrError code `fn` throws (asserting that the message matches `msg`), or 'no error'. */
export function errorCode(fn: () => unknown, msg?: RegExp): ErrorCode | 'no error' {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SrError, `not an SrError: ${String(e)}`);
    if (msg) assert.match(e.message, msg);
    return e.code;
  }
  return 'no error';
}
