/**
 * Loads the native addon and types it. node-gyp-build picks the binary: a local build
 * (build/Release/srv6pipes_native.node: a clone after `npm run setup`, or an install that compiled)
 * first, else the prebuilt one shipped in the package (prebuilds/linux-<arch>/, N-API: any Node
 * version). Loaded on first use: the SDK and `srv6pipes/testing` never need it.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { SrError } from '../core/errors.js';

export interface NativeConstants {
  AF_INET6: number;
  SOCK_STREAM: number;
  IPPROTO_TCP: number;
  IPPROTO_MPTCP: number;
  IPPROTO_IPV6: number;
  SOL_SOCKET: number;
  SO_REUSEADDR: number;
  SO_REUSEPORT: number;
  SO_MARK: number;
  SO_ERROR: number;
  SO_LINGER: number;
  TCP_NODELAY: number;
  IPV6_V6ONLY: number;
  IPV6_TRANSPARENT: number;
  IPV6_RECVRTHDR: number;
  IPV6_RTHDR: number;
  IPV6_2292PKTOPTIONS: number;
  SIZEOF_SIZE_T: number;
  AF_PACKET: number;
  SOCK_RAW: number;
  ETH_P_ALL: number;
  SOL_PACKET: number;
  PACKET_IGNORE_OUTGOING: number;
  PACKET_STATISTICS: number;
  PACKET_VNET_HDR: number;
  SO_RCVBUF: number;
  SO_SNDBUF: number;
  SO_RCVBUFFORCE: number;
  SO_SNDBUFFORCE: number;
  MSG_TRUNC: number;
  MSG_DONTWAIT: number;
  POLLIN: number;
  POLLOUT: number;
  POLLERR: number;
  EAGAIN: number;
  ENOBUFS: number;
  EINTR: number;
  AF_NETLINK: number;
  NETLINK_GENERIC: number;
  SOL_MPTCP: number;
  MPTCP_INFO: number;
  MPTCP_TCPINFO: number;
  MPTCP_SUBFLOW_ADDRS: number;
}

/** Thin syscalls; each throws an Error whose `code` is the errno name and `syscall` the call. */
export interface NativeAddon {
  socket(domain: number, type: number, protocol: number): number;
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  setsockoptBuffer(fd: number, level: number, name: number, value: Buffer | null): void;
  getsockoptInt(fd: number, level: number, name: number): number;
  /** `input`: copied into the buffer first, for options that read a request from it (MPTCP_TCPINFO) */
  getsockoptBuffer(fd: number, level: number, name: number, maxLength: number, input?: Buffer): Buffer;
  bind6(fd: number, address: Buffer, port: number, scopeId: number): void;
  listen(fd: number, backlog: number): void;
  /** non-blocking connect: 0 connected, 1 in progress (EINPROGRESS); other failures throw */
  connect6(fd: number, address: Buffer, port: number): number;
  close(fd: number): void;
  /** if_nametoindex in this network namespace */
  ifIndex(name: string): number;
  /** bind an AF_PACKET socket to an interface; protocol in host byte order (ETH_P_ALL) */
  bindPacket(fd: number, ifindex: number, protocol: number): void;
  /** per-packet: bytes (with MSG_TRUNC on a packet socket, the frame's full length), or -errno; never throws for a failed call */
  recv(fd: number, buffer: Buffer, offset: number, length: number, flags: number): number;
  /** per-packet: bytes sent, or -errno (-EAGAIN, -ENOBUFS, ...) */
  send(fd: number, buffer: Buffer, offset: number, length: number, flags: number): number;
  /** ppoll: fills revents, returns the number of ready fds (0 on timeout or EINTR); timeoutUs < 0 waits */
  poll(fds: Int32Array, events: Int32Array, revents: Int32Array, timeoutUs: number): number;
  /** RLIMIT_NOFILE as [soft, hard] (-1: unlimited) */
  getNofile(): [number, number];
  /** setrlimit(RLIMIT_NOFILE); raising the hard limit needs root (CAP_SYS_RESOURCE) */
  setNofile(soft: number, hard: number): void;
  constants: NativeConstants;
  // bpf(2) and the fd watcher (native/bpf.c; composed in src/native/bpf.ts)
  bpfMapCreate(type: number, keySize: number, valueSize: number, maxEntries: number, flags: number, name: string): number;
  bpfMapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): void;
  /** false when the key was absent */
  bpfMapDelete(fd: number, key: Buffer): boolean;
  /** null when the key is absent */
  bpfMapLookup(fd: number, key: Buffer, valueSize: number): Buffer | null;
  /** a failure's Error carries the verifier's log as `log` */
  bpfProgLoad(type: number, insns: Buffer, license: string, expectedAttachType: number, name: string): number;
  bpfLinkCreate(progFd: number, targetFd: number, attachType: number, flags: number): number;
  /** uv_poll on the event loop: `callback(status)` whenever fd is readable; unref'd; returns an id for unwatch */
  watchReadable(fd: number, callback: (status: number) => void): number;
  unwatch(id: number): void;
  bpfConstants: BpfConstants;
}

export interface BpfConstants {
  BPF_MAP_TYPE_SOCKMAP: number;
  BPF_MAP_TYPE_LPM_TRIE: number;
  BPF_F_NO_PREALLOC: number;
  BPF_ANY: number;
  BPF_PROG_TYPE_SK_LOOKUP: number;
  BPF_SK_LOOKUP: number;
}

let loaded: NativeAddon | undefined;

export function native(): NativeAddon {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  // the package's root: dist/src/native/ is three levels down (fileURLToPath: a path with spaces works)
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  try {
    const load = require('node-gyp-build') as (dir: string) => unknown;
    loaded = load(root) as NativeAddon;
  } catch (e) {
    throw new SrError('NATIVE_MISSING', `cannot load the native addon (no build in ${root}build/Release and no prebuilt binary for linux-${process.arch}): ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, { cause: e });
  }
  return loaded;
}
