/**
 * The pipelines the flow graph draws, as `edalab up` runs them. Topic names follow
 * crates/domain/src/events/topics.rs and crates/services/src/*; `group` is the consumer
 * group's real name, matched in /metrics (edalab_consumer_lag{group}); `service` is the
 * label of edalab_messages_consumed_total{service} where the service exports it (ledger).
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
  'fraud-alerts': '#f472b6',
  notifications: '#c4b5fd',
  'calculatrice-input-queue': '#facc15',
  'calculatrice-output-queue': '#fde047',
  'tp-orders-queue': '#a3e635',
  'orders.created': '#86efac',
  'payments.authorized': '#34d399',
  'payments.rejected': '#fb923c',
};

/** Every dead-letter topic `edalab up` creates (the back end's rule: the name ends in `.dlq` or `-dlq`). */
export const DLQ_TOPICS = [
  'system.dlq',
  'transactions-dlq',
  'transactions-events-dlq',
  'calculatrice-input-queue-dlq',
  'tp-orders-dlq',
  'orders.dlq',
  'payments.dlq',
];

export function isDlqTopic(topic: string): boolean {
  return topic.endsWith('.dlq') || topic.endsWith('-dlq');
}

export function topicColor(topic: string): string {
  if (isDlqTopic(topic)) return '#ef4444';
  return BANKING_TOPICS.find((b) => b.topic === topic)?.color ?? OTHER_COLORS[topic] ?? '#94a3b8';
}

const COL = [0, 240, 480, 720, 960, 1200];
const ROW = 78;

function build(): { nodes: TopoNode[]; edges: TopoEdge[] } {
  const nodes: TopoNode[] = [];
  const edges: TopoEdge[] = [];
  const e = (source: string, target: string, topic: string) =>
    edges.push({ id: `${source}->${target}`, source, target, topic });
  const topic = (id: string, x: number, y: number, kind: NodeKind = isDlqTopic(id) ? 'dlq' : 'topic') =>
    nodes.push({ id, label: id, kind, x, y, topics: [id] });
  /** A consumer group: `group` is its name in edalab_consumer_lag (crates/services). */
  const consumer = (id: string, group: string, inputs: string[], x: number, y: number, service?: string) =>
    nodes.push({ id, label: group, kind: 'consumer', x, y, topics: inputs, group, service });
  const producer = (id: string, label: string, outputs: string[], x: number, y: number) =>
    nodes.push({ id, label, kind: 'producer', x, y, topics: outputs });

  // S3 banking: simulator -> bancaire.* -> ledger -> rejections / system.dlq
  const allBanking = BANKING_TOPICS.map((b) => b.topic);
  producer('simulator', 'simulator', allBanking, COL[0], ROW * 3);
  BANKING_TOPICS.forEach((b, i) => {
    topic(b.topic, COL[1], i * ROW);
    e('simulator', b.topic, b.topic);
    e(b.topic, 'ledger', b.topic);
  });
  consumer('ledger', 'ledger', allBanking, COL[2], ROW * 3, 'ledger');
  topic('bancaire.operation.rejetee', COL[3], ROW * 2);
  topic('system.dlq', COL[3], ROW * 4);
  e('ledger', 'bancaire.operation.rejetee', 'bancaire.operation.rejetee');
  e('ledger', 'system.dlq', 'system.dlq');

  // S0 transactions: POST /transactions -> transactions -> processor -> events / fraud-alerts / DLQ;
  // transactions-events -> transaction-processors -> notifications / DLQ
  let y = ROW * 8;
  producer('transactions-api', 'POST /transactions', ['transactions'], COL[0], y);
  topic('transactions', COL[1], y);
  consumer('transactions-processor', 'transactions-processor', ['transactions'], COL[2], y);
  topic('transactions-events', COL[3], y - ROW);
  topic('fraud-alerts', COL[3], y);
  topic('transactions-dlq', COL[3], y + ROW);
  consumer('transaction-processors', 'transaction-processors', ['transactions-events'], COL[4], y - ROW);
  topic('notifications', COL[5], y - ROW * 1.5);
  topic('transactions-events-dlq', COL[5], y - ROW * 0.5);
  e('transactions-api', 'transactions', 'transactions');
  e('transactions', 'transactions-processor', 'transactions');
  e('transactions-processor', 'transactions-events', 'transactions-events');
  e('transactions-processor', 'fraud-alerts', 'fraud-alerts');
  e('transactions-processor', 'transactions-dlq', 'transactions-dlq');
  e('transactions-events', 'transaction-processors', 'transactions-events');
  e('transaction-processors', 'notifications', 'notifications');
  e('transaction-processors', 'transactions-events-dlq', 'transactions-events-dlq');

  // S1 calculator: POST /calculator -> input queue -> workers -> output / DLQ
  y = ROW * 10.5;
  producer('calculator-api', 'POST /calculator', ['calculatrice-input-queue'], COL[0], y);
  topic('calculatrice-input-queue', COL[1], y);
  consumer('calculator-workers', 'calculator-workers', ['calculatrice-input-queue'], COL[2], y);
  topic('calculatrice-output-queue', COL[3], y - ROW / 2);
  topic('calculatrice-input-queue-dlq', COL[3], y + ROW / 2);
  e('calculator-api', 'calculatrice-input-queue', 'calculatrice-input-queue');
  e('calculatrice-input-queue', 'calculator-workers', 'calculatrice-input-queue');
  e('calculator-workers', 'calculatrice-output-queue', 'calculatrice-output-queue');
  e('calculator-workers', 'calculatrice-input-queue-dlq', 'calculatrice-input-queue-dlq');

  // S2 intake: order files -> tp-orders-queue -> tp-order-worker -> store / DLQ
  y = ROW * 12.5;
  producer('intake', 'inbox/orders files', ['tp-orders-queue'], COL[0], y);
  topic('tp-orders-queue', COL[1], y);
  consumer('tp-order-worker', 'tp-order-worker', ['tp-orders-queue'], COL[2], y);
  topic('tp-orders-dlq', COL[3], y);
  e('intake', 'tp-orders-queue', 'tp-orders-queue');
  e('tp-orders-queue', 'tp-order-worker', 'tp-orders-queue');
  e('tp-order-worker', 'tp-orders-dlq', 'tp-orders-dlq');

  // S4 order saga: POST /orders -> orders.created -> payment-service -> authorized / rejected / DLQ;
  // order-tracking reads orders.created and payments.* (its poison -> orders.dlq)
  y = ROW * 14.5;
  producer('orders-api', 'POST /orders', ['orders.created'], COL[0], y);
  topic('orders.created', COL[1], y);
  consumer('payment-service', 'payment-service', ['orders.created'], COL[2], y);
  topic('payments.authorized', COL[3], y - ROW);
  topic('payments.rejected', COL[3], y);
  topic('payments.dlq', COL[3], y + ROW);
  consumer('order-tracking', 'order-tracking', ['orders.created', 'payments.authorized', 'payments.rejected'], COL[4], y);
  topic('orders.dlq', COL[5], y);
  e('orders-api', 'orders.created', 'orders.created');
  e('orders.created', 'payment-service', 'orders.created');
  e('payment-service', 'payments.authorized', 'payments.authorized');
  e('payment-service', 'payments.rejected', 'payments.rejected');
  e('payment-service', 'payments.dlq', 'payments.dlq');
  e('payments.authorized', 'order-tracking', 'payments.authorized');
  e('payments.rejected', 'order-tracking', 'payments.rejected');
  e('order-tracking', 'orders.dlq', 'orders.dlq');

  return { nodes, edges };
}

export const TOPOLOGY = build();
