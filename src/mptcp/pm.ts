/**
 * The MPTCP userspace path manager (sysctl net.mptcp.pm_type=1 in this namespace), driven per
 * connection over generic netlink (family "mptcp_pm"): create a subflow from a given local address,
 * backup or not, and change a subflow's backup flag. The connection is named by its MPTCP token,
 * read from the socket (SOL_MPTCP / MPTCP_INFO).
 * Requests are asynchronous and never block the worker's event loop: one datagram out, then
 * non-blocking reads (the kernel usually has queued the acknowledgement by the time send returns; else
 * the read is retried on setImmediate, then on timers of 1..8 ms) until the answer or the deadline
 * (`timeoutMs`, 200 ms). Requests on one socket go one at a time (answers are matched by sequence).
 */
import type net from 'node:net';
import { SrError } from '../core/errors.js';
import { native } from '../native/addon.js';
import { socketFd } from '../native/sockets.js';
import { formatAddress, parseAddress } from '../net/ip6.js';
import {
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_CMD_GETFAMILY,
  GENL_ID_CTRL,
  genlMessage,
  parseReplies,
  u16,
  u32,
  u8,
  type Attr,
  type NlReply,
} from './netlink.js';

export const MPTCP_PM_NAME = 'mptcp_pm';
const MPTCP_PM_VER = 1;
const CMD_SET_FLAGS = 7;
const CMD_SUBFLOW_CREATE = 10;
const ATTR_ADDR = 1;
const ATTR_TOKEN = 4;
const ATTR_ADDR_REMOTE = 6;
const ADDR_FAMILY = 1;
const ADDR_ID = 2;
const ADDR_ADDR6 = 4;
const ADDR_PORT = 5;
const ADDR_FLAGS = 6;
export const FLAG_BACKUP = 4;
const AF_INET6 = 10;

export interface PmAddress {
  address: string;
  port?: number;
  /** the local address id announced to the peer (1..255) */
  id?: number;
  backup?: boolean;
}

function addr(a: PmAddress): Attr[] {
  const attrs: Attr[] = [
    { type: ADDR_FAMILY, value: u16(AF_INET6) },
    { type: ADDR_ADDR6, value: parseAddress(a.address) },
  ];
  if (a.id !== undefined) attrs.push({ type: ADDR_ID, value: u8(a.id) });
  // the port attribute is in host byte order (the kernel applies htons)
  if (a.port !== undefined) attrs.push({ type: ADDR_PORT, value: u16(a.port) });
  if (a.backup !== undefined) attrs.push({ type: ADDR_FLAGS, value: u32(a.backup ? FLAG_BACKUP : 0) });
  return attrs;
}

/** The MPTCP connection token of a connected MPTCP socket (0 if it fell back to TCP). */
export function mptcpToken(socket: net.Socket): number {
  const n = native();
  const info = n.getsockoptBuffer(socketFd(socket), n.constants.SOL_MPTCP, n.constants.MPTCP_INFO, 64);
  return info.length >= 16 ? info.readUInt32LE(12) : 0;
}

/** The socket a path manager talks over: one datagram per call, -errno instead of exceptions. */
export interface NetlinkIo {
  /** bytes sent, or -errno */
  send(msg: Buffer): number;
  /** a datagram's bytes, or -errno (-EAGAIN when none is queued): never waits */
  recv(into: Buffer): number;
  close(): void;
}

/** A generic netlink socket through the native addon. */
export function nativeNetlinkIo(): NetlinkIo {
  const n = native();
  const c = n.constants;
  const fd = n.socket(c.AF_NETLINK, c.SOCK_RAW, c.NETLINK_GENERIC);
  return {
    send: (msg) => n.send(fd, msg, 0, msg.length, c.MSG_DONTWAIT),
    recv: (into) => n.recv(fd, into, 0, into.length, c.MSG_DONTWAIT),
    close: () => n.close(fd),
  };
}

