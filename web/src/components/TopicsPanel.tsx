import { useEffect, useId, useRef, useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { ChevronDown, ChevronRight, Database, RefreshCw, Waypoints, X } from 'lucide-react';
import { api, ApiError, type TopicMessagesParams, type TopicMessageView, type TopicSummaryView } from '../api';
import { TOPICS_POLL_MS, useTopics } from '../hooks';
import { useLive } from '../store';
import { errorText } from './ConsumersPanel';
import { counterRates, formatCount, formatRate, type Samples } from '../rates';

export { TOPICS_POLL_MS };
/** The page sizes the message browser offers (the server takes 1..500). */
export const MESSAGE_LIMITS = [20, 50, 100] as const;
const DEFAULT_LIMIT = 50;
/** Two samples closer than this give no rate (as for the consumer members). */
/** Typing in the offset, key or text box asks again after this pause. */
const FILTER_DELAY_MS = 300;
/** Lines of a value shown before "Expand". */
export const VALUE_LINES = 6;

/**
 * Produce rate per topic (msg/s) from the change of `end_offsets` (one per message produced)
 * between two answers. A topic seen for the first time, or whose end went back (deleted and
 * created again), has none yet (see {@link counterRates}).
 */
export function topicRates(
  prev: Samples,
  prevRates: Record<string, number>,
  topics: TopicSummaryView[],
  at: number,
): { samples: Samples; rates: Record<string, number> } {
  return counterRates(prev, prevRates, topics.map((t): [string, number] => [t.name, t.end_offsets]), at);
}

const oneDecimal = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1).replace(/\.0$/, ''));

/** Bytes in binary units: `512 B`, `12.1 KiB`, `1 GiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? String(v) : oneDecimal(v)} ${units[i]}`;
}

/** A retention time: `forever` for `null`, else the largest unit that fits (`7 d`, `1.5 h`). */
export function formatRetention(ms: number | null): string {
  if (ms == null) return 'forever';
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size) return `${oneDecimal(ms / size)} ${unit}`;
  return `${ms} ms`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** `{"base64": "…"}`: bytes that are not UTF-8. */
const isBytes = (v: unknown): v is { base64: string } => isObject(v) && typeof v.base64 === 'string' && Object.keys(v).length === 1;

/** A key or header value as text: itself, `base64:…` for bytes, JSON otherwise; `null` → `null`. */
export function shownText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (isBytes(v)) return `base64:${v.base64}`;
  return JSON.stringify(v);
}

/** What the value was: `Avro #3` (framed with registry id 3), `JSON`, `text` or `bytes`. */
export function valueKind(m: Pick<TopicMessageView, 'value' | 'value_schema_id'>): string {
  if (m.value_schema_id != null) return `Avro #${m.value_schema_id}`;
  if (isBytes(m.value)) return 'bytes';
  if (typeof m.value === 'string') return 'text';
  return 'JSON';
}

/** The value as shown: text as is, the rest as pretty JSON. */
export function prettyValue(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v, null, 2) ?? String(v));
}

/**
 * The topics of the bus (issue 23), like Kafka UI's or Redpanda Console's list: partitions,
 * messages retained, size, retention, produce rate; choosing one opens its message browser.
 * The list and its rates are the ones every page shows ({@link useTopics}). `selected`/`onSelect`
 * make the open topic the caller's (the page's URL); without them the panel keeps it.
 */
