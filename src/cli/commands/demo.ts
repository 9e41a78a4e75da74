import type { CommandSpec } from '../spec.js';

export const DEMO_COMMANDS: CommandSpec[] = [
  {
    name: 'demo',
    summary: 'The main job end to end: Fig. 1 lab, XOR chain, HTTP download, proof on the wire',
    options: [{ flags: '--size <bytes>', description: 'size of the downloaded file', default: String(8 << 20) }],
    async run(_args, opts) {
      const { runDemo } = await import('../../demo/demo.js');
      return runDemo({ sizeBytes: Number(opts['size']) });
    },
  },
];