export interface PmOptions {
  /** how long a request waits for its answer (default 200 ms) */
  timeoutMs?: number;
  /** the socket (default: a generic netlink socket) */
  io?: () => NetlinkIo;
}

const EAGAIN = 11;
const EINTR = 4;
/** waits between reads of a request still unanswered: the next turn of the loop, then timers */
const BACKOFF_MS = [0, 1, 1, 2, 4, 8];
const pause = (ms: number): Promise<void> => new Promise((r) => (ms === 0 ? setImmediate(r) : setTimeout(r, ms)));

export class UserspacePm {
  private io: NetlinkIo | undefined;
  private opening: Promise<void> | undefined;
  private family = 0;
  private seq = 1;
  private readonly rx = Buffer.alloc(8192);
  /** the request in progress: the next one starts when it has settled */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly timeoutMs: number;
  private readonly makeIo: () => NetlinkIo;

  constructor(o: PmOptions = {}) {
    this.timeoutMs = o.timeoutMs ?? 200;
    this.makeIo = o.io ?? nativeNetlinkIo;
  }

  /** Opens the netlink socket and resolves the family id (MPTCP_PM_FAILED if absent). */
  open(): Promise<void> {
    if (this.io && this.family) return Promise.resolve();
    this.opening ??= this.resolveFamily().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async resolveFamily(): Promise<void> {
    const io = (this.io ??= this.makeIo());
    const name = Buffer.from(`${MPTCP_PM_NAME}\0`);
    const replies = await this.request(io, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, [{ type: CTRL_ATTR_FAMILY_NAME, value: name }]);
    const id = replies.find((r) => r.attrs?.has(CTRL_ATTR_FAMILY_ID))?.attrs?.get(CTRL_ATTR_FAMILY_ID);
    if (!id || id.length < 2) throw new SrError('MPTCP_PM_FAILED', 'the kernel has no generic netlink family "mptcp_pm"');
    this.family = id.readUInt16LE(0);
  }

  /** Closes the socket; a request still waiting fails with MPTCP_PM_FAILED. */
  close(): void {
    this.io?.close();
    this.io = undefined;
    this.family = 0;
  }

  /** A new subflow of connection `token` from `local` to `remote`, flagged backup or not. */
  async createSubflow(token: number, local: PmAddress, remote: PmAddress): Promise<void> {
    await this.open();
    await this.request(this.io!, this.family, CMD_SUBFLOW_CREATE, MPTCP_PM_VER, [
      { type: ATTR_TOKEN, value: u32(token) },
      { type: ATTR_ADDR, value: addr(local) },
      { type: ATTR_ADDR_REMOTE, value: addr(remote) },
    ]);
  }

  /** Sets or clears the backup flag of the subflow local → remote of connection `token` (MP_PRIO). */
  async setBackup(token: number, local: PmAddress, remote: PmAddress, backup: boolean): Promise<void> {
    await this.open();
    await this.request(this.io!, this.family, CMD_SET_FLAGS, MPTCP_PM_VER, [
      { type: ATTR_TOKEN, value: u32(token) },
      { type: ATTR_ADDR, value: addr({ ...local, backup }) },
      { type: ATTR_ADDR_REMOTE, value: addr(remote) },
    ]);
  }

  /** One request, after the ones before it have settled. */
  private request(io: NetlinkIo, family: number, cmd: number, version: number, attrs: Attr[]): Promise<NlReply[]> {
    const run = (): Promise<NlReply[]> => this.exchange(io, family, cmd, version, attrs);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async exchange(io: NetlinkIo, family: number, cmd: number, version: number, attrs: Attr[]): Promise<NlReply[]> {
    const failed = (what: string): SrError => new SrError('MPTCP_PM_FAILED', `mptcp_pm command ${cmd}: ${what}`);
    if (this.io !== io) throw failed('the path manager was closed');
    const seq = this.seq++;
    const msg = genlMessage(family, cmd, version, seq, attrs);
    const sent = io.send(msg);
    if (sent < 0) throw failed(`netlink send: errno ${-sent}`);
    const out: NlReply[] = [];
    const deadline = Date.now() + this.timeoutMs;
    for (let tries = 0; ; ) {
      const len = io.recv(this.rx);
      if (len === -EAGAIN || len === -EINTR) {
        if (Date.now() >= deadline) throw failed(`no netlink answer in ${this.timeoutMs} ms`);
        await pause(BACKOFF_MS[Math.min(tries++, BACKOFF_MS.length - 1)]!);
        // closed while waiting: the descriptor may already belong to someone else
        if (this.io !== io) throw failed('the path manager was closed');
        continue;
      }
      if (len < 0) throw failed(`netlink recv: errno ${-len}`);
      for (const r of parseReplies(this.rx.subarray(0, len))) {
        if (r.seq !== seq) continue;
        if (r.error !== undefined) {
          if (r.error !== 0) throw Object.assign(failed(`errno ${-r.error}`), { errno: -r.error });
          return out;
        }
        out.push(r);
      }
    }
  }
}

export interface SubflowPath {
  local: string;
  remote: string;
  remotePort: number;
  /** TCP state (1 = established) */
  state: number;
  /** smoothed RTT in µs (0 before the first sample) */
  rttUs: number;
}

const SUBFLOW_DATA = 16; // struct mptcp_subflow_data
const TCP_INFO_BYTES = 104; // through tcpi_rttvar and a little more
const TCPI_RTT = 68;
const SUBFLOW_ADDRS_BYTES = 256; // two sockaddr_storage
const MAX_SUBFLOWS = 8;

/** The per-subflow records of an MPTCP getsockopt that takes a struct mptcp_subflow_data request. */
function subflowRecords(socket: net.Socket, name: number, elem: number): Buffer[] {
  const n = native();
  const req = Buffer.alloc(SUBFLOW_DATA);
  req.writeUInt32LE(SUBFLOW_DATA, 0);
  req.writeUInt32LE(elem, 12);
  const out = n.getsockoptBuffer(socketFd(socket), n.constants.SOL_MPTCP, name, SUBFLOW_DATA + elem * MAX_SUBFLOWS, req);
  const count = out.readUInt32LE(4);
  const size = out.readUInt32LE(12); // the kernel trims it to what it filled
  const records: Buffer[] = [];
  for (let i = 0; i < count && size > 0 && SUBFLOW_DATA + (i + 1) * size <= out.length; i++) records.push(out.subarray(SUBFLOW_DATA + i * size, SUBFLOW_DATA + (i + 1) * size));
  return records;
}

/** Each subflow of a connected MPTCP socket (IPv6): its addresses, state and RTT (MPTCP_TCPINFO + MPTCP_SUBFLOW_ADDRS). */
export function subflowPaths(socket: net.Socket): SubflowPath[] {
  const c = native().constants;
  const infos = subflowRecords(socket, c.MPTCP_TCPINFO, TCP_INFO_BYTES);
  const addrs = subflowRecords(socket, c.MPTCP_SUBFLOW_ADDRS, SUBFLOW_ADDRS_BYTES);
  const paths: SubflowPath[] = [];
  // both lists walk the connection's subflows in the same order
  for (let i = 0; i < Math.min(infos.length, addrs.length); i++) {
    const a = addrs[i]!;
    const t = infos[i]!;
    if (a.readUInt16LE(0) !== AF_INET6 || t.length < TCPI_RTT + 4) continue;
    paths.push({
      local: formatAddress(a, 8),
      remote: formatAddress(a, 128 + 8),
      remotePort: a.readUInt16BE(128 + 2),
      state: t[0]!,
      rttUs: t.readUInt32LE(TCPI_RTT),
    });
  }
  return paths;
}
