import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { RotateCcw, X } from 'lucide-react';
import { api } from '../api';
import { useLive } from '../store';

export function DlqPanel() {
  const topic = useLive((s) => s.selectedDlq);
  const select = useLive((s) => s.selectDlq);
  const toast = useLive((s) => s.toast);
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ['dlq', topic],
    queryFn: () => api.dlqMessages(topic!),
    enabled: !!topic,
    refetchInterval: 3000,
    retry: false,
  });
  const redrive = useMutation({
    mutationFn: () => api.redrive(topic!),
    onSuccess: (r) => {
      toast('success', `Redrove ${r.redriven} message${r.redriven === 1 ? '' : 's'} from ${topic}${r.invalid ? ` (${r.invalid} not dead letters, left)` : ''}`);
      qc.invalidateQueries({ queryKey: ['dlq', topic] });
      qc.invalidateQueries({ queryKey: ['metrics'] });
    },
    onError: (e: Error) => toast('error', `Redrive failed: ${e.message}`),
  });
  if (!topic) return null;
  const msgs = q.data?.messages ?? [];
  return (
    <aside role="dialog" aria-label={`Dead-letter queue ${topic}`}
      className="fixed top-12 right-0 bottom-10 z-40 flex w-[420px] flex-col border-l border-slate-700 bg-slate-900 p-3 shadow-xl">
      <div className="mb-2 flex items-center justify-between">
        <h2 className="font-semibold">DLQ {topic}</h2>
        <button type="button" aria-label="Close DLQ panel" onClick={() => select(null)}><X aria-hidden className="h-5 w-5" /></button>
      </div>
      <button type="button" disabled={redrive.isPending || msgs.length === 0} onClick={() => redrive.mutate()}
        className="mb-2 flex items-center justify-center gap-2 rounded bg-amber-600 px-3 py-1.5 font-medium text-white hover:bg-amber-500 disabled:opacity-50">
        <RotateCcw aria-hidden className="h-4 w-4" /> Redrive
      </button>
      {q.isError && <p role="alert" className="text-sm text-red-300">Could not load messages: {(q.error as Error).message}</p>}
      {q.isSuccess && (
        <p className="mb-1 text-xs text-slate-400" data-testid="dlq-depth">
          {q.data.depth ?? msgs.length} waiting for redrive{(q.data.depth ?? 0) > msgs.length ? ` (first ${msgs.length} shown)` : ''}
          {q.data.invalid?.length ? ` · ${q.data.invalid.length} not a dead letter` : ''}
        </p>
      )}
      {q.isSuccess && msgs.length === 0 && <p className="text-sm text-slate-300">Empty.</p>}
      <ul className="flex-1 space-y-2 overflow-auto text-xs">
        {msgs.map((msg) => (
          <li key={msg.message_id ?? `${msg.partition}-${msg.offset}`} className="rounded border border-slate-700 p-2">
            <div className="flex justify-between text-slate-300">
              <span>{msg.message_id ? `SQS ${msg.message_id.slice(0, 8)}` : `p${msg.partition} @${msg.offset}`} {msg.key ? `key ${msg.key}` : ''}</span>
              <span>{msg.attempts} attempt{msg.attempts === 1 ? '' : 's'}</span>
            </div>
            <div className="text-red-200">{msg.error}</div>
            <div className="text-slate-400">
              from {msg.origin_topic}{msg.origin_partition !== undefined ? `/${msg.origin_partition}@${msg.origin_offset}` : ''}
              {msg.group ? ` · group ${msg.group}` : ''} · last {new Date(msg.last_failure_ms).toLocaleTimeString()}
            </div>
          </li>
        ))}
      </ul>
    </aside>
  );
}
