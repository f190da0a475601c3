/**
 * The pipelines the flow graph draws, as `edalab up` runs them. Topic names follow
 * crates/domain/src/events/topics.rs and crates/services/src/*; `group` is the consumer
 * group's real name, matched in /metrics (edalab_consumer_lag{group}); `service` is the
 * label of edalab_messages_consumed_total{service} where the service exports it (ledger).
 */

export type NodeKind = 'producer' | 'topic' | 'consumer' | 'dlq';

/** The five systems `edalab up` runs, each a tab of the flow graph. */
export type SystemId = 'banking' | 'transactions' | 'calculator' | 'intake' | 'saga';
/** A tab of the flow graph: every system, or one. */
export type GraphView = 'all' | SystemId;

export const SYSTEMS: { id: SystemId; label: string }[] = [
  { id: 'banking', label: 'Banking (S3)' },
  { id: 'transactions', label: 'Transactions (S0)' },
  { id: 'calculator', label: 'Calculator (S1)' },
  { id: 'intake', label: 'Orders intake (S2)' },
  { id: 'saga', label: 'Order saga (S4)' },
];
export const GRAPH_VIEWS: { id: GraphView; label: string }[] = [{ id: 'all', label: 'All systems' }, ...SYSTEMS];

export const isGraphView = (v: unknown): v is GraphView => GRAPH_VIEWS.some((g) => g.id === v);

