import { Activity, TriangleAlert } from 'lucide-react';
import { useMetrics } from '../hooks';
import { PAGES, useRoute } from '../router';
import { useLive } from '../store';

const LIGHT = {
  connected: 'bg-emerald-400',
  connecting: 'bg-amber-400 animate-pulse',
  disconnected: 'bg-red-500',
} as const;

/** The pages, as links; the current one is marked (`aria-current="page"`). */
export function NavBar() {
  const { page } = useRoute();
  return (
    <nav aria-label="Pages">
      <ul className="flex items-center gap-1">
        {PAGES.map((p) => (
          <li key={p.page}>
            <a href={p.href} aria-current={p.page === page ? 'page' : undefined} data-testid={`nav-${p.page}`}
              className={`rounded px-3 py-1 text-sm ${p.page === page ? 'bg-slate-700 font-medium text-white' : 'text-slate-300 hover:bg-slate-800 hover:text-white'}`}>
              {p.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function Header() {
  const connection = useLive((s) => s.connection);
  const selectDlq = useLive((s) => s.selectDlq);
  const dlqDepth = useMetrics().data?.dlqDepth ?? {};
  const alerts = Object.entries(dlqDepth).filter(([, n]) => n > 0);
  return (
    <header className="flex items-center justify-between border-b border-slate-800 bg-slate-900 px-4 py-2">
      <div className="flex items-center gap-6">
        <h1 className="flex items-center gap-2 text-lg font-semibold tracking-wide">
          <Activity aria-hidden className="h-5 w-5 text-sky-400" /> edalab
        </h1>
        <NavBar />
      </div>
      {alerts.length > 0 && (
        <div role="alert" data-testid="dlq-alert" className="flex items-center gap-2 text-sm text-red-200">
          <TriangleAlert aria-hidden className="h-4 w-4 text-red-400" />
          {alerts.map(([topic, n]) => (
            <button key={topic} type="button" onClick={() => selectDlq(topic)} className="rounded bg-red-900 px-2 py-0.5 hover:bg-red-800">
              {topic}: {n} dead-lettered
            </button>
          ))}
        </div>
      )}
      <div className="flex items-center gap-2 text-sm" role="status" aria-live="polite" data-testid="ws-status">
        <span aria-hidden className={`inline-block h-3 w-3 rounded-full ${LIGHT[connection]}`} />
        <span>WebSocket: {connection}</span>
      </div>
    </header>
  );
}
