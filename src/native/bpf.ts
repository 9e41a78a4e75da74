/**
 * eBPF without clang or bpftool: the instruction encoding (pure), the sk_lookup program of the
 * `netconf.intercept: sklookup` mode as a table of instructions, and the map/program/link helpers
 * over the thin bpf(2) wrappers of native/bpf.c.
 *
 * The program (docs/security.md, "Interception and TIME_WAIT"), for BPF_PROG_TYPE_SK_LOOKUP, runs
 * in the kernel's listener lookup, after the established/TIME_WAIT lookup found nothing (so a new
 * SYN meeting a TIME_WAIT socket is handled by TCP itself, TCP_TW_SYN):
 *  - anything but TCP over IPv6: pass (the normal lookup);
 *  - the local address (the final segment, once the kernel consumed the SRH) is in the LPM trie of
 *    the host's own prefixes (its addresses as /128, its locators): pass;
 *  - else: the first listener found in the SOCKMAP's slots 0..K-1 is assigned (bpf_sk_assign, flags
 *    0: the SO_REUSEPORT group's selection still applies), its reference released; pass.
 */
import { openSync, closeSync } from 'node:fs';
import { errnoCode, SrError } from '../core/errors.js';
import { native } from './addon.js';

// ---- instruction encoding (include/uapi/linux/bpf.h, bpf_common.h) ----

/** One instruction (two slots for a 64-bit immediate load), with its text for listings. */
export interface Insn {
  /** 8 bytes, or 16 for lddw */
  bytes: Buffer;
  text: string;
  /** a jump's target label, resolved by assemble() */
  target?: string;
  /** a label naming this instruction */
  label?: string;
}

export const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R6 = 6, R7 = 7, R10 = 10;
const BPF_LD = 0x00, BPF_LDX = 0x01, BPF_ST = 0x02, BPF_STX = 0x03, BPF_JMP = 0x05, BPF_ALU64 = 0x07;
const BPF_W = 0x00, BPF_DW = 0x18, BPF_IMM = 0x00, BPF_MEM = 0x60;
const BPF_K = 0x00, BPF_X = 0x08;
const BPF_ADD = 0x00, BPF_MOV = 0xb0;
const BPF_JA = 0x00, BPF_JNE = 0x50, BPF_CALL = 0x80, BPF_EXIT = 0x90;
/** lddw with src_reg = BPF_PSEUDO_MAP_FD: the immediate is a map fd, replaced by the map at load */
export const BPF_PSEUDO_MAP_FD = 1;

/** Helper ids (enum bpf_func_id). */
export const HELPER = { map_lookup_elem: 1, sk_release: 86, sk_assign: 124 } as const;
const helperName = new Map<number, string>(Object.entries(HELPER).map(([k, v]) => [v, k]));

/** struct bpf_sk_lookup offsets */
export const SK_LOOKUP_CTX = { family: 8, protocol: 12, local_ip6: 44 } as const;
export const SK_PASS = 1;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;

/** The raw 8-byte slot: code, dst (low nibble) | src (high nibble), off (s16), imm (s32), little endian. */
export function encode(code: number, dst: number, src: number, off: number, imm: number): Buffer {
  if (dst < 0 || dst > 10 || src < 0 || src > 10) throw new RangeError(`registers are r0..r10 (got r${dst}, r${src})`);
  if (!Number.isInteger(off) || off < -32768 || off > 32767) throw new RangeError(`offset ${off} is not a signed 16-bit number`);
  if (!Number.isInteger(imm) || imm < -(2 ** 31) || imm > 2 ** 32 - 1) throw new RangeError(`immediate ${imm} does not fit 32 bits`);
  const b = Buffer.alloc(8);
  b[0] = code;
  b[1] = (src << 4) | dst;
  b.writeInt16LE(off, 2);
  b.writeUInt32LE(imm >>> 0, 4);
  return b;
}

const sign = (n: number): string => (n < 0 ? `- ${-n}` : `+ ${n}`);

