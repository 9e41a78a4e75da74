/**
 * Service classes for the SDN Resolver hints (EDNS0 options 65002 bandwidth, 65003 latency). A hint
 * is a free 32-bit number from the client; it selects a path and it is part of the binding-SID key,
 * so raw values would give one client 2^64 distinct BSIDs (issue 12, item 11). They are rounded to a
 * 1-2-5 series — never in the client's disfavour:
 *   bandwidth (kbit/s) is rounded UP: 1000, 2000, 5000, 10 000, … 1e9 (1 Mbit/s … 1 Tbit/s; 0 stays 0
 *     — no constraint; above 1 Tbit/s → 1 Tbit/s, the largest class): 19 classes;
 *   latency (ms) is rounded DOWN: 1, 2, 5, 10, … 50 000 (a bound under 1 ms → 0; above 50 s → 50 s):
 *     15 classes plus 0.
 * So the path found satisfies the client's own number (more bandwidth, less latency than asked) except
 * past the ends of the series. Pure.
 */

/** 1, 2, 5, 10, 20, 50, … from `min` to `max` inclusive */
function series(min: number, max: number): number[] {
  const out: number[] = [];
  for (let decade = min; decade <= max; decade *= 10) for (const m of [1, 2, 5]) if (decade * m <= max) out.push(decade * m);
  return out;
}

export const BANDWIDTH_CLASSES_KBPS: readonly number[] = series(1000, 1e9);
export const LATENCY_CLASSES_MS: readonly number[] = series(1, 50_000);

/** The smallest bandwidth class ≥ the request (the largest class above it); 0 stays 0. */
export function bandwidthClass(kbps: number): number {
  if (!(kbps > 0)) return 0;
  return BANDWIDTH_CLASSES_KBPS.find((c) => c >= kbps) ?? BANDWIDTH_CLASSES_KBPS[BANDWIDTH_CLASSES_KBPS.length - 1]!;
}

/** The largest latency class ≤ the bound (0 under 1 ms). */
export function latencyClass(ms: number): number {
  if (!(ms >= 1)) return 0;
  let best = 0;
  for (const c of LATENCY_CLASSES_MS) if (c <= ms) best = c;
  return best;
}
