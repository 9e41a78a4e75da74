/**
 * The SYN's routing header from TCP_SAVED_SYN (the listener has TCP_SAVE_SYN): the kernel keeps the
 * SYN's network header onwards — the IPv6 header, its extension headers, the TCP header — and hands
 * it over once (reading frees it).
 *
 * Why, besides IPV6_2292PKTOPTIONS: a SYN that replaces a TIME_WAIT socket (TCP_TW_SYN, the path
 * the sk_lookup interception lets the kernel take) keeps no packet options on its request socket
 * (`tcp_v6_init_req` saves them only when `tw_isn` is 0), so the accepted socket reports no SRH; the
 * saved SYN is recorded on that path too (`tcp_reqsk_record_syn`).
 */
import type net from 'node:net';
import { SrError } from '../core/errors.js';
import { native } from './addon.js';
import { socketFd } from './sockets.js';

export const TCP_SAVE_SYN = 27;
export const TCP_SAVED_SYN = 28;
/** IPv6 header + the largest SRH (2048 + 8) + a TCP header with options, rounded up */
const SAVED_SYN_MAX = 4096;

const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const AUTH = 51;
const DEST_OPTS = 60;

/**
 * The first routing header of an IPv6 packet's header chain (its bytes), or null when the chain
 * reaches another protocol first. Malformed input: CMSG_MALFORMED.
 */
export function routingHeaderIn(packet: Buffer): Buffer | null {
  const bad = (why: string): SrError => new SrError('CMSG_MALFORMED', `saved SYN: ${why}`);
  if (packet.length < 40 || packet[0]! >> 4 !== 6) throw bad('not an IPv6 header');
  let next = packet[6]!;
  let off = 40;
  for (let hops = 0; hops < 16; hops++) {
    if (next !== HOP_BY_HOP && next !== ROUTING && next !== FRAGMENT && next !== AUTH && next !== DEST_OPTS) return null;
    if (off + 8 > packet.length) throw bad(`extension header ${next} at ${off} is truncated`);
    const len = next === FRAGMENT ? 8 : next === AUTH ? (packet[off + 1]! + 2) * 4 : (packet[off + 1]! + 1) * 8;
    if (off + len > packet.length) throw bad(`extension header ${next} at ${off} runs past the packet`);
    if (next === ROUTING) return Buffer.from(packet.subarray(off, off + len));
    next = packet[off]!;
    off += len;
  }
  throw bad('too many extension headers');
}

/**
 * The routing header of the SYN this accepted socket came from, from its saved SYN; null when the
 * SYN had none; undefined when no SYN was saved (the listener lacks TCP_SAVE_SYN, or a SYN cookie).
 */
export function savedSynRoutingHeader(socket: net.Socket): Buffer | null | undefined {
  const n = native();
  const saved = n.getsockoptBuffer(socketFd(socket), n.constants.IPPROTO_TCP, TCP_SAVED_SYN, SAVED_SYN_MAX);
  return saved.length === 0 ? undefined : routingHeaderIn(saved);
}
