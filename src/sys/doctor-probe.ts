/**
 * The doctor's socket and BPF probes, run as a separate process inside the throwaway network
 * namespace the doctor made (`ip netns exec NS node doctor-probe.js`): a transparent listener
 * (IPV6_TRANSPARENT, IPV6_RECVRTHDR), an MPTCP socket, an sk_lookup program loaded and attached to
 * that namespace. Prints one JSON object: probe → "ok" or the error. Never run in the host's namespace.
 */
import { closeSync } from 'node:fs';
import { native } from '../native/addon.js';
import { assemble, attachSkLookup, BpfMap, loadProgram, skLookupProgram } from '../native/bpf.js';
import { listenFd } from '../native/sockets.js';

const result: Record<string, string> = {};

function probe(name: string, f: () => void): void {
  try {
    f();
    result[name] = 'ok';
  } catch (e) {
    result[name] = `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`.trim();
  }
}

probe('transparent', () => native().close(listenFd({ address: '::', port: 7777, transparent: true, recvRthdr: true, saveSyn: true })));
probe('mptcp', () => {
  const n = native();
  n.close(n.socket(n.constants.AF_INET6, n.constants.SOCK_STREAM, n.constants.IPPROTO_MPTCP));
});
probe('sklookup', () => {
  const c = native().bpfConstants;
  const own = BpfMap.create({ type: c.BPF_MAP_TYPE_LPM_TRIE, keySize: 20, valueSize: 4, maxEntries: 16, flags: c.BPF_F_NO_PREALLOC, name: 'srv6p_doctor_o' });
  const listeners = BpfMap.create({ type: c.BPF_MAP_TYPE_SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 1, name: 'srv6p_doctor_l' });
  try {
    const { bytes } = assemble(skLookupProgram({ ownFd: own.fd, listenersFd: listeners.fd, slots: 1 }));
    const prog = loadProgram(c.BPF_PROG_TYPE_SK_LOOKUP, bytes, c.BPF_SK_LOOKUP, 'srv6p_doctor');
    try {
      closeSync(attachSkLookup(prog));
    } finally {
      closeSync(prog);
    }
  } finally {
    own.close();
    listeners.close();
  }
});
process.stdout.write(`${JSON.stringify(result)}\n`);