export const asm = {
  movReg: (dst: number, src: number): Insn => ({ bytes: encode(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0), text: `r${dst} = r${src}` }),
  movImm: (dst: number, imm: number): Insn => ({ bytes: encode(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm), text: `r${dst} = ${imm}` }),
  addImm: (dst: number, imm: number): Insn => ({ bytes: encode(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm), text: `r${dst} += ${imm}` }),
  /** dst = *(u32 *)(src + off) */
  loadW: (dst: number, src: number, off: number): Insn => ({ bytes: encode(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0), text: `r${dst} = *(u32 *)(r${src} ${sign(off)})` }),
  /** *(u32 *)(dst + off) = src */
  storeW: (dst: number, off: number, src: number): Insn => ({ bytes: encode(BPF_STX | BPF_MEM | BPF_W, dst, src, off, 0), text: `*(u32 *)(r${dst} ${sign(off)}) = r${src}` }),
  /** *(u32 *)(dst + off) = imm */
  storeImmW: (dst: number, off: number, imm: number): Insn => ({ bytes: encode(BPF_ST | BPF_MEM | BPF_W, dst, 0, off, imm), text: `*(u32 *)(r${dst} ${sign(off)}) = ${imm}` }),
  /** dst = the map behind `fd` (lddw, two slots) */
  loadMap: (dst: number, fd: number, name: string): Insn => ({
    bytes: Buffer.concat([encode(BPF_LD | BPF_IMM | BPF_DW, dst, BPF_PSEUDO_MAP_FD, 0, fd), encode(0, 0, 0, 0, 0)]),
    text: `r${dst} = map[${name}] ll`,
  }),
  jneImm: (dst: number, imm: number, target: string): Insn => ({ bytes: encode(BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm), text: `if r${dst} != ${imm} goto ${target}`, target }),
  ja: (target: string): Insn => ({ bytes: encode(BPF_JMP | BPF_JA, 0, 0, 0, 0), text: `goto ${target}`, target }),
  call: (helper: number): Insn => ({ bytes: encode(BPF_JMP | BPF_CALL, 0, 0, 0, helper), text: `call ${helperName.get(helper) ?? helper}` }),
  exit: (): Insn => ({ bytes: encode(BPF_JMP | BPF_EXIT, 0, 0, 0, 0), text: 'exit' }),
};

/** Names an instruction as a jump target. */
export function label(name: string, i: Insn): Insn {
  return { ...i, label: name };
}

/** Resolves the jumps (offset = target slot - (this slot + 1)) and concatenates the bytes. */
export function assemble(insns: readonly Insn[]): { bytes: Buffer; listing: string[] } {
  const slotOf = new Map<string, number>();
  let slot = 0;
  const slots: number[] = [];
  for (const i of insns) {
    slots.push(slot);
    if (i.label) {
      if (slotOf.has(i.label)) throw new RangeError(`label ${i.label} defined twice`);
      slotOf.set(i.label, slot);
    }
    slot += i.bytes.length / 8;
  }
  const parts: Buffer[] = [];
  const listing: string[] = [];
  insns.forEach((i, k) => {
    let bytes = i.bytes;
    if (i.target !== undefined) {
      const to = slotOf.get(i.target);
      if (to === undefined) throw new RangeError(`jump to an unknown label ${i.target}`);
      bytes = Buffer.from(bytes);
      bytes.writeInt16LE(to - (slots[k]! + 1), 2);
    }
    parts.push(bytes);
    listing.push(`${String(slots[k]).padStart(3)}: ${i.label ? `${i.label}: ` : ''}${i.text}`);
  });
  return { bytes: Buffer.concat(parts), listing };
}

export interface SkLookupMaps {
  /** LPM trie (key: u32 prefix length + 16 address bytes) of the host's own prefixes */
  ownFd: number;
  /** SOCKMAP of the proxy's transparent listeners */
  listenersFd: number;
  /** SOCKMAP slots the program tries, in order */
  slots: number;
}

/** The stack: the LPM key at r10-24 (prefix length, then the 16 address bytes), a slot key at r10-4. */
const KEY = -24;
const SLOT = -4;

