import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flowEndLabel } from '../sdk/flow-end.js';
import { refuseStart } from './worker.js';

test('a draining worker refuses a flow it placed as PROXY_DRAINING, not FLOW_CONNECT_FAILED; a link-local client as FLOW_LINK_LOCAL', () => {
  const draining = refuseStart(true, 'fc00:1::2', 'fc00:2::2');
  assert.equal(draining?.code, 'PROXY_DRAINING');
  assert.equal(flowEndLabel(draining!), 'PROXY_DRAINING', 'counted under that code');
  assert.equal(refuseStart(false, 'fe80::1', 'fc00:2::2')?.code, 'FLOW_LINK_LOCAL');
  assert.equal(refuseStart(false, 'fc00:1::2', 'fc00:2::2'), undefined);
});
