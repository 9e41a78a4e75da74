/** Loads the native addon (build/Release/srv6pipes_native.node) and types it. */
import { createRequire } from 'node:module';
import { SrError } from '../errors.js';

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
}

/** Thin syscalls; each throws an Error whose `code` is the errno name and `syscall` the call. */
export interface NativeAddon {
  socket(domain: number, type: number, protocol: number): number;
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  setsockoptBuffer(fd: number, level: number, name: number, value: Buffer | null): void;
  getsockoptInt(fd: number, level: number, name: number): number;
  getsockoptBuffer(fd: number, level: number, name: number, maxLength: number): Buffer;
  bind6(fd: number, address: Buffer, port: number, scopeId: number): void;
  listen(fd: number, backlog: number): void;
  close(fd: number): void;
  constants: NativeConstants;
}

let loaded: NativeAddon | undefined;

export function native(): NativeAddon {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const path = new URL('../../../build/Release/srv6pipes_native.node', import.meta.url).pathname;
  try {
    loaded = require(path) as NativeAddon;
  } catch (e) {
    throw new SrError('NATIVE_MISSING', `cannot load the native addon ${path}`, { cause: e });
  }
  return loaded;
}
