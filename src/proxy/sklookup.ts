/**
 * Interception by a BPF sk_lookup program (`netconf.intercept: sklookup`; docs/security.md,
 * "Interception and TIME_WAIT"). No TPROXY rule: a marked SYN is routed locally, the kernel
 * consumes its SRH, and TCP looks up the real tuple like any host — an established or TIME_WAIT
 * socket first (a new SYN replaces a TIME_WAIT one natively), then the listeners, where the program
 * (src/native/bpf.ts) assigns the proxy's transparent listener unless the local address is one of the
 * host's own prefixes.
 *
 * The primary owns the program, its link and both maps (their fds: the link, hence the
 * interception, goes away with the primary, even on SIGKILL). It keeps the own-prefix trie current
 * (locators + every IPv6 address of the namespace, followed over rtnetlink). Each worker receives
 * the listener SOCKMAP's fd at start (fd passing), puts its listener in slot `index mod slots` and
 * closes the fd (with `workers: 0` the primary's own in-process worker uses the map directly); the
 * program tries the slots in order, so when a worker dies (its slot empties with
 * its socket) the next registered listener takes the SYNs at once, and the restarted worker fills
 * its slot again.
 */
import type { Logger } from 'pino';
import { formatAddress, formatPrefix } from '../net/ip6.js';
import type { SidLayout } from '../codec/sid.js';
import { native } from '../native/addon.js';
import { assemble, attachSkLookup, BpfMap, loadProgram, lpmKey, skLookupProgram, u32Key, type MapSpec } from '../native/bpf.js';
import { AddressWatch } from '../sys/rtnl.js';
import { closeSync } from 'node:fs';
import { SrError } from '../core/errors.js';

/** Listener slots the program tries (one registered listener is enough: the reuseport group picks). */
export const MAX_LISTENER_SLOTS = 16;
/** The fd number at which a worker receives the listener map (stdio index; daemon.ts). */
export const WORKER_MAP_FD = 4;
export const ENV_SKLOOKUP_SLOTS = 'SRV6PIPES_WORKER_SKLOOKUP_SLOTS';

export function listenerSlots(workers: number): number {
  return Math.max(1, Math.min(workers, MAX_LISTENER_SLOTS));
}

function ownSpec(maxEntries: number): MapSpec {
  const c = native().bpfConstants;
  return { type: c.BPF_MAP_TYPE_LPM_TRIE, keySize: 20, valueSize: 4, maxEntries, flags: c.BPF_F_NO_PREALLOC, name: 'srv6p_own' };
}

function listenersSpec(slots: number): MapSpec {
  // value: the socket's fd on update (u64); a lookup from user space returns its cookie
  return { type: native().bpfConstants.BPF_MAP_TYPE_SOCKMAP, keySize: 4, valueSize: 8, maxEntries: slots, name: 'srv6p_listen' };
}

/** The trie's wanted entries: every locator and every address as /128, by key (hex), deduplicated. */
export function ownPrefixKeys(locators: readonly SidLayout[], addresses: readonly Buffer[]): Map<string, { key: Buffer; what: string }> {
  const want = new Map<string, { key: Buffer; what: string }>();
  for (const l of locators) {
    const key = lpmKey(l.locator.addr, l.locator.length);
    want.set(key.toString('hex'), { key, what: formatPrefix(l.locator) });
  }
  for (const a of addresses) {
    const key = lpmKey(a, 128);
    want.set(key.toString('hex'), { key, what: formatAddress(a) });
  }
  return want;
}

export interface SkLookupParams {
  locators: readonly SidLayout[];
  workers: number;
  /** the own-prefix trie's capacity (netconf.ownPrefixes) */
  maxOwnPrefixes: number;
}

/** What `--dry-run` prints: the maps and the program's instructions. */
export function describeSkLookup(p: SkLookupParams): string[] {
  const slots = listenerSlots(p.workers);
  const { listing } = assemble(skLookupProgram({ ownFd: 0, listenersFd: 0, slots }));
  return [
    `# bpf map own: LPM trie, ${p.maxOwnPrefixes} entries max: ${p.locators.map((l) => formatPrefix(l.locator)).join(', ')} + every IPv6 address of this namespace as /128 (followed over rtnetlink)`,
    `# bpf map listeners: SOCKMAP, ${slots} slot(s): worker i puts its transparent listener in slot i mod ${slots}`,
    `# bpf program sk_lookup (BPF_PROG_TYPE_SK_LOOKUP), attached to this network namespace (BPF_LINK_CREATE) while the proxy runs:`,
    ...listing.map((l) => `#   ${l}`),
  ];
}

export class SkLookupInterception {
  private own: BpfMap | undefined;
  private listeners: BpfMap | undefined;
  private prog = -1;
  private link = -1;
  private insns = 0;
  private watch: AddressWatch | undefined;
  /** hex of the trie key → the entry's description */
  private readonly entries = new Map<string, string>();
  readonly slots: number;
  /** trie updates refused (full: netconf.ownPrefixes) */
  refused = 0;

  constructor(
    private readonly p: SkLookupParams,
    private readonly log: Logger,
  ) {
    this.slots = listenerSlots(p.workers);
  }

