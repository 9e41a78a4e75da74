/**
 * Proxy configs for the `mptcp` lab (src/lab/topologies/mptcp.yaml): the customer-side converter cp
 * (function 7: xdsl first, function 8: lte first; the argument picks the policy) and the operator-side
 * converter op (its converter port, open to cp's uplinks only, then `copy` on function 1). A return
 * path can name op's `compress` (3) and cp's `decompress` (4): the replies cross the bonded links compressed. Used by the demo and the tests.
 */
export const MPTCP_CP_YAML = [
  'workers: 1',
  'locators: [ { prefix: "fc00:a::/80" } ]',
  'functions:',
  '  - { id: 7, vf: mptcp, options: { port: 7780, uplinks: ["fc00:31::1", "fc00:32::1"] } }',
  '  - { id: 8, vf: mptcp, options: { port: 7780, uplinks: ["fc00:32::1", "fc00:31::1"] } }   # lte first',
  '  - { id: 4, vf: decompress }   # for the replies, when a return path names it',
  'mptcp: { pathManager: userspace, subflows: 4 }',
  'timeouts: { connect: 3s, drain: 3s }',
].join('\n');

export const MPTCP_OP_YAML = [
  'workers: 1',
  'locators: [ { prefix: "fc00:b::/80" } ]',
  'functions:',
  '  - { id: 1, vf: copy }',
  '  - { id: 3, vf: compress }   # for the replies, when a return path names it',
  'mptcp: { subflows: 4, converter: { port: 7780, from: ["fc00:31::/64", "fc00:32::/64"] } }',
  'timeouts: { connect: 3s, drain: 3s }',
].join('\n');

/** The path through cp's converter (function 7 or 8, the policy in the argument) and op's copy. */
export const mptcpSegments = (policy: number, fn = 7): string => `fc00:a::${fn}:0:${policy},fc00:b::1:0:0`;
