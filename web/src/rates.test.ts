import { describe, expect, it } from 'vitest';
import { foldOffsets, formatCount, formatRate, platformTotals, TOTALS_HISTORY } from './rates';

const topics = (a: number, dlq: number, internal = 0) => [
  { name: 'orders.created', end_offsets: a, dlq: false },
  { name: 'orders.dlq', end_offsets: dlq, dlq: true },
  { name: '__consumer_offsets', end_offsets: internal, dlq: false },
];

describe('platform totals from the topics’ end offsets', () => {
  it('count and rate every topic but the DLQs and the broker’s own', () => {
    const first = foldOffsets(undefined, topics(100, 5, 50), 1000);
    expect(platformTotals(topics(100, 5, 50), first.rates)).toEqual({ messages: 100, rate: undefined });
    const second = foldOffsets(first, topics(120, 9, 90), 3000);
    expect(second.rates).toEqual({ 'orders.created': 10, 'orders.dlq': 2, '__consumer_offsets': 20 });
    expect(platformTotals(topics(120, 9, 90), second.rates)).toEqual({ messages: 120, rate: 10 });
    expect(second.history).toHaveLength(TOTALS_HISTORY);
    expect(second.history.slice(-2)).toEqual([0, 10]);
    expect(second.topicHistory['orders.dlq'].at(-1)).toBe(2);
  });

  it('an answer too close to the previous one adds no point to the history', () => {
    const a = foldOffsets(undefined, topics(0, 0), 0);
    const b = foldOffsets(a, topics(10, 0), 1000);
    const c = foldOffsets(b, topics(12, 0), 1100);
    expect(c.history).toEqual(b.history);
    expect(c.rates['orders.created']).toBe(10);
  });

  it('formats counts and rates alike everywhere', () => {
    expect(formatCount(1234567)).toBe('1\u00a0234\u00a0567');
    expect(formatCount(undefined)).toBe('—');
    expect(formatRate(1234.4)).toBe('1\u00a0234');
    expect(formatRate(9.84)).toBe('9.8');
    expect(formatRate(0)).toBe('0.0');
  });
});