export function TopicsPanel({ pollMs = TOPICS_POLL_MS, selected: asked, onSelect }: {
  pollMs?: number;
  selected?: string | null;
  onSelect?: (topic: string | null) => void;
}) {
  const q = useTopics(pollMs);
  const [own, setOwn] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const selected = onSelect ? (asked ?? null) : own;
  const setSelected = onSelect ?? setOwn;
  const rates = q.data?.rates ?? {};

  const topics = q.data?.topics ?? [];
  const shown = filter ? topics.filter((t) => t.name.includes(filter.trim())) : topics;
  const summary = topics.find((t) => t.name === selected);
  return (
    <section aria-labelledby="topics-title" data-testid="topics-panel" className="space-y-2">
      <h2 id="topics-title" className="flex items-center gap-2 text-sm font-semibold tracking-wide text-slate-300 uppercase">
        <Database aria-hidden className="h-4 w-4" /> Topics
      </h2>
      {q.isError && <p className="text-xs text-slate-400">Not available: {(q.error as Error).message}</p>}
      {q.isPending && <p className="text-xs text-slate-400">Loading…</p>}
      {q.isSuccess && topics.length === 0 && <p className="text-xs text-slate-400">No topic on the bus yet.</p>}
      {topics.length > 0 && (
        <div className="space-y-2 rounded border border-slate-800 bg-slate-900 p-3">
          <div>
            <label htmlFor="topics-filter" className="sr-only">Filter topics</label>
            <input id="topics-filter" type="search" placeholder="Filter topics" value={filter} onChange={(e) => setFilter(e.target.value)}
              className="w-64 rounded border border-slate-600 bg-slate-800 px-2 py-1 text-xs text-slate-100" />
          </div>
          <div className="max-h-80 overflow-auto">
            <table className="w-full text-xs">
              <caption className="sr-only">Topics, with their produce rate</caption>
              <thead>
                <tr className="border-b border-slate-800">
                  <th scope="col" className={th}>Topic</th>
                  <th scope="col" className={thNum}>Partitions</th>
                  <th scope="col" className={thNum} title="Messages the topic keeps (retention applied)">Messages</th>
                  <th scope="col" className={thNum} title="Messages ever produced: the sum of the partitions' end offsets">Produced</th>
                  <th scope="col" className={thNum}>Size</th>
                  <th scope="col" className={th}>Retention</th>
                  <th scope="col" className={th}>Cleanup</th>
                  <th scope="col" className={thNum}>msg/s</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((t) => {
                  const open = t.name === selected;
                  return (
                    <tr key={t.name} data-testid="topic-row" data-topic={t.name}
                      className={`border-b border-slate-800/50 ${open ? 'bg-slate-800' : 'hover:bg-slate-800/50'}`}>
                      <td className={td}>
                        <button type="button" aria-pressed={open} onClick={() => setSelected(open ? null : t.name)}
                          className="text-left font-medium text-sky-300 hover:underline">
                          {t.name}
                        </button>
                        {t.dlq && <span data-testid="dlq-badge" className="ml-2 rounded bg-red-900 px-1.5 py-0.5 text-[10px] font-semibold text-red-100">DLQ</span>}
                      </td>
                      <td className={tdNum}>{t.partitions}</td>
                      <td className={tdNum} data-testid="topic-messages">{t.messages}</td>
                      <td className={tdNum} data-testid="topic-produced" title="end offsets: every message ever produced">{formatCount(t.end_offsets)}</td>
                      <td className={tdNum} data-testid="topic-size" title={`${t.size_bytes} bytes`}>{formatBytes(t.size_bytes)}</td>
                      <td className={td} data-testid="topic-retention">
                        {formatRetention(t.retention_ms ?? null)}
                        {t.retention_bytes != null && <span className="text-slate-400"> · max {formatBytes(t.retention_bytes)}</span>}
                      </td>
                      <td className={td}>
                        {t.cleanup_policy}
                        {t.compression && t.compression !== 'none' && <span className="text-slate-400"> · {t.compression}</span>}
                      </td>
                      <td className={tdNum} data-testid="topic-rate">{formatRate(rates[t.name])}</td>
                    </tr>
                  );
                })}
                {shown.length === 0 && (
                  <tr><td colSpan={8} className={`${td} text-slate-400`}>No topic matches “{filter}”.</td></tr>
                )}
              </tbody>
            </table>
          </div>
        </div>
      )}
      {selected && (
        <MessageBrowser key={selected} topic={selected} partitions={summary?.partitions ?? 0} pollMs={pollMs} onClose={() => setSelected(null)} />
      )}
    </section>
  );
}

