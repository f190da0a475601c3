import { useNow, usePlatformTotals, useUptime } from '../hooks';
import { formatCount, formatRate } from '../rates';
import { formatDuration } from './Dashboard';

/** The platform at a glance: the dashboard's own message count and rate, and the server's uptime. */
export function Footer() {
  const totals = usePlatformTotals();
  const uptime = useUptime(useNow());
  return (
    <footer className="flex gap-6 border-t border-slate-800 bg-slate-900 px-4 py-1.5 text-xs text-slate-300">
      <span data-testid="footer-events" title="Messages produced to every topic but the DLQs (their end offsets)">
        Messages: {totals.loaded ? formatCount(totals.messages) : '—'}
      </span>
      <span data-testid="footer-rate">Rate: {formatRate(totals.rate)}/s</span>
      <span data-testid="footer-uptime" title="Since the platform (edalab up) started">
        Uptime: {uptime === undefined ? '—' : formatDuration(uptime)}
      </span>
    </footer>
  );
}
