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

/** Samples kept for the sparklines (one per poll of the topics). */
export const TOTALS_HISTORY = 60;

/** A topic as `GET /api/v1/topics` lists it: only what the totals read. */
export interface TopicCounter {
  name: string;
  /** Sum of the partitions' end offsets: grows by one per message produced. */
  end_offsets: number;
  dlq: boolean;
}

/**
 * The topics' answers folded over time: each answer, the per-topic produce rate from the change
 * of `end_offsets` since the previous one (see {@link counterRates}), and the last
 * {@link TOTALS_HISTORY} rates of each topic and of the total.
 */
export interface OffsetHistory {
  at: number;
  samples: Samples;
  /** msg/s per topic; absent until two answers are in. */
  rates: Record<string, number>;
  /** Per topic, its rate at each of the last answers (oldest first; 0 when unknown). */
  topicHistory: Record<string, number[]>;
  /** The total rate (see {@link counts}) at each of the last answers (oldest first). */
  history: number[];
}

export const emptyHistory = (): number[] => new Array<number>(TOTALS_HISTORY).fill(0);
const push = (h: number[] | undefined, v: number) => [...(h ?? emptyHistory()).slice(1), v];

/** Whether a topic counts in the platform's totals: not a DLQ, not a broker's own (`__consumer_offsets`, `_schemas`). */
export const counts = (t: TopicCounter) => !t.dlq && !t.name.startsWith('_');

/** The next {@link OffsetHistory} after an answer listing `topics` at `at`. */
export function foldOffsets(prev: OffsetHistory | undefined, topics: TopicCounter[], at: number): OffsetHistory {
  const next = counterRates(prev?.samples ?? new Map(), prev?.rates ?? {}, topics.map((t): [string, number] => [t.name, t.end_offsets]), at);
  // An answer too close to the previous one keeps its samples: it adds no point to the history.
  const fresh = !prev || topics.some((t) => next.samples.get(t.name)?.at === at);
  if (!fresh) return { ...prev, samples: next.samples, rates: next.rates };
  const topicHistory: Record<string, number[]> = {};
  for (const t of topics) topicHistory[t.name] = push(prev?.topicHistory[t.name], next.rates[t.name] ?? 0);
  const total = topics.filter(counts).reduce((a, t) => a + (next.rates[t.name] ?? 0), 0);
  return { at, samples: next.samples, rates: next.rates, topicHistory, history: push(prev?.history, total) };
}

/** The platform's figures over the topics that {@link counts}: messages produced and msg/s. */
export interface PlatformTotals {
  /** Sum of `end_offsets`. */
  messages: number;
  /** Sum of the topics' rates; `undefined` until a rate is known. */
  rate: number | undefined;
}

export function platformTotals(topics: TopicCounter[], rates: Record<string, number>): PlatformTotals {
  const mine = topics.filter(counts);
  const known = mine.filter((t) => t.name in rates);
  return {
    messages: mine.reduce((a, t) => a + t.end_offsets, 0),
    rate: known.length ? known.reduce((a, t) => a + rates[t.name], 0) : undefined,
  };
}

/** A count with its thousands apart: `1 234` (no-break spaces). */
export function formatCount(n: number | undefined): string {
  if (n === undefined) return '—';
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0');
}

/** A rate: `—` unknown, whole above 10 (`12`), else one decimal (`9.8`, `0.0`). */
export function formatRate(r: number | undefined): string {
  if (r === undefined) return '—';
  return r >= 10 ? formatCount(r) : r.toFixed(1);
}
