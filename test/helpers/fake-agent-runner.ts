/** Fakes of `ip` and `nft` for the access-router agent's unit tests (no root, no namespace). */
import type { Runner } from '../../src/access-router/local.js';

/** A runner that records every command and answers like ip/nft would. */
export function fakeRunner(): { runner: Runner; calls: string[] } {
  const calls: string[] = [];
  const runner: Runner = (argv, input) => {
    calls.push(argv.join(' ') + (input ? `\n${input}` : ''));
    const cmd = argv.join(' ');
    if (cmd.includes('route get')) return Promise.resolve({ stdout: '[{"dst":"fc00:a::1:0:0","dev":"eth2"}]', stderr: '', code: 0 });
    if (cmd.includes('route show')) return Promise.resolve({ stdout: '[{"dst":"fc00:f::99","encap":"seg6local","dev":"eth2"},{"dst":"fc00:2::/64","dev":"eth2"}]', stderr: '', code: 0 });
    if (cmd.includes('tunsrc show')) return Promise.resolve({ stdout: 'tunsrc addr ::\n', stderr: '', code: 0 });
    if (cmd.includes('list counters')) return Promise.resolve({ stdout: '{"nftables":[{"metainfo":{}},{"counter":{"name":"unknown_bsid","packets":3}},{"counter":{"name":"not_bsid","packets":1}}]}', stderr: '', code: 0 });
    return Promise.resolve({ stdout: '', stderr: '', code: 0 });
  };
  return { runner, calls };
}

/** A runner whose commands wait until `release()`: requests pile up in the agent's gate. */
export function heldRunner(): { runner: Runner; started: () => number; release: () => void } {
  const { runner: answer } = fakeRunner();
  const waiting: (() => void)[] = [];
  let started = 0;
  let open = false;
  const runner: Runner = async (argv, input) => {
    started++;
    if (!open) await new Promise<void>((resolve) => waiting.push(resolve));
    return answer(argv, input);
  };
  return {
    runner,
    started: () => started,
    release: () => {
      open = true;
      for (const w of waiting.splice(0)) w();
    },
  };
}
