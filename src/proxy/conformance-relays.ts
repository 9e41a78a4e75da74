/**
 * The relays the socket conformance suite (sdk/conformance-sockets.ts) runs every function on: the
 * JavaScript relay, and the native relay thread (native/relay.c) as the flow's pair relay in each of
 * its modes — what the proxy runs with `nativeRelay: {}` (auto) or `nativeRelay: { mode }`. Without
 * the native addon (a third party's `srv6pipes/testing` without a build) the native variants are
 * skipped, with the reason in the test output: never passed without running.
 */
import type net from 'node:net';
import { native } from '../native/addon.js';
import { NativeRelay, relayOptionsSchema, type RelayMode } from '../native/relay.js';
import type { RelayVariant, RelayVariantFactory } from '../sdk/conformance-sockets.js';
import type { StreamOps } from '../sdk/flow.js';
import { SOCKET_OPS } from './flow.js';
import { nativePairRelay } from './native-relay.js';

/** The JavaScript relay's bound per direction: the socket's write buffer (16 KiB) plus the chunks of one read and one transform output. */
export const JS_RELAY_BOUND = 1 << 20;

/** Sockets without the addon: a reset is Node's resetAndDestroy (SO_LINGER 0 + close through libuv). */
const NODE_SOCKET_OPS: StreamOps = {
  reset: (s) => void (s as net.Socket).resetAndDestroy(),
  abortive: () => undefined,
  orderly: () => undefined,
};

export interface RelayVariantOptions {
  /** the modes of the native relay to run (default: all of them) */
  modes?: readonly RelayMode[];
  /** makes a native relay (default: `new NativeRelay`); a test may make it fail as a missing addon does */
  makeRelay?: (mode: RelayMode) => NativeRelay;
}

/** Why the native relay cannot run here, or undefined when it can. */
function nativeUnavailable(make: () => NativeRelay): { relay?: NativeRelay; skip?: string } {
  try {
    return { relay: make() };
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { skip: `the native relay cannot run here (${code ?? 'error'}: ${(e as Error).message}); build the addon (npm run setup) to run these checks on it` };
  }
}

/** The JavaScript relay, then the native relay in each mode. */
export function relayVariants(o: RelayVariantOptions = {}): RelayVariantFactory[] {
  const make = o.makeRelay ?? ((mode: RelayMode) => new NativeRelay({ mode }));
  const modes = o.modes ?? (relayOptionsSchema.shape.mode.removeDefault().options as readonly RelayMode[]);
  const js: RelayVariantFactory = {
    name: 'javascript',
    // the proxy's socket ops when the addon is there (SO_LINGER through it), Node's own otherwise
    open: (): RelayVariant => ({ name: 'javascript', ops: hasAddon() ? SOCKET_OPS : NODE_SOCKET_OPS, bound: JS_RELAY_BOUND, tcpState }),
  };
  return [
    js,
    ...modes.map(
      (mode): RelayVariantFactory => ({
        name: `native:${mode}`,
        open: (): RelayVariant => {
          const { relay, skip } = nativeUnavailable(() => make(mode));
          if (!relay) return { name: `native:${mode}`, skip: skip!, ops: NODE_SOCKET_OPS, bound: 0 };
          // a declined function's fallback is the JavaScript relay (sdk/relay.ts, the same code as the
          // 'javascript' variant's): checked there; here only that it is declined (the first check)
          return { name: `native:${mode}`, ops: SOCKET_OPS, pairRelay: nativePairRelay(relay), bound: relay.options.capacity, tcpState, close: () => relay.close(), fallbackElsewhere: 'javascript' };
        },
      }),
    ),
  ];
}

const TCP_INFO = 11;

/** tcpi_state of a Node socket, through the addon (undefined without a descriptor or the addon) */
function tcpState(s: net.Socket): number | undefined {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) return undefined;
  try {
    const n = native();
    return n.getsockoptBuffer(fd, n.constants.IPPROTO_TCP, TCP_INFO, 8)[0];
  } catch {
    return undefined;
  }
}

function hasAddon(): boolean {
  try {
    native();
    return true;
  } catch {
    return false;
  }
}
