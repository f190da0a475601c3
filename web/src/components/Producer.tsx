import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Send } from 'lucide-react';
import { api, BANKING_EVENT_TYPES, type BankingEventType } from '../api';
import { useLive } from '../store';

const input = 'w-full rounded border border-slate-600 bg-slate-800 px-2 py-1 text-slate-100';

export function Producer() {
  const qc = useQueryClient();
  const toast = useLive((s) => s.toast);
  const pushError = useLive((s) => s.pushError);
  const [eventType, setEventType] = useState<BankingEventType>('CompteOuvert');
  const [countText, setCountText] = useState('1');
  const count = Math.max(1, Math.round(Number(countText)) || 1);
  // What this page produced by hand (the simulation's counter counts only its own runs).
  const [sent, setSent] = useState(0);
  const produce = useMutation({
    mutationFn: () => api.produce({ event_type: eventType, count }),
    onSuccess: (r) => {
      setSent((n) => n + r.events_produced);
      toast('success', `Produced ${r.events_produced} ${eventType} event${r.events_produced === 1 ? '' : 's'}`);
      qc.invalidateQueries({ queryKey: ['simulation-status'] });
    },
    onError: (e: Error) => {
      toast('error', `Produce failed: ${e.message}`);
      pushError('produce', e.message);
    },
  });
  return (
    <section aria-labelledby="prod-title" className="space-y-3">
      <h2 id="prod-title" className="text-sm font-semibold tracking-wide text-slate-300 uppercase">Produce events</h2>
      <div>
        <label htmlFor="prod-type" className="block text-xs text-slate-300">Event type</label>
        <select id="prod-type" className={input} value={eventType} onChange={(e) => setEventType(e.target.value as BankingEventType)}>
          {BANKING_EVENT_TYPES.map((t) => <option key={t}>{t}</option>)}
        </select>
      </div>
      <div>
        <label htmlFor="prod-count" className="block text-xs text-slate-300">Count</label>
        <input id="prod-count" type="number" min={1} max={10000} value={countText} className={input}
          onChange={(e) => setCountText(e.target.value)} />
      </div>
      <button type="button" onClick={() => produce.mutate()} disabled={produce.isPending}
        className="flex w-full items-center justify-center gap-2 rounded bg-sky-600 px-3 py-2 font-medium text-white hover:bg-sky-500 disabled:opacity-60">
        <Send aria-hidden className="h-4 w-4" /> Produce
      </button>
      <p className="text-sm"><span className="text-slate-400">Produced here: </span><span data-testid="prod-sent">{sent}</span></p>
    </section>
  );
}
