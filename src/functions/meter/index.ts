/**
 * `meter`: counts bytes and flows per function, per argument and per client prefix, as Prometheus
 * metrics; relays everything unchanged. See README.md.
 */
import { z } from 'zod';
import { formatAddress, maskBuffer, parseAddress } from '../../net/ip6.js';
import { defineFunction, type SyncTransform } from '../../sdk/types.js';
import { LabelBudget } from './labels.js';

export const meterOptions = z
  .object({
    prefixLength: z.number().int().min(0).max(128).default(64).describe('client addresses are aggregated to this prefix length'),
    perArgument: z.boolean().default(true).describe('label series with the argument (false: the argument label is empty)'),
    maxSeries: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .default(100)
      .describe('distinct (argument, client prefix) label sets per instance and worker; later ones are counted under argument="other", client_prefix="other"'),
  })
  .strict();

/** The client's prefix as a label: `fc00:1::/64`; `unknown` for an address that does not parse. */
export function clientPrefix(address: string, prefixLength: number): string {
  try {
    return `${formatAddress(maskBuffer(parseAddress(address), prefixLength))}/${prefixLength}`;
  } catch {
    return 'unknown';
  }
}

export const meter = defineFunction({
  name: 'meter',
  summary: 'count bytes and flows per argument and client prefix (Prometheus metrics); relay unchanged',
  options: meterOptions,
  argument: { description: 'any value: a label, in decimal (series are counted per argument unless perArgument is false)', parse: (argument) => argument.toString(10) },
  resets: {},
  init(options): LabelBudget {
    return new LabelBudget(options.maxSeries);
  },
  spawn(flow) {
    const o = flow.options;
    const m = flow.metrics;
    const bytes = m.counter('meter_bytes_total', 'bytes relayed, by direction, argument and client prefix', ['direction', 'argument', 'client_prefix']);
    const flows = m.counter('meter_flows_total', 'flows started, by argument and client prefix', ['argument', 'client_prefix']);
    const active = m.gauge('meter_active_flows', 'flows in progress, by argument and client prefix', ['argument', 'client_prefix']);
    // label objects built once per flow: the per-chunk path allocates nothing
    const labels = flow.state.labelsFor(o.perArgument ? flow.arg : '', clientPrefix(flow.client.address, o.prefixLength));
    const up = { direction: 'up', ...labels };
    const down = { direction: 'down', ...labels };
    flows.inc(labels);
    active.inc(labels);
    let open = true;
    const done = (): void => {
      if (!open) return;
      open = false;
      active.dec(labels);
    };
    flow.signal.addEventListener('abort', done, { once: true });
    const upstream: SyncTransform = {
      data(chunk) {
        bytes.inc(up, chunk.length);
        return chunk;
      },
      // in the native relay thread: the same counter, fed from the relay's byte reports
      native: [{ op: 'count', count: (n) => bytes.inc(up, n) }],
    };
    const downstream: SyncTransform = {
      data(chunk) {
        bytes.inc(down, chunk.length);
        return chunk;
      },
      native: [{ op: 'count', count: (n) => bytes.inc(down, n) }],
    };
    return {
      upstream,
      downstream,
      close: done,
    };
  },
});
