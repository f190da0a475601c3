import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Play, Square } from 'lucide-react';
import { api, PATTERNS, SCENARIOS, type Pattern, type Scenario, type SimulationStatus } from '../api';
import { useSimulationStatus } from '../hooks';
import { useLive } from '../store';

const input = 'w-full rounded border border-slate-600 bg-slate-800 px-2 py-1 text-slate-100 disabled:opacity-70';

/** What the form shows: its own values, or a running simulation's. */
export interface SimulationFields {
  scenario: string;
  pattern: string;
  rateText: string;
  durationText: string;
}

/**
 * While a simulation runs (whoever started it: this page, another, the CLI), the form shows its
 * settings, as `GET /api/v1/simulation/status` reports them; otherwise the user's own values.
 * A run until stopped has no duration: 0.
 */
export function shownFields(own: SimulationFields, st: SimulationStatus | undefined): SimulationFields {
  if (st?.status !== 'running') return own;
  return {
    scenario: st.scenario ?? own.scenario,
    pattern: st.pattern ?? own.pattern,
    rateText: st.rate != null ? String(st.rate) : own.rateText,
    durationText: 'duration' in st ? String(st.duration ?? 0) : own.durationText,
  };
}

/** The known choices, and the shown one when the server ran another (a newer scenario). */
const choices = (known: readonly string[], shown: string) => (known.includes(shown) ? known : [...known, shown]);

export function SimulationControls() {
  const qc = useQueryClient();
  const toast = useLive((s) => s.toast);
  const pushError = useLive((s) => s.pushError);
  const status = useSimulationStatus();
  const [scenario, setScenario] = useState<Scenario>('default');
  const [pattern, setPattern] = useState<Pattern>('constant');
  // Number fields keep the text being typed; it is parsed and clamped when sent.
  const [rateText, setRateText] = useState('10');
  const [durationText, setDurationText] = useState('60');
  const rate = Math.max(1, Math.round(Number(rateText)) || 1);
  const duration = Math.max(0, Math.round(Number(durationText)) || 0);

  const onError = (e: Error) => {
    toast('error', e.message);
    pushError('simulation', e.message);
  };
  const refresh = () => qc.invalidateQueries({ queryKey: ['simulation-status'] });
  const start = useMutation({
    mutationFn: () => api.startSimulation({ scenario, rate, duration, pattern }),
    onSuccess: (r) => {
      toast('success', `Simulation ${r.simulation_id} started`);
      refresh();
    },
    onError,
  });
  const stop = useMutation({
    mutationFn: api.stopSimulation,
    onSuccess: (r) => {
      toast('success', `Simulation stopped after ${r.events_produced} events`);
      refresh();
    },
    onError,
  });

  const running = status.data?.status === 'running';
  const busy = start.isPending || stop.isPending;
  const shown = shownFields({ scenario, pattern, rateText, durationText }, status.data);
  const shownRate = Math.max(1, Math.round(Number(shown.rateText)) || 1);

  return (
    <section aria-labelledby="sim-title" className="space-y-3">
      <h2 id="sim-title" className="text-sm font-semibold tracking-wide text-slate-300 uppercase">
        Simulation
      </h2>
      {running && (
        <p data-testid="sim-running-note" className="text-xs text-emerald-300">
          A simulation is running{status.data?.simulation_id ? ` (${status.data.simulation_id})` : ''}: its settings are shown.
        </p>
      )}
      <div>
        <label htmlFor="sim-scenario" className="block text-xs text-slate-300">Scenario</label>
        <select id="sim-scenario" className={input} value={shown.scenario} disabled={running} onChange={(e) => setScenario(e.target.value as Scenario)}>
          {choices(SCENARIOS, shown.scenario).map((s) => <option key={s}>{s}</option>)}
        </select>
      </div>
      <div>
        <label htmlFor="sim-pattern" className="block text-xs text-slate-300">Pattern</label>
        <select id="sim-pattern" className={input} value={shown.pattern} disabled={running} onChange={(e) => setPattern(e.target.value as Pattern)}>
          {choices(PATTERNS, shown.pattern).map((p) => <option key={p}>{p}</option>)}
        </select>
      </div>
      <div>
        <label htmlFor="sim-rate" className="block text-xs text-slate-300">Rate (events/s)</label>
        <div className="flex items-center gap-2">
          <input id="sim-rate" type="range" min={1} max={1000} value={Math.min(shownRate, 1000)} disabled={running}
            onChange={(e) => setRateText(e.target.value)} className="flex-1 accent-sky-400" />
          <input aria-label="Rate (events/s), exact" type="number" min={1} max={100000} value={shown.rateText} disabled={running}
            onChange={(e) => setRateText(e.target.value)} className={`${input} w-20`} />
        </div>
      </div>
      <div>
        <label htmlFor="sim-duration" className="block text-xs text-slate-300">Duration (s, 0 = forever)</label>
        <input id="sim-duration" type="number" min={0} value={shown.durationText} disabled={running}
          onChange={(e) => setDurationText(e.target.value)} className={input} />
      </div>
      {running ? (
        <button type="button" onClick={() => stop.mutate()} disabled={busy}
          className="flex w-full items-center justify-center gap-2 rounded bg-red-600 px-3 py-2 font-medium text-white hover:bg-red-500 disabled:opacity-60">
          <Square aria-hidden className="h-4 w-4" /> Stop simulation
        </button>
      ) : (
        <button type="button" onClick={() => start.mutate()} disabled={busy}
          className="flex w-full items-center justify-center gap-2 rounded bg-emerald-600 px-3 py-2 font-medium text-white hover:bg-emerald-500 disabled:opacity-60">
          <Play aria-hidden className="h-4 w-4" /> Start simulation
        </button>
      )}
      <dl className="grid grid-cols-2 gap-1 text-sm">
        <dt className="text-slate-400">Status</dt>
        <dd data-testid="sim-status">{status.isError ? 'unavailable' : (status.data?.status ?? '…')}</dd>
        <dt className="text-slate-400">Events sent</dt>
        <dd data-testid="sim-events">{status.data?.events_produced ?? 0}</dd>
      </dl>
    </section>
  );
}
