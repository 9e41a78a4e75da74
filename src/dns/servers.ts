/**
 * Several servers for one question: the replicated controllers (docs/controller.md, several
 * controllers). A private lookup — a proxy's binding SID, a return agent's return hops — goes to the
 * server that answered last; when it does not answer (a timeout, a refused connection) or answers
 * SERVFAIL (an instance that cannot reach its store), the next one in the list is asked, and so on
 * once round the list. Any other answer (NOERROR, NXDOMAIN, REFUSED …) is the answer: the instances
 * share their state, so another would say the same.
 */
import { parseController } from './server-address.js';
import { exchange as defaultExchange, type DnsServerAddress, type Exchange, type Exchanged, type ExchangeOptions } from './exchange.js';

const RCODE_SERVFAIL = 2;

/** The rcode of a DNS message (the low 4 bits of its flags); -1 when it is too short to have one. */
export function rcodeOf(msg: Buffer): number {
  return msg.length >= 4 ? msg[3]! & 0x0f : -1;
}

export interface ServerAnswer extends Exchanged {
  /** the server that answered, as it was given */
  server: string;
}

export class DnsServers {
  private preferred = 0;
  private readonly addresses: DnsServerAddress[];

  /** `names`: as given (for messages); `addresses`: the same, parsed. */
  constructor(
    readonly names: readonly string[],
    addresses: readonly DnsServerAddress[],
    private readonly ex: Exchange = defaultExchange,
  ) {
    if (names.length === 0 || names.length !== addresses.length) throw new TypeError('DnsServers: one address per name, at least one');
    this.addresses = [...addresses];
  }

  /** From ADDR / [ADDR]:PORT texts (BAD_ARGUMENT for a bad one). */
  static parse(names: string | readonly string[], ex?: Exchange): DnsServers {
    const list = typeof names === 'string' ? [names] : names;
    return new DnsServers(list, list.map((t) => parseController(t)), ex);
  }

  /** The list as one string, for logs and errors. */
  toString(): string {
    return this.names.join(', ');
  }

  /**
   * The first usable answer, from the server that answered last and then the others in order.
   * Rejects with the last failure when none gave one (its message names every server's failure);
   * a SERVFAIL from every server is returned as the last SERVFAIL (the caller reads the rcode).
   */
  async exchange(o: Omit<ExchangeOptions, 'server'>): Promise<ServerAnswer> {
    const n = this.addresses.length;
    const failures: string[] = [];
    let servfail: ServerAnswer | undefined;
    for (let i = 0; i < n; i++) {
      const idx = (this.preferred + i) % n;
      let r: Exchanged;
      try {
        r = await this.ex({ ...o, server: this.addresses[idx]! });
      } catch (e) {
        failures.push(`${this.names[idx]}: ${(e as Error).message}`);
        continue;
      }
      const answer = { ...r, server: this.names[idx]! };
      if (rcodeOf(r.answer) === RCODE_SERVFAIL && i < n - 1) {
        servfail = answer;
        failures.push(`${this.names[idx]}: SERVFAIL`);
        continue;
      }
      this.preferred = idx;
      return answer;
    }
    if (servfail) return servfail;
    throw new Error(n === 1 ? failures[0]!.slice(this.names[0]!.length + 2) : failures.join('; '));
  }
}
