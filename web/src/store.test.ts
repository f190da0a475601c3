import { describe, expect, it } from 'vitest';
import { HISTORY_SECONDS, lastRate, useLive } from './store';
import { nodeData } from './components/FlowGraph';
import { DLQ_TOPICS, TOPOLOGY } from './topology';
import { parsePrometheus, snapshot } from './prometheus';
import { METRICS_TEXT } from './test/server';

describe('live store', () => {
  it('folds events into one-second buckets and keeps 60 of them', () => {
    const s = useLive.getState();
    s.handleMessage({ type: 'event', topic: 'a' });
    s.handleMessage({ type: 'event', topic: 'a' });
    s.handleMessage({ type: 'event', topic: 'b' });
    s.handleMessage({ type: 'status', topic: 'a' });
    s.tick(1000);
    let st = useLive.getState();
    expect(st.topicTotals).toEqual({ a: 2, b: 1 });
    expect(lastRate(st.topicHistory.a)).toBe(2);
    expect(st.totalHistory).toHaveLength(HISTORY_SECONDS);
    expect(st.lastSeen.a).toBe(1000);
    for (let i = 0; i < 70; i++) st.tick();
    st = useLive.getState();
    expect(st.topicHistory.a.every((v) => v === 0)).toBe(true);
    expect(st.totalEvents).toBe(3);
  });

  it('records WebSocket errors', () => {
    useLive.getState().handleMessage({ type: 'error', topic: 'x', payload: { message: 'bad' } });
    expect(useLive.getState().errors[0]).toMatchObject({ source: 'ws x', message: 'bad' });
  });
});

describe('flow graph node data', () => {
  const node = (id: string) => TOPOLOGY.nodes.find((n) => n.id === id)!;
  it('has the banking pipeline and every DLQ', () => {
    const ids = TOPOLOGY.nodes.map((n) => n.id);
    expect(ids).toEqual(expect.arrayContaining(['simulator', 'ledger', 'bancaire.compte.ouvert', 'calculator-workers', 'intake', 'payment-service', 'order-tracking', ...DLQ_TOPICS]));
    // Consumer nodes carry the real consumer-group names (edalab_consumer_lag{group}).
    expect(TOPOLOGY.nodes.filter((n) => n.kind === 'consumer').map((n) => n.group).sort()).toEqual(
      ['calculator-workers', 'ledger', 'order-tracking', 'payment-service', 'tp-order-worker', 'transaction-processors', 'transactions-processor'],
    );
    expect(TOPOLOGY.nodes.filter((n) => n.kind === 'dlq').map((n) => n.id).sort()).toEqual([...DLQ_TOPICS].sort());
    expect(TOPOLOGY.edges.filter((e) => e.source === 'simulator')).toHaveLength(7);
    for (const e of TOPOLOGY.edges) {
      expect(ids).toContain(e.source);
      expect(ids).toContain(e.target);
    }
  });

  it('shows counts from the topics’ offsets, consumer lag and committed from the groups, DLQ depth as an alert', () => {
    const m = snapshot(parsePrometheus(METRICS_TEXT));
    const history = [...new Array(59).fill(0), 4];
    const figures = {
      counts: { 'bancaire.compte.ouvert': 1234, 'bancaire.depot.effectue': 6, 'system.dlq': 1 },
      rates: { 'bancaire.compte.ouvert': 4, 'bancaire.depot.effectue': 0 },
      topicHistory: { 'bancaire.compte.ouvert': history },
      groups: { ledger: { lag: 3, committed: 17 } },
      dlqDepth: m.dlqDepth,
    };
    const ledger = nodeData(node('ledger'), figures);
    expect(ledger).toMatchObject({ lag: 3, committed: 17, light: 'active', href: '#/consumers/ledger' });
    expect(ledger.series.at(-1)).toBe(4);
    const topic = nodeData(node('bancaire.compte.ouvert'), figures);
    expect(topic).toMatchObject({ count: 1234, rate: 4, href: '#/topics/bancaire.compte.ouvert' });
    // A producer counts what went to its topics.
    expect(nodeData(node('simulator'), figures)).toMatchObject({ count: 1240, rate: 4 });
    const dlq = nodeData(node('system.dlq'), figures);
    expect(dlq.depth).toBe(1);
    expect(dlq.light).toBe('alert');
    expect(dlq.href).toBeUndefined();
    const workers = nodeData(node('calculator-workers'), figures);
    expect(workers).toMatchObject({ light: 'idle', lag: undefined, committed: undefined });
    // A WebSocket event keeps the light on between two polls, but gives no number.
    const seen = nodeData(node('calculator-workers'), { ...figures, lastSeen: { 'calculatrice-input-queue': 1000 }, now: 2000 });
    expect(seen.light).toBe('active');
    expect(seen.count).toBeUndefined();
  });
});
