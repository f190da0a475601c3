import { describe, expect, it } from 'vitest';
import { parsePrometheus, snapshot, sumBy } from './prometheus';
import { METRICS_TEXT } from './test/server';

describe('parsePrometheus', () => {
  it('reads names, labels and values and skips comments', () => {
    const s = parsePrometheus(METRICS_TEXT);
    expect(s).toHaveLength(9);
    expect(s[0]).toEqual({
      name: 'edalab_messages_produced_total',
      labels: { service: 'simulator', topic: 'bancaire.compte.ouvert' },
      value: 40,
    });
  });

  it('handles no labels, timestamps, escapes, special values and exponents', () => {
    const s = parsePrometheus(
      [
        'up 1',
        'x_total{a="b"} 3 1712345678000',
        'esc{msg="a \\"quoted\\", comma\\\\ and }brace",b="2"} 1e3',
        'h_bucket{le="+Inf"} +Inf',
        'n NaN',
        'garbage',
        '',
      ].join('\n'),
    );
    expect(s.map((x) => x.name)).toEqual(['up', 'x_total', 'esc', 'h_bucket', 'n']);
    expect(s[1].value).toBe(3);
    expect(s[2].labels).toEqual({ msg: 'a "quoted", comma\\ and }brace', b: '2' });
    expect(s[2].value).toBe(1000);
    expect(s[3].value).toBe(Infinity);
    expect(Number.isNaN(s[4].value)).toBe(true);
  });

  it('summarises the figures the UI shows', () => {
    const snap = snapshot(parsePrometheus(METRICS_TEXT));
    expect(snap.producedTotal).toBe(42);
    expect(snap.consumedByService).toEqual({ ledger: 39 });
    expect(snap.lagByGroup).toEqual({ ledger: 3, 'edalab.redrive.system.dlq': 1 });
    expect(snap.totalLag).toBe(3); // edalab's own groups are not consumer lag
    expect(snap.dlqDepth).toEqual({ 'system.dlq': 1 });
    expect(snap.errorsTotal).toBe(2);
    expect(snap.meanLatencySeconds).toBeCloseTo(0.005);
    expect(sumBy(parsePrometheus(METRICS_TEXT), 'edalab_messages_produced_total', 'topic')['bancaire.depot.effectue']).toBe(2);
  });

  it('gives no latency when nothing was measured', () => {
    expect(snapshot([]).meanLatencySeconds).toBeNull();
  });
});
