import { Fragment, useEffect, useMemo } from 'react';
import { Background, BaseEdge, Controls, getBezierPath, Handle, Position, ReactFlow, type Edge, type EdgeProps, type Node, type NodeProps } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useConsumerFigures, useMetrics, useNow, usePlatformTotals, type GroupFigures } from '../hooks';
import { formatCount, formatRate, TOTALS_HISTORY } from '../rates';
import { hrefs, navigate, useRoute } from '../router';
import { useLive } from '../store';
import { COLUMN_GAP, GRAPH_VIEWS, graphFor, isGraphView, NODE_WIDTH, topicColor, type GraphView, type NodeKind, type TopoNode } from '../topology';
import { Sparkline } from './Sparkline';

/** A WebSocket event this recent keeps a node's light on between two polls of the offsets. */
const ACTIVE_MS = 3000;

export interface PipeData extends Record<string, unknown> {
  id: string;
  label: string;
  kind: NodeKind;
  light: 'active' | 'idle' | 'warn' | 'alert';
  /** Topic: messages produced to it; producer: to its output topics. */
  count?: number;
  /** msg/s into the node's topics (producer: out of it). */
  rate?: number;
  lag?: number;
  /** Sum of the group's committed offsets. */
  committed?: number;
  depth?: number;
  series: number[];
  color: string;
  /** Where clicking the node goes (topic → its messages, consumer → its group). */
  href?: string;
}
type PipeNode = Node<PipeData, 'pipe'>;

const LIGHT = { active: 'bg-emerald-400', idle: 'bg-slate-500', warn: 'bg-amber-400', alert: 'bg-red-500' };
const BORDER: Record<NodeKind, string> = {
  producer: 'border-sky-500',
  topic: 'border-slate-500',
  consumer: 'border-violet-500',
  dlq: 'border-red-500',
};

/** A name that may wrap after its dots, dashes and slashes (`bancaire.paiement-prime.effectue`). */
function Breakable({ text }: { text: string }) {
  const parts = text.split(/(?<=[.\-/])/);
  return <>{parts.map((p, i) => <Fragment key={i}>{p}{i < parts.length - 1 && <wbr />}</Fragment>)}</>;
}

function NodeLabel({ data }: { data: PipeData }) {
  const selectDlq = useLive((s) => s.selectDlq);
  const text = (
    <span data-testid="node-label" title={data.label} className="text-[13px] leading-tight font-semibold">
      <Breakable text={data.label} />
    </span>
  );
  const cls = 'nodrag min-w-0 text-left hover:underline';
  if (data.kind === 'dlq')
    return <button type="button" className={cls} aria-label={`Open the dead-letter queue ${data.label}`} onClick={() => selectDlq(data.id)}>{text}</button>;
  if (data.href) return <a href={data.href} className={cls}>{text}</a>;
  return <span className="min-w-0">{text}</span>;
}

function Figures({ data }: { data: PipeData }) {
  if (data.kind === 'dlq') return <span data-testid="node-depth">depth {data.depth ?? '—'}</span>;
  if (data.kind === 'consumer')
    return (
      <>
        <span data-testid="node-lag" className={data.lag !== undefined && data.lag > 100 ? 'text-amber-300' : ''}>lag {formatCount(data.lag)}</span>
        <span data-testid="node-committed">committed {formatCount(data.committed)}</span>
      </>
    );
  return (
    <>
      <span data-testid="node-count">{formatCount(data.count)} msgs</span>
      {data.rate !== undefined && <span>{formatRate(data.rate)}/s</span>}
    </>
  );
}

function PipeNodeView({ data }: NodeProps<PipeNode>) {
  const clickable = !!data.href || data.kind === 'dlq';
  return (
    <div style={{ width: NODE_WIDTH }}
      className={`rounded-md border-2 bg-slate-900 px-2 py-1 text-slate-100 ${BORDER[data.kind]} ${clickable ? 'cursor-pointer hover:bg-slate-800' : ''}`}>
      <Handle type="target" position={Position.Left} id="l" />
      <Handle type="target" position={Position.Top} id="t" className="opacity-0" />
      <div className="flex items-center gap-1.5">
        <span aria-hidden className={`inline-block h-2 w-2 shrink-0 rounded-full ${LIGHT[data.light]}`} />
        <NodeLabel data={data} />
      </div>
      <div className="flex justify-between gap-2 text-xs text-slate-300 tabular-nums">
        <Figures data={data} />
      </div>
      <Sparkline values={data.series} width={NODE_WIDTH - 24} height={18} color={data.color} label={`${data.label}, msg/s over the last ${TOTALS_HISTORY} polls`} />
      <Handle type="source" position={Position.Right} id="r" />
      <Handle type="source" position={Position.Bottom} id="b" className="opacity-0" />
    </div>
  );
}
const nodeTypes = { pipe: PipeNodeView };

/**
 * An edge whose label sits just before its target (in the gap between the columns), not half
 * way: the seven edges fanning out of the simulator then label the topic each one enters.
 * An edge drawn downwards keeps it half way.
 */
