// A complete srv6pipes function module: upper-cases ASCII letters from client to server (and, with
// `downstream: true`, from server to client), counting the letters it changed.
import { z } from 'zod';
import { defineFunction } from 'srv6pipes';

export default defineFunction({
  name: 'upper',
  summary: 'upper-cases ASCII letters upstream (and downstream if asked)',
  options: z.object({ downstream: z.boolean().default(false).describe('upper-case server → client bytes too') }).strict(),
  // what the argument bits of its SIDs mean: upper has no use for them yet, so it takes 0 and refuses
  // anything else (such a flow is reset before it is spawned or connected: FLOW_BAD_ARGUMENT)
  argument: {
    description: '0 (no other value means anything yet)',
    parse: (argument, { reject }) => (argument === 0n ? null : reject('upper takes no argument: use 0')),
  },
  // the reasons it may give flow.reset(reason), with their meaning: none
  resets: {},

  // once per loaded instance: whatever it returns is `flow.state` for every flow
  init(options, env) {
    return { changed: env.metrics.counter('upper_letters_total', 'letters upper-cased', ['direction']) };
  },

  // per flow: one transform per direction
  spawn(flow) {
    const make = (direction) => ({
      data(chunk) {
        let n = 0;
        for (let i = 0; i < chunk.length; i++) {
          const c = chunk[i];
          if (c >= 0x61 && c <= 0x7a) {
            chunk[i] = c - 0x20; // the relay owns the chunk: changing it in place is allowed
            n++;
          }
        }
        if (n > 0) flow.state.changed.inc({ direction }, n);
        return chunk;
      },
    });
    return {
      upstream: make('up'),
      downstream: flow.options.downstream ? make('down') : { data: (chunk) => chunk },
    };
  },
});