const th = 'px-2 py-1 text-left font-medium text-slate-400';
const thNum = 'px-2 py-1 text-right font-medium text-slate-400';
const td = 'px-2 py-0.5';
const tdNum = 'px-2 py-0.5 text-right tabular-nums';
const input = 'rounded border border-slate-600 bg-slate-800 px-2 py-1 text-xs text-slate-100 aria-[invalid=true]:border-red-500';
const label = 'block text-xs text-slate-300';

/** The offset, key and text filters, as typed or as asked. */
interface Filters {
  offset: string;
  key: string;
  q: string;
}
const NO_FILTERS: Filters = { offset: '', key: '', q: '' };
const sameFilters = (a: Filters, b: Filters) => a.offset === b.offset && a.key === b.key && a.q === b.q;

/** One topic's messages, decoded, with the filters of `GET /api/v1/topics/{topic}/messages`. */
function MessageBrowser({ topic, partitions, pollMs, onClose }: { topic: string; partitions: number; pollMs: number; onClose: () => void }) {
  const toast = useLive((s) => s.toast);
  const id = useId();
  const [partition, setPartition] = useState('');
  const [limit, setLimit] = useState<number>(DEFAULT_LIMIT);
  const [auto, setAuto] = useState(false);
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [applied, setApplied] = useState<Filters>(NO_FILTERS);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());

  // Typing asks again once the typing pauses.
  useEffect(() => {
    const t = setTimeout(() => setApplied((a) => (sameFilters(a, draft) ? a : draft)), FILTER_DELAY_MS);
    return () => clearTimeout(t);
  }, [draft]);

  const detail = useQuery({ queryKey: ['topic', topic], queryFn: () => api.topic(topic), refetchInterval: pollMs, retry: false });
  const params: TopicMessagesParams = { partition, offset: applied.offset.trim(), key: applied.key, q: applied.q, limit };
  const msgs = useQuery({
    queryKey: ['topic-messages', topic, params],
    queryFn: () => api.topicMessages(topic, params),
    refetchInterval: auto ? pollMs : false,
    placeholderData: keepPreviousData,
    retry: false,
  });

  // A failure is toasted once (the inputs keep showing it while it lasts).
  const toasted = useRef<string | null>(null);
  useEffect(() => {
    if (msgs.isSuccess) toasted.current = null;
    if (!msgs.isError) return;
    const text = `Messages of ${topic}: ${errorText(msgs.error)}`;
    if (toasted.current !== text) {
      toasted.current = text;
      toast('error', text);
    }
  }, [msgs.isError, msgs.isSuccess, msgs.error, topic, toast]);

  const details = msgs.error instanceof ApiError ? msgs.error.details : [];
  const fieldError = (field: string) => details.filter((d) => d.field === field).map((d) => d.message).join('; ');
  const partitionCount = detail.data?.partition_offsets.length || detail.data?.partitions || partitions;

  const edit = (change: Partial<Filters>) => setDraft((d) => ({ ...d, ...change }));
  const refresh = () => {
    if (sameFilters(applied, draft)) void msgs.refetch();
    else setApplied(draft);
    void detail.refetch();
  };
  const byTrace = (trace: string) => {
    // The trace's events on this topic, wherever they are: the other filters go.
    const next = { ...NO_FILTERS, q: trace };
    setPartition('');
    setDraft(next);
    setApplied(next);
  };
  const toggle = (k: string) =>
    setExpanded((s) => {
      const n = new Set(s);
      if (n.has(k)) n.delete(k);
      else n.add(k);
      return n;
    });

  const field = (name: 'partition' | 'offset' | 'limit') => {
    const message = fieldError(name);
    const errorId = `${id}-${name}-error`;
    return {
      id: `${id}-${name}`,
      aria: { 'aria-invalid': message ? true : undefined, 'aria-describedby': message ? errorId : undefined },
      error: message ? <p id={errorId} data-testid={`${name}-error`} className="mt-0.5 max-w-56 text-xs text-red-300">{name}: {message}</p> : null,
    };
  };
  const fPartition = field('partition');
  const fOffset = field('offset');
  const fLimit = field('limit');

  const messages = msgs.data?.messages ?? [];
  return (
    <section aria-label={`Messages of ${topic}`} data-testid="message-browser" className="space-y-2 rounded border border-slate-700 bg-slate-900 p-3">
      <header className="flex items-center justify-between gap-2">
        <h3 className="font-semibold">
          Messages of <span className="text-sky-300">{topic}</span>
        </h3>
        <button type="button" aria-label="Close message browser" onClick={onClose} className="text-slate-400 hover:text-slate-100">
          <X aria-hidden className="h-5 w-5" />
        </button>
      </header>

      {detail.isSuccess && (
        <p data-testid="partition-offsets" className="text-xs text-slate-400">
          {detail.data.partition_offsets.map((p) => (
            <span key={p.partition} className="mr-4 inline-block" title={`partition ${p.partition}: offsets ${p.log_start_offset} (first kept) to ${p.high_watermark} (next), ${p.size_bytes} bytes`}>
              p{p.partition} · offsets {p.log_start_offset}–{p.high_watermark} · {formatBytes(p.size_bytes)}
            </span>
          ))}
        </p>
      )}
      {detail.isError && <p role="alert" className="text-xs text-red-300">Could not describe {topic}: {errorText(detail.error)}</p>}

      <div className="flex flex-wrap items-start gap-2">
        <div>
          <label htmlFor={fPartition.id} className={label}>Partition</label>
          <select id={fPartition.id} value={partition} onChange={(e) => setPartition(e.target.value)} className={input} {...fPartition.aria}>
            <option value="">All</option>
            {Array.from({ length: partitionCount }, (_, i) => <option key={i} value={String(i)}>{i}</option>)}
          </select>
          {fPartition.error}
        </div>
        <div>
          <label htmlFor={fOffset.id} className={label}>Offset</label>
          <input id={fOffset.id} type="text" inputMode="numeric" placeholder="newest" value={draft.offset}
            onChange={(e) => edit({ offset: e.target.value })} onKeyDown={(e) => e.key === 'Enter' && refresh()}
            className={`${input} w-24`} {...fOffset.aria} />
          {fOffset.error}
        </div>
        <div>
          <label htmlFor={`${id}-key`} className={label}>Key</label>
          <input id={`${id}-key`} type="text" placeholder="exact key" value={draft.key}
            onChange={(e) => edit({ key: e.target.value })} onKeyDown={(e) => e.key === 'Enter' && refresh()} className={`${input} w-40`} />
        </div>
        <div>
          <label htmlFor={`${id}-q`} className={label}>Text</label>
          <input id={`${id}-q`} type="search" placeholder="in key, headers, value" value={draft.q}
            onChange={(e) => edit({ q: e.target.value })} onKeyDown={(e) => e.key === 'Enter' && refresh()} className={`${input} w-56`} />
        </div>
        <div>
          <label htmlFor={fLimit.id} className={label}>Limit</label>
          <select id={fLimit.id} value={limit} onChange={(e) => setLimit(Number(e.target.value))} className={input} {...fLimit.aria}>
            {MESSAGE_LIMITS.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
          {fLimit.error}
        </div>
        <div className="mt-4 flex items-center gap-3">
          <button type="button" onClick={refresh} disabled={msgs.isFetching}
            className="flex items-center gap-1 rounded bg-sky-600 px-2 py-1 text-sm font-medium text-white hover:bg-sky-500 disabled:opacity-50">
            <RefreshCw aria-hidden className={`h-4 w-4 ${msgs.isFetching ? 'animate-spin' : ''}`} /> Refresh
          </button>
          <label className="flex items-center gap-1 text-xs text-slate-300">
            <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> Auto-refresh
          </label>
        </div>
      </div>

      {msgs.isError && (
        <p role="alert" data-testid="messages-error" className="text-xs text-red-300">
          Could not read messages: {errorText(msgs.error)}
        </p>
      )}
      {msgs.isPending && <p className="text-xs text-slate-400">Loading…</p>}
      {msgs.data && (
        <p data-testid="messages-scanned" className="text-xs text-slate-400">
          showing {messages.length} of {msgs.data.scanned} scanned · {applied.offset.trim() ? `from offset ${applied.offset.trim()} upwards` : 'newest first'}
        </p>
      )}
      {msgs.isSuccess && messages.length === 0 && <p className="text-sm text-slate-300">No message matches.</p>}

      <ol aria-label="Messages" className="max-h-[36rem] space-y-2 overflow-auto">
        {messages.map((m) => {
          const k = `${m.partition}-${m.offset}`;
          return <MessageRow key={k} id={`${id}-${k}`} m={m} expanded={expanded.has(k)} onToggle={() => toggle(k)} onTrace={byTrace} activeTrace={applied.q} />;
        })}
      </ol>
    </section>
  );
}

