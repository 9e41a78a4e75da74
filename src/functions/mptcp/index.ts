/**
 * `mptcp`: the customer-side TCP → MPTCP converter (the paper's II-B). The client's flow leaves this
 * proxy as ONE MPTCP connection from this proxy's first live uplink to the next segment — the operator-side
 * converter's SID — at its converter port, starting with the converter header (codec/convert.ts) that
 * tells it the client, the server and the segments after it. Subflows on the other uplinks are asked
 * for per connection from the userspace path manager; the argument picks the policy:
 * 0 bond (every uplink carries data), 1 backup (the other uplinks only when the first fails),
 * 2 low-delay (the uplink with the lowest RTT carries data, the others stand by as backups).
 * The bytestream is relayed unchanged. docs/mptcp.md has the details.
 */
import type net from 'node:net';
import { networkInterfaces } from 'node:os';
import { encodeConvertHeader } from '../../codec/convert.js';
import { SrError } from '../../core/errors.js';
import { mptcpToken, subflowPaths, UserspacePm } from '../../mptcp/pm.js';
import { native } from '../../native/addon.js';
import { outboundSocket } from '../../native/sockets.js';
import { parseAddress } from '../../net/ip6.js';
import { defineFunction, IDENTITY, type ArgumentSpec, type CounterHandle, type FlowContext, type FlowTransforms } from '../../sdk/types.js';
import { mptcpOptions, POLICIES, policyFor, type MptcpOptions, type Policy } from './options.js';

const ENOTCONN = 107;
const TCP_ESTABLISHED = 1;

const POLICY_LIST = POLICIES.map((p, i) => `${i} ${p}`).join(', ');

/** The argument picks the subflow policy; any other value is rejected. */
export const POLICY_ARGUMENT: ArgumentSpec<Policy> = {
  description: `the subflow policy: ${POLICY_LIST}; any other value is rejected`,
  parse: (argument, { reject }) => policyFor(argument) ?? reject(`not a policy (${POLICY_LIST})`),
};

export interface MptcpState {
  pm: UserspacePm;
  subflows: CounterHandle;
}

/**
 * The uplinks in the order to use them: those on an interface that is up and running now first (libuv
 * lists only those addresses), each group in the configured order. The first carries the initial
 * subflow, so a flow still starts when the first configured uplink is down.
 */
export function uplinkOrder(uplinks: readonly string[], live = liveAddresses()): string[] {
  const isLive = (a: string): boolean => live.has(parseAddress(a).toString('hex'));
  return [...uplinks.filter(isLive), ...uplinks.filter((a) => !isLive(a))];
}

function liveAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv6') out.add(parseAddress(a.address).toString('hex'));
  }
  return out;
}

/**
 * Asks for one subflow per extra uplink, retrying while the connection is not fully established.
 * The path manager's requests are asynchronous: the worker goes on relaying meanwhile.
 */
function addSubflows(flow: FlowContext<MptcpOptions, MptcpState, Policy>, token: number, policy: Policy, remote: { address: string; port: number }, extra: readonly string[]): void {
  const { pm, subflows } = flow.state;
  const pending = extra.map((address, i) => ({ address, id: i + 2 }));
  const deadline = Date.now() + flow.options.joinWithinMs;
  const attempt = async (): Promise<void> => {
    for (const local of [...pending]) {
      if (flow.signal.aborted) return;
      try {
        await pm.createSubflow(token, { ...local, backup: policy === 'backup' }, remote);
        pending.splice(pending.indexOf(local), 1);
        subflows.inc({ result: 'created', policy });
      } catch (e) {
        const errno = (e as { errno?: number }).errno;
        if (errno === ENOTCONN && Date.now() < deadline) continue; // not fully established yet
        pending.splice(pending.indexOf(local), 1);
        subflows.inc({ result: 'failed', policy });
        flow.log.warn({ uplink: local.address, error: (e as Error).message }, 'mptcp: no subflow on this uplink; the flow goes on without it');
      }
    }
    if (pending.length && !flow.signal.aborted) setTimeout(run, 20).unref();
  };
  const run = (): void => void attempt().catch((e: unknown) => flow.log.warn({ error: (e as Error).message }, 'mptcp: adding subflows failed'));
  run();
}