function PipeEdgeView(p: EdgeProps) {
  const [path, midX, midY] = getBezierPath(p);
  const down = p.targetPosition === Position.Top;
  return (
    <BaseEdge id={p.id} path={path} style={p.style} markerEnd={p.markerEnd} interactionWidth={p.interactionWidth}
      label={p.label} labelX={down ? midX : p.targetX - COLUMN_GAP / 2} labelY={down ? midY : p.targetY}
      labelStyle={p.labelStyle} labelShowBg={p.labelShowBg} labelBgStyle={p.labelBgStyle} labelBgPadding={p.labelBgPadding} labelBgBorderRadius={p.labelBgBorderRadius} />
  );
}
const edgeTypes = { pipe: PipeEdgeView };

/** What the graph shows, all from the server: offsets per topic, consumer groups, DLQ depths. */
export interface GraphFigures {
  /** Per topic: messages produced (`end_offsets`). */
  counts: Record<string, number>;
  rates: Record<string, number>;
  topicHistory: Record<string, number[]>;
  groups: Record<string, GroupFigures>;
  dlqDepth?: Record<string, number>;
  /** Unix ms of the last WebSocket event per topic (only for the activity light). */
  lastSeen?: Record<string, number>;
  now?: number;
}

function sumSeries(hist: Record<string, number[]>, topics: string[]): number[] {
  const out = new Array<number>(TOTALS_HISTORY).fill(0);
  for (const t of topics) {
    const h = hist[t];
    if (h) for (let i = 0; i < out.length; i++) out[i] += h[i] ?? 0;
  }
  return out;
}

/** Sum of `values[k]` over `keys`; `undefined` when none is known. */
function sumKnown(values: Record<string, number>, keys: string[]): number | undefined {
  const known = keys.filter((k) => k in values);
  return known.length ? known.reduce((a, k) => a + values[k], 0) : undefined;
}

export function nodeData(n: TopoNode, f: GraphFigures): PipeData {
  const series = sumSeries(f.topicHistory, n.topics);
  const rate = sumKnown(f.rates, n.topics);
  const now = f.now ?? Date.now();
  const seen = n.topics.some((t) => now - (f.lastSeen?.[t] ?? -Infinity) < ACTIVE_MS);
  const group = n.group ? f.groups[n.group] : undefined;
  // /metrics lists the DLQs with something in them: loaded and silent is 0.
  const depth = n.kind === 'dlq' && f.dlqDepth ? (f.dlqDepth[n.id] ?? 0) : undefined;
  let light: PipeData['light'] = (rate ?? 0) > 0 || seen ? 'active' : 'idle';
  if (group && group.lag > 100) light = 'warn';
  if (depth !== undefined && depth > 0) light = 'alert';
  const base = { id: n.id, label: n.label, kind: n.kind, light, series };
  switch (n.kind) {
    case 'consumer':
      return { ...base, lag: group?.lag, committed: group?.committed, color: '#a78bfa', href: hrefs.group(n.group) };
    case 'dlq':
      return { ...base, depth, count: f.counts[n.id], rate, color: topicColor(n.id) };
    case 'topic':
      return { ...base, count: f.counts[n.id], rate, color: topicColor(n.id), href: hrefs.topic(n.id) };
    case 'producer':
      return { ...base, count: sumKnown(f.counts, n.topics), rate, color: '#38bdf8' };
  }
}

/** An edge into a topic: the topic's count and rate (`1 234 · 12/s`); none before the first answer. */
export function edgeLabel(topic: string, f: Pick<GraphFigures, 'counts' | 'rates'>): string | undefined {
  const count = f.counts[topic];
  if (count === undefined) return undefined;
  const rate = f.rates[topic];
  return rate === undefined ? formatCount(count) : `${formatCount(count)} · ${formatRate(rate)}/s`;
}

const nodeAria = (d: PipeData) => {
  if (d.kind === 'consumer') return `consumer group ${d.label}: lag ${formatCount(d.lag)}, committed ${formatCount(d.committed)}`;
  if (d.kind === 'dlq') return `dead-letter queue ${d.label}: depth ${d.depth ?? 'unknown'}`;
  return `${d.kind} ${d.label}: ${formatCount(d.count)} messages, ${formatRate(d.rate)} per second`;
};

/** The tab shown: `?system=` of the Overview's hash, else the one last chosen. */
function useGraphView(): [GraphView, (v: GraphView) => void] {
  const route = useRoute();
  const stored = useLive((s) => s.graphView);
  const setStored = useLive((s) => s.setGraphView);
  const fromHash = route.page === 'overview' ? route.query.get('system') : null;
  const view = isGraphView(fromHash) ? fromHash : stored;
  useEffect(() => {
    if (view !== stored) setStored(view);
  }, [view, stored, setStored]);
  const choose = (v: GraphView) => {
    setStored(v);
    if (route.page === 'overview') navigate(hrefs.overview(v), true);
  };
  return [view, choose];
}