  /**
   * Creates the maps, loads the program, starts following the addresses: before the workers start,
   * which get the listener map. Undone by stop() on failure.
   */
  async prepare(): Promise<void> {
    try {
      this.own = BpfMap.create(ownSpec(this.p.maxOwnPrefixes));
      this.listeners = BpfMap.create(listenersSpec(this.slots));
      this.sync([]);
      const { bytes } = assemble(skLookupProgram({ ownFd: this.own.fd, listenersFd: this.listeners.fd, slots: this.slots }));
      this.insns = bytes.length / 8;
      const c = native().bpfConstants;
      this.prog = loadProgram(c.BPF_PROG_TYPE_SK_LOOKUP, bytes, c.BPF_SK_LOOKUP, 'srv6p_sklookup');
      this.watch = new AddressWatch((addrs) => this.sync(addrs), this.log);
      await this.watch.start(); // the trie holds the addresses before the program runs
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  /** Attaches the program to this network namespace: once the workers listen (they fill the slots). */
  attach(): void {
    if (this.prog < 0) throw new Error('sk_lookup interception not prepared');
    try {
      this.link = attachSkLookup(this.prog);
    } catch (e) {
      this.stop();
      throw e;
    }
    this.log.info({ slots: this.slots, insns: this.insns }, 'sk_lookup interception attached');
  }

  /** The listener map's fd, handed to each worker. */
  get listenersFd(): number {
    if (!this.listeners) throw new Error('sk_lookup interception not started');
    return this.listeners.fd;
  }

  /** Makes the trie hold exactly the locators and `addresses` (each as /128). */
  sync(addresses: readonly Buffer[]): void {
    const own = this.own;
    if (!own) return;
    const want = ownPrefixKeys(this.p.locators, addresses);
    let added = 0;
    let removed = 0;
    for (const [hex, what] of [...this.entries]) {
      if (want.has(hex)) continue;
      try {
        own.delete(Buffer.from(hex, 'hex'));
      } catch (e) {
        this.log.error({ prefix: what, err: (e as Error).message }, 'own prefix not removed from the sk_lookup trie');
        continue;
      }
      this.entries.delete(hex);
      removed++;
      this.log.debug({ prefix: what }, 'own prefix removed from the sk_lookup trie');
    }
    for (const [hex, w] of want) {
      if (this.entries.has(hex)) continue;
      try {
        own.update(w.key, Buffer.alloc(4));
        this.entries.set(hex, w.what);
        added++;
      } catch (e) {
        this.refused++;
        // SYNs to this address would go to the proxy (and be refused there) instead of the host's service
        this.log.error({ prefix: w.what, err: (e as Error).message }, 'own prefix not added to the sk_lookup trie (netconf.ownPrefixes full?)');
      }
    }
    if (added || removed) this.log.info({ added, removed, entries: this.entries.size }, 'sk_lookup own prefixes updated');
  }

  /** The trie's entries now (tests, logs). */
  ownPrefixes(): string[] {
    return [...this.entries.values()];
  }

  /** Detaches the program (closing the link), closes the program and the maps. */
  stop(): void {
    this.watch?.stop();
    this.watch = undefined;
    for (const fd of [this.link, this.prog]) if (fd >= 0) closeSync(fd);
    this.link = this.prog = -1;
    this.own?.close();
    this.listeners?.close();
    this.own = this.listeners = undefined;
    this.entries.clear();
  }
}

/**
 * Where a worker finds the listener map: a forked worker received its fd at WORKER_MAP_FD and the
 * slot count in ENV_SKLOOKUP_SLOTS (daemon.ts), and closes that fd once its listener is in; the
 * single process (`workers: 0`) is handed the primary's own map, which stays open.
 */
export interface ListenerMapSource {
  fd: number;
  slots: number;
  /** close the fd after the update (a received copy) */
  closeAfter: boolean;
}

/** The map a forked worker received, or undefined (tproxy mode: no map). */
export function inheritedListenerMap(env: NodeJS.ProcessEnv = process.env): ListenerMapSource | undefined {
  const slots = Number(env[ENV_SKLOOKUP_SLOTS] ?? 0);
  return slots ? { fd: WORKER_MAP_FD, slots, closeAfter: true } : undefined;
}

/**
 * In a worker: puts the listener (its fd) in the listener map, slot `index mod slots` (then closes
 * a received fd). Returns the slot, or undefined when this worker got no map (tproxy mode).
 */
export function registerListener(listenerFd: number, workerIndex: number, log: Logger, source: ListenerMapSource | undefined = inheritedListenerMap()): number | undefined {
  if (!source) return undefined;
  const map = BpfMap.adopt(source.fd, listenersSpec(source.slots));
  const slot = workerIndex % source.slots;
  const value = Buffer.alloc(8);
  value.writeUInt32LE(listenerFd, 0);
  try {
    map.update(u32Key(slot), value);
  } catch (e) {
    throw new SrError('BPF_UNSUPPORTED', `putting the listener in the sk_lookup map (slot ${slot}): ${(e as Error).message}`, { cause: e });
  } finally {
    if (source.closeAfter) map.close();
  }
  log.info({ slot }, 'listener registered for sk_lookup');
  return slot;
}

/** The primary's own listener map, for the worker it runs in its process (`workers: 0`). */
export function ownListenerMap(interception: SkLookupInterception): ListenerMapSource {
  return { fd: interception.listenersFd, slots: interception.slots, closeAfter: false };
}
