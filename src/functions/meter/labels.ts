/**
 * The meter's label sets, bounded: the first `max` distinct (argument, client prefix) pairs a meter
 * instance sees get series of their own; every later pair is counted under `other`. Arguments come
 * from the packet, so without a bound a client that varies them (20k flows → 20k arguments) makes
 * one series per flow, for good.
 */

export interface MeterLabels {
  argument: string;
  client_prefix: string;
}

/** The label set every pair beyond the budget shares. */
export const OTHER_LABELS: Readonly<MeterLabels> = Object.freeze({ argument: 'other', client_prefix: 'other' });

export class LabelBudget {
  private readonly admitted = new Map<string, MeterLabels>();
  /** flows counted under `other` since the instance started */
  overflowed = 0;

  constructor(readonly max: number) {}

  /** How many label sets have series of their own (at most `max`). */
  get size(): number {
    return this.admitted.size;
  }

  /** The labels a flow with this argument and client prefix is counted under. */
  labelsFor(argument: string, clientPrefix: string): Readonly<MeterLabels> {
    const key = `${argument} ${clientPrefix}`;
    const known = this.admitted.get(key);
    if (known) return known;
    if (this.admitted.size >= this.max) {
      this.overflowed++;
      return OTHER_LABELS;
    }
    const labels = { argument, client_prefix: clientPrefix };
    this.admitted.set(key, labels);
    return labels;
  }
}