/**
 * low-delay: once every uplink has a subflow with an RTT sample, the subflow with the lowest minimum
 * RTT is the only one not flagged backup (MP_PRIO to the peer too); the minima are compared again
 * every `lowDelayCheckMs` and the choice moves only for a path at least 20 % faster. Minimum, not
 * smoothed, RTTs: the queue a busy link builds must not make the choice flap.
 */
function preferLowestRtt(flow: FlowContext<MptcpOptions, MptcpState, Policy>, socket: net.Socket, token: number, remotePort: number): void {
  const minRtt = new Map<string, number>();
  let chosen: string | undefined;
  let busy = false;
  const check = async (): Promise<void> => {
    let paths;
    try {
      paths = subflowPaths(socket).filter((p) => p.state === TCP_ESTABLISHED && p.rttUs > 0);
    } catch {
      clearInterval(timer); // the connection is gone
      return;
    }
    for (const p of paths) minRtt.set(p.local, Math.min(minRtt.get(p.local) ?? Infinity, p.rttUs));
    if (minRtt.size < flow.options.uplinks.length) return; // not every uplink has a sample yet
    const [best] = [...minRtt].sort((a, b) => a[1] - b[1])[0]!;
    if (best === chosen || (chosen !== undefined && minRtt.get(best)! > 0.8 * minRtt.get(chosen)!)) return;
    try {
      for (const p of paths) await flow.state.pm.setBackup(token, { address: p.local }, { address: p.remote, port: remotePort }, p.local !== best);
    } catch (e) {
      flow.log.warn({ error: (e as Error).message }, 'mptcp low-delay: could not change the subflows’ priorities');
      return;
    }
    flow.log.debug({ uplink: best, rttUs: Object.fromEntries(minRtt) }, 'mptcp low-delay: data on the fastest uplink');
    flow.state.subflows.inc({ result: 'preferred', policy: 'low-delay' });
    chosen = best;
  };
  // one check at a time: a check waits for the path manager's answers
  const timer = setInterval(() => {
    if (busy || flow.signal.aborted) return;
    busy = true;
    void check()
      .catch((e: unknown) => flow.log.warn({ error: (e as Error).message }, 'mptcp low-delay: check failed'))
      .finally(() => (busy = false));
  }, flow.options.lowDelayCheckMs);
  timer.unref();
  flow.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}

export const mptcp = defineFunction({
  name: 'mptcp',
  summary: 'TCP → MPTCP converter, customer side: one MPTCP connection over the uplinks to the next converter',
  options: mptcpOptions,
  argument: POLICY_ARGUMENT,
  resets: {},
  requires: ['mptcp-userspace'],
  init: (_o, env): MptcpState => ({
    pm: new UserspacePm(),
    subflows: env.metrics.counter('mptcp_subflows_total', 'extra subflows asked for, by result and policy', ['result', 'policy']),
  }),
  deinit: (s) => s.pm.close(),
  spawn(flow): FlowTransforms {
    const policy = flow.arg;
    const peer = flow.path[flow.position + 1]!;
    const remote = { address: peer, port: flow.options.port };
    let uplinks = flow.options.uplinks;
    return {
      upstream: IDENTITY,
      downstream: IDENTITY,
      carrier: {
        open(onward) {
          if (flow.position + 2 >= flow.path.length) {
            throw new SrError('CONFIG_INVALID', `mptcp: the segment after ${flow.sid} is the server: no operator-side converter on the path`);
          }
          // the onward SRH's TLVs (a return-path TLV, one step on) travel to OP in the header
          const preamble = encodeConvertHeader({ client: flow.client, server: flow.server, sid: peer, segments: flow.path.slice(flow.position + 2, -1), srhTlvs: [...onward.tlvs] });
          const socket = outboundSocket({ protocol: native().constants.IPPROTO_MPTCP }, { allowHalfOpen: true });
          uplinks = uplinkOrder(flow.options.uplinks);
          return { socket, connect: { host: peer, port: flow.options.port, localAddress: uplinks[0]! }, preamble };
        },
        connected(socket) {
          const token = mptcpToken(socket);
          if (token === 0) {
            flow.log.warn('mptcp: the connection fell back to TCP: one path only');
            return;
          }
          addSubflows(flow, token, policy, remote, uplinks.slice(1));
          if (policy === 'low-delay') preferLowestRtt(flow, socket, token, remote.port);
        },
      },
    };
  },
});
