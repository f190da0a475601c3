/**
 * The pipelines the flow graph draws. Topic names follow crates/domain/src/events/topics.rs;
 * `service` / `group` are the label values matched in /metrics
 * (edalab_messages_consumed_total{service}, edalab_consumer_lag{group}).
 */

export type NodeKind = 'producer' | 'topic' | 'consumer' | 'dlq';

export interface TopoNode {
  id: string;
  label: string;
  kind: NodeKind;
  x: number;
  y: number;
  /** Topics whose WebSocket counts feed this node's counter/sparkline. */
  topics: string[];
  service?: string;
  group?: string;
}
export interface TopoEdge {
  id: string;
  source: string;
  target: string;
  /** Topic whose rate this edge shows. */
  topic: string;
}

export const BANKING_TOPICS: { topic: string; eventType: string; color: string }[] = [
  { topic: 'bancaire.compte.ouvert', eventType: 'CompteOuvert', color: '#22c55e' },
  { topic: 'bancaire.depot.effectue', eventType: 'DepotEffectue', color: '#38bdf8' },
  { topic: 'bancaire.retrait.effectue', eventType: 'RetraitEffectue', color: '#f59e0b' },
  { topic: 'bancaire.virement.emis', eventType: 'VirementEmis', color: '#a78bfa' },
  { topic: 'bancaire.virement.recu', eventType: 'VirementRecu', color: '#e879f9' },
  { topic: 'bancaire.paiement-prime.effectue', eventType: 'PaiementPrimeEffectue', color: '#2dd4bf' },
  { topic: 'bancaire.compte.ferme', eventType: 'CompteFerme', color: '#fb7185' },
];

const OTHER_COLORS: Record<string, string> = {
  'bancaire.operation.rejetee': '#f97316',
  transactions: '#60a5fa',
  'transactions-events': '#93c5fd',
  'calculatrice-input-queue': '#facc15',
  'calculatrice-output-queue': '#fde047',
  orders: '#4ade80',
  'orders.created': '#86efac',
  'payments.authorized': '#34d399',
  'payments.rejected': '#fb923c',
};

export const DLQ_TOPICS = ['system.dlq', 'transactions-dlq', 'orders.dlq', 'payments.dlq'];

export function topicColor(topic: string): string {
  if (DLQ_TOPICS.includes(topic)) return '#ef4444';
  return BANKING_TOPICS.find((b) => b.topic === topic)?.color ?? OTHER_COLORS[topic] ?? '#94a3b8';
}

const COL = [0, 240, 500, 760];
const ROW = 78;

function build(): { nodes: TopoNode[]; edges: TopoEdge[] } {
  const nodes: TopoNode[] = [];
  const edges: TopoEdge[] = [];
  const e = (source: string, target: string, topic: string) =>
    edges.push({ id: `${source}->${target}`, source, target, topic });

  // Banking: simulator -> bancaire.* -> ledger -> rejections / system.dlq
  const allBanking = BANKING_TOPICS.map((b) => b.topic);
  nodes.push({ id: 'simulator', label: 'simulator', kind: 'producer', x: COL[0], y: ROW * 3, topics: allBanking, service: 'simulator' });
  BANKING_TOPICS.forEach((b, i) => {
    nodes.push({ id: b.topic, label: b.topic, kind: 'topic', x: COL[1], y: i * ROW, topics: [b.topic] });
    e('simulator', b.topic, b.topic);
    e(b.topic, 'ledger', b.topic);
  });
  nodes.push({ id: 'ledger', label: 'ledger', kind: 'consumer', x: COL[2], y: ROW * 3, topics: allBanking, service: 'ledger', group: 'ledger' });
  nodes.push({ id: 'bancaire.operation.rejetee', label: 'bancaire.operation.rejetee', kind: 'topic', x: COL[3], y: ROW * 2, topics: ['bancaire.operation.rejetee'] });
  nodes.push({ id: 'system.dlq', label: 'system.dlq', kind: 'dlq', x: COL[3], y: ROW * 4, topics: ['system.dlq'] });
  e('ledger', 'bancaire.operation.rejetee', 'bancaire.operation.rejetee');
  e('ledger', 'system.dlq', 'system.dlq');

  // Transactions (S0)
  let y = ROW * 8;
  nodes.push({ id: 'transactions', label: 'transactions', kind: 'topic', x: COL[1], y, topics: ['transactions'] });
  nodes.push({ id: 'transactions-processor', label: 'transactions', kind: 'consumer', x: COL[2], y, topics: ['transactions'], service: 'transactions', group: 'transactions' });
  nodes.push({ id: 'transactions-events', label: 'transactions-events', kind: 'topic', x: COL[3], y: y - ROW / 2, topics: ['transactions-events'] });
  nodes.push({ id: 'transactions-dlq', label: 'transactions-dlq', kind: 'dlq', x: COL[3], y: y + ROW / 2, topics: ['transactions-dlq'] });
  e('transactions', 'transactions-processor', 'transactions');
  e('transactions-processor', 'transactions-events', 'transactions-events');
  e('transactions-processor', 'transactions-dlq', 'transactions-dlq');

  // Calculator (S1)
  y = ROW * 10;
  nodes.push({ id: 'calculatrice-input-queue', label: 'calculatrice-input-queue', kind: 'topic', x: COL[1], y, topics: ['calculatrice-input-queue'] });
  nodes.push({ id: 'calculator', label: 'calculator', kind: 'consumer', x: COL[2], y, topics: ['calculatrice-input-queue'], service: 'calculator', group: 'calculator' });
  nodes.push({ id: 'calculatrice-output-queue', label: 'calculatrice-output-queue', kind: 'topic', x: COL[3], y, topics: ['calculatrice-output-queue'] });
  e('calculatrice-input-queue', 'calculator', 'calculatrice-input-queue');
  e('calculator', 'calculatrice-output-queue', 'calculatrice-output-queue');

  // Orders / payments saga (S4) with intake
  y = ROW * 12;
  nodes.push({ id: 'intake', label: 'intake', kind: 'producer', x: COL[0], y, topics: ['orders.created'], service: 'intake' });
  nodes.push({ id: 'orders.created', label: 'orders.created', kind: 'topic', x: COL[1], y, topics: ['orders.created'] });
  nodes.push({ id: 'payments', label: 'payments', kind: 'consumer', x: COL[2], y, topics: ['orders.created'], service: 'payments', group: 'payments' });
  nodes.push({ id: 'payments.authorized', label: 'payments.authorized', kind: 'topic', x: COL[3], y: y - ROW / 2, topics: ['payments.authorized'] });
  nodes.push({ id: 'payments.rejected', label: 'payments.rejected', kind: 'topic', x: COL[3], y: y + ROW / 2, topics: ['payments.rejected'] });
  nodes.push({ id: 'orders.dlq', label: 'orders.dlq', kind: 'dlq', x: COL[1], y: y + ROW * 1.2, topics: ['orders.dlq'] });
  nodes.push({ id: 'payments.dlq', label: 'payments.dlq', kind: 'dlq', x: COL[3], y: y + ROW * 1.5, topics: ['payments.dlq'] });
  e('intake', 'orders.created', 'orders.created');
  e('intake', 'orders.dlq', 'orders.dlq');
  e('orders.created', 'payments', 'orders.created');
  e('payments', 'payments.authorized', 'payments.authorized');
  e('payments', 'payments.rejected', 'payments.rejected');
  e('payments', 'payments.dlq', 'payments.dlq');

  return { nodes, edges };
}

export const TOPOLOGY = build();