export interface TopoNode {
  id: string;
  label: string;
  kind: NodeKind;
  system: SystemId;
  /** Position in the All systems view. */
  x: number;
  y: number;
  /** Position in its system's own view (compact: four columns at most). */
  sx: number;
  sy: number;
  /** Topics whose figures feed this node: its own (topic), its outputs (producer), its inputs (consumer). */
  topics: string[];
  service?: string;
  group?: string;
}
export interface TopoEdge {
  id: string;
  source: string;
  target: string;
  /** Topic whose count and rate this edge shows. */
  topic: string;
  /** In its system's view, drawn downwards (bottom → top handles) instead of left → right. */
  down?: boolean;
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

/** A node's box in the graph (FlowGraph draws it this wide). */
export const NODE_WIDTH = 230;
/** Room between two columns for an edge label (`12 345 · 12/s`), drawn just before its target. */
export const COLUMN_GAP = 110;
/** Columns: a node and the gap. */
const CW = NODE_WIDTH + COLUMN_GAP;
/** Rows: a node whose name takes two lines, and a gap. */
const RH = 96;
const COL = [0, 1, 2, 3, 4, 5].map((i) => i * CW);
const ROW = RH;

function build(): { nodes: TopoNode[]; edges: TopoEdge[] } {
  const nodes: TopoNode[] = [];
  const edges: TopoEdge[] = [];
  let system: SystemId = 'banking';
  /** Where a node sits in its system's view: column and row. */
  const at = (c: number, r: number) => ({ sx: c * CW, sy: r * RH });
  const e = (source: string, target: string, topic: string, down = false) =>
    edges.push({ id: `${source}->${target}`, source, target, topic, ...(down ? { down } : {}) });
  const topic = (id: string, x: number, y: number, s: { sx: number; sy: number }, kind: NodeKind = isDlqTopic(id) ? 'dlq' : 'topic') =>
    nodes.push({ id, label: id, kind, system, x, y, ...s, topics: [id] });
  /** A consumer group: `group` is its name in `GET /api/v1/consumers` and edalab_consumer_lag (crates/services). */
  const consumer = (id: string, group: string, inputs: string[], x: number, y: number, s: { sx: number; sy: number }, service?: string) =>
    nodes.push({ id, label: group, kind: 'consumer', system, x, y, ...s, topics: inputs, group, service });
  const producer = (id: string, label: string, outputs: string[], x: number, y: number, s: { sx: number; sy: number }) =>
    nodes.push({ id, label, kind: 'producer', system, x, y, ...s, topics: outputs });

  // S3 banking: simulator -> bancaire.* -> ledger -> rejections / system.dlq
  system = 'banking';
  const allBanking = BANKING_TOPICS.map((b) => b.topic);
  producer('simulator', 'simulator', allBanking, COL[0], ROW * 3, at(0, 3));
  BANKING_TOPICS.forEach((b, i) => {
    topic(b.topic, COL[1], i * ROW, at(1, i));
    e('simulator', b.topic, b.topic);
    e(b.topic, 'ledger', b.topic);
  });
  consumer('ledger', 'ledger', allBanking, COL[2], ROW * 3, at(2, 3), 'ledger');
  topic('bancaire.operation.rejetee', COL[3], ROW * 2, at(3, 2));
  topic('system.dlq', COL[3], ROW * 4, at(3, 4));
  e('ledger', 'bancaire.operation.rejetee', 'bancaire.operation.rejetee');
  e('ledger', 'system.dlq', 'system.dlq');

  // S0 transactions: POST /transactions -> transactions -> processor -> events / fraud-alerts / DLQ;
  // transactions-events -> transaction-processors -> notifications / DLQ. In its own view the
  // second stage is the row below, fed from above.
  system = 'transactions';
  let y = ROW * 8;
  producer('transactions-api', 'POST /transactions', ['transactions'], COL[0], y, at(0, 0));
  topic('transactions', COL[1], y, at(1, 0));
  consumer('transactions-processor', 'transactions-processor', ['transactions'], COL[2], y, at(2, 0));
  topic('transactions-events', COL[3], y - ROW, at(1, 2.4));
  topic('fraud-alerts', COL[3], y, at(3, 0));
  topic('transactions-dlq', COL[3], y + ROW, at(3, 1));
  consumer('transaction-processors', 'transaction-processors', ['transactions-events'], COL[4], y - ROW, at(2, 2.4));
  topic('notifications', COL[5], y - ROW * 1.5, at(3, 2.4));
  topic('transactions-events-dlq', COL[5], y - ROW * 0.5, at(3, 3.4));
  e('transactions-api', 'transactions', 'transactions');
  e('transactions', 'transactions-processor', 'transactions');
  e('transactions-processor', 'transactions-events', 'transactions-events', true);
  e('transactions-processor', 'fraud-alerts', 'fraud-alerts');
  e('transactions-processor', 'transactions-dlq', 'transactions-dlq');
  e('transactions-events', 'transaction-processors', 'transactions-events');
  e('transaction-processors', 'notifications', 'notifications');
  e('transaction-processors', 'transactions-events-dlq', 'transactions-events-dlq');

  // S1 calculator: POST /calculator -> input queue -> workers -> output / DLQ
  system = 'calculator';
  y = ROW * 10.5;
  producer('calculator-api', 'POST /calculator', ['calculatrice-input-queue'], COL[0], y, at(0, 0.5));
  topic('calculatrice-input-queue', COL[1], y, at(1, 0.5));
  consumer('calculator-workers', 'calculator-workers', ['calculatrice-input-queue'], COL[2], y, at(2, 0.5));
  topic('calculatrice-output-queue', COL[3], y - ROW / 2, at(3, 0));
  topic('calculatrice-input-queue-dlq', COL[3], y + ROW / 2, at(3, 1));
  e('calculator-api', 'calculatrice-input-queue', 'calculatrice-input-queue');
  e('calculatrice-input-queue', 'calculator-workers', 'calculatrice-input-queue');
  e('calculator-workers', 'calculatrice-output-queue', 'calculatrice-output-queue');
  e('calculator-workers', 'calculatrice-input-queue-dlq', 'calculatrice-input-queue-dlq');

  // S2 intake: order files -> tp-orders-queue -> tp-order-worker -> store / DLQ
  system = 'intake';
  y = ROW * 12.5;
  producer('intake', 'inbox/orders files', ['tp-orders-queue'], COL[0], y, at(0, 0));
  topic('tp-orders-queue', COL[1], y, at(1, 0));
  consumer('tp-order-worker', 'tp-order-worker', ['tp-orders-queue'], COL[2], y, at(2, 0));
  topic('tp-orders-dlq', COL[3], y, at(3, 0));
  e('intake', 'tp-orders-queue', 'tp-orders-queue');
  e('tp-orders-queue', 'tp-order-worker', 'tp-orders-queue');
  e('tp-order-worker', 'tp-orders-dlq', 'tp-orders-dlq');

  // S4 order saga: POST /orders -> orders.created -> payment-service -> authorized / rejected / DLQ;
  // order-tracking reads orders.created and payments.* (its poison -> orders.dlq). In its own
  // view the API sits above its topic and orders.dlq below order-tracking.
  system = 'saga';
  y = ROW * 14.5;
  producer('orders-api', 'POST /orders', ['orders.created'], COL[0], y, at(0, 0));
  topic('orders.created', COL[1], y, at(0, 1.5));
  consumer('payment-service', 'payment-service', ['orders.created'], COL[2], y, at(1, 1.5));
  topic('payments.authorized', COL[3], y - ROW, at(2, 0.5));
  topic('payments.rejected', COL[3], y, at(2, 1.5));
  topic('payments.dlq', COL[3], y + ROW, at(2, 2.5));
  consumer('order-tracking', 'order-tracking', ['orders.created', 'payments.authorized', 'payments.rejected'], COL[4], y, at(3, 1));
  topic('orders.dlq', COL[5], y, at(3, 2.5));
  e('orders-api', 'orders.created', 'orders.created', true);
  e('orders.created', 'payment-service', 'orders.created');
  e('payment-service', 'payments.authorized', 'payments.authorized');
  e('payment-service', 'payments.rejected', 'payments.rejected');
  e('payment-service', 'payments.dlq', 'payments.dlq');
  e('payments.authorized', 'order-tracking', 'payments.authorized');
  e('payments.rejected', 'order-tracking', 'payments.rejected');
  e('order-tracking', 'orders.dlq', 'orders.dlq', true);

  return { nodes, edges };
}

export const TOPOLOGY = build();

/** A node placed for one view of the graph. */
export interface PlacedNode extends TopoNode {
  position: { x: number; y: number };
}
/** An edge placed for one view: the handles it leaves and enters by. */
export interface PlacedEdge extends TopoEdge {
  sourceHandle: 'r' | 'b';
  targetHandle: 'l' | 't';
}

/**
 * The nodes and edges of one tab: every system in the All systems layout, or one system's own,
 * compact layout (its edges only, some drawn downwards).
 */
export function graphFor(view: GraphView): { nodes: PlacedNode[]; edges: PlacedEdge[] } {
  const all = view === 'all';
  const nodes = TOPOLOGY.nodes
    .filter((n) => all || n.system === view)
    .map((n) => ({ ...n, position: all ? { x: n.x, y: n.y } : { x: n.sx, y: n.sy } }));
  const ids = new Set(nodes.map((n) => n.id));
  const edges = TOPOLOGY.edges
    .filter((e) => ids.has(e.source) && ids.has(e.target))
    .map((e): PlacedEdge => (!all && e.down ? { ...e, sourceHandle: 'b', targetHandle: 't' } : { ...e, sourceHandle: 'r', targetHandle: 'l' }));
  return { nodes, edges };
}
