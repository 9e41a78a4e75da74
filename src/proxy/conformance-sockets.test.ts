/**
 * Every built-in function's conformance cases over real loopback sockets, on every relay: the
 * JavaScript relay and the native relay thread in each mode (src/sdk/conformance-sockets.ts,
 * src/proxy/conformance-relays.ts). A function the native relay takes runs there; one it declines
 * is seen to fall back to the JavaScript relay, and passes the same checks.
 */
// run-tests: long (about 90 s, mostly waiting on sockets: scripts/run-tests.mjs starts it first)
import { socketConformance } from '../sdk/conformance-sockets.js';
import { relayVariants } from './conformance-relays.js';
import { BUILTIN_FUNCTIONS } from '../functions/all.js';
import { casesOf } from '../functions/cases.js';

const relays = relayVariants();
for (const d of BUILTIN_FUNCTIONS) {
  const cases = await casesOf(d);
  if (cases.length > 0) socketConformance(d, cases, relays);
}