function GraphTabs({ view, onChoose }: { view: GraphView; onChoose: (v: GraphView) => void }) {
  return (
    <div role="tablist" aria-label="Systems" className="mb-2 flex flex-wrap gap-1">
      {GRAPH_VIEWS.map((g) => (
        <button key={g.id} type="button" role="tab" id={`graph-tab-${g.id}`} aria-selected={view === g.id} aria-controls="graph-panel"
          data-testid={`graph-tab-${g.id}`} onClick={() => onChoose(g.id)}
          className={`rounded px-3 py-1 text-sm ${view === g.id ? 'bg-sky-700 font-medium text-white' : 'bg-slate-800 text-slate-300 hover:bg-slate-700'}`}>
          {g.label}
        </button>
      ))}
    </div>
  );
}

export function FlowGraph() {
  const [view, choose] = useGraphView();
  const lastSeen = useLive((s) => s.lastSeen);
  const selectDlq = useLive((s) => s.selectDlq);
  const totals = usePlatformTotals();
  const consumers = useConsumerFigures();
  const m = useMetrics().data;
  const now = useNow();
  const graph = useMemo(() => graphFor(view), [view]);
  const figures: GraphFigures = useMemo(
    () => ({ counts: totals.counts, rates: totals.rates, topicHistory: totals.topicHistory, groups: consumers.byGroup, dlqDepth: m?.dlqDepth, lastSeen, now }),
    [totals, consumers.byGroup, m?.dlqDepth, lastSeen, now],
  );

  const nodes: PipeNode[] = useMemo(
    () =>
      graph.nodes.map((n) => {
        const data = nodeData(n, figures);
        return { id: n.id, type: 'pipe', position: n.position, data, draggable: false, focusable: false, ariaLabel: nodeAria(data) };
      }),
    [graph, figures],
  );
  const kinds = useMemo(() => new Map(graph.nodes.map((n) => [n.id, n.kind])), [graph]);
  const edges: Edge[] = useMemo(
    () =>
      graph.edges.map((e) => {
        const rate = figures.rates[e.topic] ?? 0;
        const active = rate > 0;
        // The count and rate go on the edge that produces to the topic, not on its readers' too.
        const intoTopic = kinds.get(e.target) === 'topic' || kinds.get(e.target) === 'dlq';
        return {
          id: e.id,
          type: 'pipe',
          source: e.source,
          target: e.target,
          sourceHandle: e.sourceHandle,
          targetHandle: e.targetHandle,
          animated: active,
          label: intoTopic ? edgeLabel(e.topic, figures) : undefined,
          labelBgStyle: { fill: '#0f172a' },
          labelBgPadding: [4, 2] as [number, number],
          style: { stroke: topicColor(e.topic), strokeWidth: active ? 2 : 1, opacity: active ? 1 : 0.45 },
          data: { topic: e.topic, rate },
          className: active ? 'edge-active' : 'edge-idle',
        };
      }),
    [graph, kinds, figures],
  );

  // Every DLQ, whichever tab: a dead letter anywhere deserves a look.
  const dlqs = useMemo(() => graphFor('all').nodes.filter((n) => n.kind === 'dlq'), []);
  return (
    <section aria-labelledby="flow-title" className="flex h-full flex-col">
      <h2 id="flow-title" className="sr-only">Flow graph</h2>
      <GraphTabs view={view} onChoose={choose} />
      <div id="graph-panel" role="tabpanel" aria-labelledby={`graph-tab-${view}`} data-view={view}
        className="min-h-[420px] flex-1 rounded border border-slate-800" data-testid="flow-graph">
        <ReactFlow
          key={view}
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          edgeTypes={edgeTypes}
          fitView
          fitViewOptions={{ padding: '12px', maxZoom: 1.25 }}
          minZoom={0.2}
          maxZoom={2}
          colorMode="dark"
          nodesConnectable={false}
          nodesFocusable={false}
          edgesFocusable={false}
          onNodeClick={(_, n) => {
            const d = n.data as PipeData;
            if (d.kind === 'dlq') selectDlq(n.id);
            else if (d.href) navigate(d.href);
          }}
          proOptions={{ hideAttribution: true }}
        >
          <Background />
          <Controls showInteractive={false} />
        </ReactFlow>
      </div>
      <div className="mt-2 flex flex-wrap items-center gap-2 text-xs" aria-label="Dead-letter queues">
        <span className="text-slate-400">DLQs:</span>
        {dlqs.map((d) => {
          const depth = m?.dlqDepth[d.id] ?? 0;
          return (
            <button key={d.id} type="button" onClick={() => selectDlq(d.id)}
              className={`rounded border px-2 py-0.5 ${depth > 0 ? 'border-red-500 text-red-200' : 'border-slate-600 text-slate-200'}`}>
              {d.id} ({depth}){depth > 0 ? ' ⚠' : ''}
            </button>
          );
        })}
      </div>
    </section>
  );
}
