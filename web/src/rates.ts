/** Two samples closer than this give no rate (a control's answer right after a poll). */
export const MIN_RATE_WINDOW_MS = 500;

/** A counter's value at one time. */
export interface CounterSample {
  at: number;
  count: number;
}
export type Samples = Map<string, CounterSample>;

/**
 * Rate per key (per second) from the change of a growing counter between two answers. A key
 * seen for the first time, or whose counter went back (reset, re-created), has none yet;
 * samples closer than {@link MIN_RATE_WINDOW_MS} keep the previous sample and rate.
 */
export function counterRates(
  prev: Samples,
  prevRates: Record<string, number>,
  counters: Iterable<[string, number]>,
  at: number,
): { samples: Samples; rates: Record<string, number> } {
  const samples: Samples = new Map();
  const rates: Record<string, number> = {};
  for (const [key, count] of counters) {
    const p = prev.get(key);
    if (p && at - p.at < MIN_RATE_WINDOW_MS && count >= p.count) {
      samples.set(key, p);
      if (key in prevRates) rates[key] = prevRates[key];
      continue;
    }
    samples.set(key, { at, count });
    if (p && at > p.at && count >= p.count) rates[key] = ((count - p.count) * 1000) / (at - p.at);
  }
  return { samples, rates };
}
