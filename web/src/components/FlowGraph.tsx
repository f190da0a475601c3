import { useMemo } from 'react';
import { Background, Controls, Handle, Position, ReactFlow, type Edge, type Node, type NodeProps } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useMetrics } from '../hooks';
import type { MetricsSnapshot } from '../prometheus';
import { HISTORY_SECONDS, lastRate, useLive } from '../store';
import { TOPOLOGY, topicColor, type NodeKind, type TopoNode } from '../topology';
import { Sparkline } from './Sparkline';

export interface PipeData extends Record<string, unknown> {
  label: string;
  kind: NodeKind;
  light: 'active' | 'idle' | 'warn' | 'alert';
  processed: number;
  series: number[];
  lag?: number;
  depth?: number;
  color: string;
}
type PipeNode = Node<PipeData, 'pipe'>;

const LIGHT = { active: 'bg-emerald-400', idle: 'bg-slate-500', warn: 'bg-amber-400', alert: 'bg-red-500' };
const BORDER: Record<NodeKind, string> = {
  producer: 'border-sky-500',
  topic: 'border-slate-500',
  consumer: 'border-violet-500',
  dlq: 'border-red-500',
};

function PipeNodeView({ data }: NodeProps<PipeNode>) {
  return (
    <div className={`w-[180px] rounded-md border-2 bg-slate-900 px-2 py-1 text-xs text-slate-100 ${BORDER[data.kind]} ${data.kind === 'dlq' ? 'cursor-pointer' : ''}`}>
      <Handle type="target" position={Position.Left} />
      <div className="flex items-center gap-1">
        <span aria-hidden className={`inline-block h-2 w-2 rounded-full ${LIGHT[data.light]}`} />
        <span className="truncate font-medium" title={data.label}>{data.label}</span>
      </div>
      <div className="flex justify-between text-slate-300">
        <span>{data.kind === 'dlq' ? `depth ${data.depth ?? 0}` : `${data.processed} msgs`}</span>
        {data.lag !== undefined && <span className={data.lag > 100 ? 'text-amber-300' : ''}>lag {data.lag}</span>}
      </div>
      <Sparkline values={data.series} width={160} height={18} color={data.color} label={`${data.label}, last 60 s`} />
      <Handle type="source" position={Position.Right} />
    </div>
  );
}
const nodeTypes = { pipe: PipeNodeView };

function sumSeries(hist: Record<string, number[]>, topics: string[]): number[] {
  const out = new Array<number>(HISTORY_SECONDS).fill(0);
  for (const t of topics) {
    const h = hist[t];
    if (h) for (let i = 0; i < out.length; i++) out[i] += h[i] ?? 0;
  }
  return out;
}

export function nodeData(
  n: TopoNode,
  live: { topicTotals: Record<string, number>; topicHistory: Record<string, number[]> },
  m: MetricsSnapshot | undefined,
): PipeData {
  const series = sumSeries(live.topicHistory, n.topics);
  const wsCount = n.topics.reduce((a, t) => a + (live.topicTotals[t] ?? 0), 0);
  const recent = series.slice(-5).some((v) => v > 0);
  const lag = n.group ? (m?.lagByGroup[n.group] ?? 0) : undefined;
  const depth = n.kind === 'dlq' ? (m?.dlqDepth[n.id] ?? wsCount) : undefined;
  let processed = wsCount;
  if (n.kind === 'consumer' && n.service && m?.consumedByService[n.service] !== undefined) processed = m.consumedByService[n.service];
  let light: PipeData['light'] = recent ? 'active' : 'idle';
  if (lag !== undefined && lag > 100) light = 'warn';
  if (depth !== undefined && depth > 0) light = 'alert';
  return {
    label: n.label,
    kind: n.kind,
    light,
    processed,
    series,
    lag,
    depth,
    color: n.kind === 'topic' || n.kind === 'dlq' ? topicColor(n.id) : n.kind === 'consumer' ? '#a78bfa' : '#38bdf8',
  };
}

export function FlowGraph() {
  const topicTotals = useLive((s) => s.topicTotals);
  const topicHistory = useLive((s) => s.topicHistory);
  const selectDlq = useLive((s) => s.selectDlq);
  const metrics = useMetrics();
  const m = metrics.data;

  const nodes: PipeNode[] = useMemo(
    () =>
      TOPOLOGY.nodes.map((n) => ({
        id: n.id,
        type: 'pipe',
        position: { x: n.x, y: n.y },
        data: nodeData(n, { topicTotals, topicHistory }, m),
        draggable: false,
        ariaLabel: `${n.kind} ${n.label}`,
      })),
    [topicTotals, topicHistory, m],
  );
  const edges: Edge[] = useMemo(
    () =>
      TOPOLOGY.edges.map((e) => {
        const rate = lastRate(topicHistory[e.topic]);
        const color = topicColor(e.topic);
        return {
          id: e.id,
          source: e.source,
          target: e.target,
          animated: rate > 0,
          label: rate > 0 ? `${rate}/s` : undefined,
          labelBgStyle: { fill: '#0f172a' },
          style: { stroke: color, strokeWidth: rate > 0 ? 2 : 1, opacity: rate > 0 ? 1 : 0.45 },
          data: { topic: e.topic, rate },
          className: rate > 0 ? 'edge-active' : 'edge-idle',
        };
      }),
    [topicHistory],
  );

  const dlqs = TOPOLOGY.nodes.filter((n) => n.kind === 'dlq');
  return (
    <section aria-labelledby="flow-title" className="flex h-full flex-col">
      <h2 id="flow-title" className="sr-only">Flow graph</h2>
      <div className="min-h-[420px] flex-1 rounded border border-slate-800" data-testid="flow-graph">
        <ReactFlow
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          fitView
          fitViewOptions={{ padding: 0.04 }}
          minZoom={0.2}
          colorMode="dark"
          nodesConnectable={false}
          onNodeClick={(_, n) => {
            if ((n.data as PipeData).kind === 'dlq') selectDlq(n.id);
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
