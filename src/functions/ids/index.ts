/**
 * `ids`: a signature-matching intrusion detection function. Literals and regexes are matched across
 * chunk and TCP segment boundaries in both directions. `block` resets the flow before any byte of a
 * match is delivered (the bytes that could still start a match are held back); `alert` logs, counts
 * and passes everything unchanged, without holding anything back. See README.md.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { defineFunction, IDENTITY, type DirectionTransform } from '../../sdk/types.js';
import { StreamScanner, type Match } from './scanner.js';
import { compileSignatures, idsOptions, type Direction, type IdsOptions, type Signature } from './signatures.js';

/** matches logged per flow; later ones are only counted */
export const MAX_LOGGED_PER_FLOW = 100;

/** the reset reason of a blocked flow */
export const BLOCK_REASON = 'ids_blocked';

interface IdsState {
  upstream: Signature[];
  downstream: Signature[];
}

type Step = (chunk: Buffer | null) => Buffer | null;

/** block with flushAfterMs: a stream, so held-back bytes can be released on a timer. */
class TimedRelease extends Transform {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly step: Step,
    private readonly scanner: StreamScanner,
    private readonly ms: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    clearTimeout(this.timer);
    const out = this.step(chunk);
    if (out && out.length > 0) this.push(out);
    if (!this.scanner.stopped && this.scanner.heldBytes > 0) {
      this.timer = setTimeout(() => {
        const held = this.scanner.releaseHeld();
        if (held && !this.destroyed) this.push(held);
      }, this.ms);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    clearTimeout(this.timer);
    const out = this.step(null);
    if (out && out.length > 0) this.push(out);
    cb();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    clearTimeout(this.timer);
    cb(err);
  }
}

export const ids = defineFunction({
  name: 'ids',
  summary: 'match literal and regex signatures across segment boundaries: block (reset before delivery) or alert',
  options: idsOptions,
  argument: { description: 'unused (any value)', parse: () => undefined },
  resets: { [BLOCK_REASON]: 'action block: a signature matched (before any byte of the match was delivered)' },
  init: (o: IdsOptions): IdsState => ({ upstream: compileSignatures(o, 'upstream'), downstream: compileSignatures(o, 'downstream') }),
  spawn(flow) {
    const o = flow.options;
    const block = o.action === 'block';
    const matches = flow.metrics.counter('ids_matches_total', 'signature matches, by signature and action', ['signature', 'action']);
    const client = `[${flow.client.address}]:${flow.client.port}`;
    const server = `[${flow.server.address}]:${flow.server.port}`;
    let logged = 0;

    const report = (direction: Direction, found: readonly Match[]): void => {
      for (const m of found) {
        matches.inc({ signature: m.signature.name, action: o.action });
        if (logged < MAX_LOGGED_PER_FLOW) {
          const fields = { signature: m.signature.name, direction, action: o.action, client, server, offset: m.offset, length: m.length };
          flow.log.warn(m.late ? { ...fields, late: true } : fields, block ? 'ids: signature matched, flow blocked' : 'ids: signature matched');
        } else if (logged === MAX_LOGGED_PER_FLOW) {
          flow.log.warn({ client, server }, `ids: more than ${MAX_LOGGED_PER_FLOW} matches in this flow; further ones are only counted`);
        }
        logged++;
      }
      if (block && found.length > 0) flow.reset(BLOCK_REASON);
    };

    const make = (direction: Direction, sigs: Signature[]): DirectionTransform => {
      if (sigs.length === 0) return IDENTITY;
      const scanner = new StreamScanner(sigs, block);
      const step: Step = (chunk) => {
        const r = scanner.push(chunk);
        if (r.matches.length > 0) report(direction, r.matches);
        return scanner.stopped ? null : r.out;
      };
      if (block && o.flushAfterMs > 0) return new TimedRelease(step, scanner, o.flushAfterMs);
      return { data: (chunk) => step(chunk), end: () => step(null) };
    };

    return { upstream: make('upstream', flow.state.upstream), downstream: make('downstream', flow.state.downstream) };
  },
});