function MessageRow({ id, m, expanded, onToggle, onTrace, activeTrace }: {
  id: string;
  m: TopicMessageView;
  expanded: boolean;
  onToggle: () => void;
  onTrace: (trace: string) => void;
  activeTrace: string;
}) {
  const key = shownText(m.key);
  const kind = valueKind(m);
  const lines = prettyValue(m.value).split('\n');
  const long = lines.length > VALUE_LINES;
  const shown = long && !expanded ? [...lines.slice(0, VALUE_LINES), '…'].join('\n') : lines.join('\n');
  const headers = Object.entries(isObject(m.headers) ? m.headers : {});
  const time = new Date(m.timestamp);
  const valueId = `${id}-value`;
  return (
    <li data-testid="message-row" data-partition={m.partition} data-offset={m.offset} className="rounded border border-slate-800 bg-slate-950/40 p-2 text-xs">
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
        <span className="font-mono text-slate-200" data-testid="message-position">p{m.partition} @{m.offset}</span>
        <time dateTime={time.toISOString()} title={time.toISOString()} className="text-slate-400">{time.toLocaleString()}</time>
        <span className="text-slate-400">
          key <span data-testid="message-key" className="font-mono text-slate-200">{key ?? '—'}</span>
        </span>
        <span data-testid="message-kind"
          className={`rounded px-1.5 py-0.5 text-[10px] font-semibold ${kind.startsWith('Avro') ? 'bg-violet-900 text-violet-100' : 'bg-slate-700 text-slate-100'}`}>
          {kind}
        </span>
        {m.trace_id && (
          <button type="button" data-testid="trace-filter" onClick={() => onTrace(m.trace_id!)} aria-pressed={activeTrace === m.trace_id}
            title={`Show the events of trace ${m.trace_id} on this topic`}
            className="flex items-center gap-1 rounded border border-slate-600 px-1.5 py-0.5 font-mono text-slate-200 hover:bg-slate-800">
            <Waypoints aria-hidden className="h-3 w-3" /> Trace {m.trace_id.slice(0, 8)}
          </button>
        )}
      </div>
      {m.value_error && <p data-testid="message-value-error" className="mt-1 text-red-300">Not decoded: {m.value_error}</p>}
      <pre id={valueId} data-testid="message-value" className="mt-1 overflow-x-auto rounded bg-slate-950 p-2 font-mono text-[11px] whitespace-pre-wrap break-all text-slate-200">
        {shown}
      </pre>
      {long && (
        <button type="button" onClick={onToggle} aria-expanded={expanded} aria-controls={valueId}
          className="mt-0.5 flex items-center gap-1 text-sky-300 hover:underline">
          {expanded ? <ChevronDown aria-hidden className="h-3 w-3" /> : <ChevronRight aria-hidden className="h-3 w-3" />}
          {expanded ? 'Collapse value' : `Expand value (${lines.length} lines)`}
        </button>
      )}
      {headers.length > 0 && (
        <details className="mt-1">
          <summary className="cursor-pointer text-slate-400">Headers ({headers.length})</summary>
          <dl data-testid="message-headers" className="mt-1 grid grid-cols-[max-content_1fr] gap-x-3 font-mono">
            {headers.map(([name, v]) => (
              <div key={name} className="contents">
                <dt className="text-slate-400">{name}</dt>
                <dd className="break-all text-slate-200">{shownText(v) ?? 'null'}</dd>
              </div>
            ))}
          </dl>
        </details>
      )}
    </li>
  );
}