/** The sk_lookup program, as a table of instructions (see the file comment). */
export function skLookupProgram(m: SkLookupMaps): Insn[] {
  if (!Number.isInteger(m.slots) || m.slots < 1 || m.slots > 64) throw new RangeError('1..64 listener slots');
  const copyAddress = [0, 1, 2, 3].flatMap((w) => [asm.loadW(R2, R6, SK_LOOKUP_CTX.local_ip6 + 4 * w), asm.storeW(R10, KEY + 4 + 4 * w, R2)]);
  const trySlots = Array.from({ length: m.slots }, (_, k) => [
    asm.storeImmW(R10, SLOT, k),
    asm.loadMap(R1, m.listenersFd, 'listeners'),
    asm.movReg(R2, R10),
    asm.addImm(R2, SLOT),
    asm.call(HELPER.map_lookup_elem),
    asm.jneImm(R0, 0, 'assign'), // a listener: r0 holds a reference to it
  ]).flat();
  return [
    asm.movReg(R6, R1), // the context
    asm.loadW(R2, R6, SK_LOOKUP_CTX.family),
    asm.jneImm(R2, AF_INET6, 'pass'),
    asm.loadW(R2, R6, SK_LOOKUP_CTX.protocol),
    asm.jneImm(R2, IPPROTO_TCP, 'pass'),
    asm.storeImmW(R10, KEY, 128), // LPM key: a /128 lookup of local_ip6 (network order, copied as is)
    ...copyAddress,
    asm.loadMap(R1, m.ownFd, 'own'),
    asm.movReg(R2, R10),
    asm.addImm(R2, KEY),
    asm.call(HELPER.map_lookup_elem),
    asm.jneImm(R0, 0, 'pass'), // one of the host's own prefixes: the normal lookup
    ...trySlots,
    asm.ja('pass'), // no listener registered: the normal lookup (a RST, as before the proxy listened)
    label('assign', asm.movReg(R7, R0)),
    asm.movReg(R1, R6),
    asm.movReg(R2, R7),
    asm.movImm(R3, 0), // flags 0: the SO_REUSEPORT group still picks the listener
    asm.call(HELPER.sk_assign),
    asm.movReg(R1, R7),
    asm.call(HELPER.sk_release),
    label('pass', asm.movImm(R0, SK_PASS)),
    asm.exit(),
  ];
}

// ---- maps, programs, links ----

/** The LPM trie key of a prefix: u32 prefix length (host order), then the address, bits past the length zeroed. */
export function lpmKey(address: Buffer, length: number): Buffer {
  if (address.length !== 16) throw new RangeError('an IPv6 address is 16 bytes');
  if (!Number.isInteger(length) || length < 0 || length > 128) throw new RangeError('a prefix length is 0..128');
  const k = Buffer.alloc(20);
  k.writeUInt32LE(length, 0);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, length - 8 * i));
    k[4 + i] = address[i]! & ((0xff00 >> bits) & 0xff);
  }
  return k;
}

/** A u32 map key (host order). */
export function u32Key(k: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(k >>> 0);
  return b;
}

function bpfError(what: string, e: unknown): SrError {
  const code = errnoCode(e) ?? 'EUNKNOWN';
  return new SrError('BPF_UNSUPPORTED', `${what}: ${code} (${e instanceof Error ? e.message : String(e)})`, { cause: e });
}

export interface MapSpec {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  name: string;
}

/** A BPF map owned by this process (its fd). */
export class BpfMap {
  private constructor(
    readonly fd: number,
    readonly spec: MapSpec,
  ) {}

  static create(spec: MapSpec): BpfMap {
    try {
      return new BpfMap(native().bpfMapCreate(spec.type, spec.keySize, spec.valueSize, spec.maxEntries, spec.flags ?? 0, spec.name), spec);
    } catch (e) {
      throw bpfError(`creating the BPF map ${spec.name}`, e);
    }
  }

  /** A map whose fd this process received (e.g. from its parent). */
  static adopt(fd: number, spec: MapSpec): BpfMap {
    return new BpfMap(fd, spec);
  }

  update(key: Buffer, value: Buffer): void {
    native().bpfMapUpdate(this.fd, key, value, native().bpfConstants.BPF_ANY);
  }

  /** false when the key was absent */
  delete(key: Buffer): boolean {
    return native().bpfMapDelete(this.fd, key);
  }

  lookup(key: Buffer): Buffer | null {
    return native().bpfMapLookup(this.fd, key, this.spec.valueSize);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Loads a program; a refusal throws BPF_VERIFIER with the verifier's log in the message. */
export function loadProgram(type: number, insns: Buffer, expectedAttachType: number, name: string): number {
  try {
    return native().bpfProgLoad(type, insns, 'GPL', expectedAttachType, name);
  } catch (e) {
    const log = (e as { log?: unknown }).log;
    if (typeof log === 'string' && log.trim()) {
      throw new SrError('BPF_VERIFIER', `the kernel refused the program ${name} (${errnoCode(e)}); verifier log:\n${log.trim()}`, { cause: e });
    }
    throw bpfError(`loading the program ${name}`, e);
  }
}

/** Attaches an sk_lookup program to this process's network namespace; detached when the returned link fd closes. */
export function attachSkLookup(progFd: number): number {
  const ns = openSync('/proc/self/ns/net', 'r');
  try {
    return native().bpfLinkCreate(progFd, ns, native().bpfConstants.BPF_SK_LOOKUP, 0);
  } catch (e) {
    throw bpfError('attaching the sk_lookup program (BPF_LINK_CREATE)', e);
  } finally {
    closeSync(ns);
  }
}
