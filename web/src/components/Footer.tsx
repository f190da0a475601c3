import { useEffect, useState } from 'react';
import { lastRate, useLive } from '../store';
import { formatDuration } from './Dashboard';

export function Footer() {
  const total = useLive((s) => s.totalEvents);
  const hist = useLive((s) => s.totalHistory);
  const loadedAt = useLive((s) => s.loadedAt);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return (
    <footer className="flex gap-6 border-t border-slate-800 bg-slate-900 px-4 py-1.5 text-xs text-slate-300">
      <span data-testid="footer-events">Events: {total}</span>
      <span data-testid="footer-rate">Rate: {lastRate(hist)}/s</span>
      <span data-testid="footer-uptime">Uptime: {formatDuration((now - loadedAt) / 1000)}</span>
    </footer>
  );
}
