import { Activity } from 'lucide-react';
import { useLive } from '../store';

const LIGHT = {
  connected: 'bg-emerald-400',
  connecting: 'bg-amber-400 animate-pulse',
  disconnected: 'bg-red-500',
} as const;

export function Header() {
  const connection = useLive((s) => s.connection);
  return (
    <header className="flex items-center justify-between border-b border-slate-800 bg-slate-900 px-4 py-2">
      <h1 className="flex items-center gap-2 text-lg font-semibold tracking-wide">
        <Activity aria-hidden className="h-5 w-5 text-sky-400" /> edalab
      </h1>
      <div className="flex items-center gap-2 text-sm" role="status" aria-live="polite" data-testid="ws-status">
        <span aria-hidden className={`inline-block h-3 w-3 rounded-full ${LIGHT[connection]}`} />
        <span>WebSocket: {connection}</span>
      </div>
    </header>
  );
}
