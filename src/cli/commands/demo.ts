import { int } from '../options.js';
import { command, type CommandSpec } from '../spec.js';

export const DEMO_COMMANDS: CommandSpec[] = [
  command({
    name: 'demo',
    summary: 'The main job end to end: Fig. 1 lab, XOR chain, HTTP download, proof on the wire',
    options: { size: int('--size <bytes>', 'size of the downloaded file', { min: 1, max: 2 ** 40, default: 8 << 20 }) },
    async run(_args, opts) {
      const { runDemo } = await import('../../demo/demo.js');
      return runDemo({ sizeBytes: opts.size });
    },
  }),
];
