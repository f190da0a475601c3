import type { ReactNode } from 'react';
import { useConsumerFigures, useHealth, useMetrics, usePlatformTotals, useSimulationStatus } from '../hooks';
import { formatCount, formatRate, TOTALS_HISTORY } from '../rates';
import { useLive } from '../store';
import { Sparkline } from './Sparkline';

export function Card({ title, children, testId }: { title: string; children: ReactNode; testId?: string }) {
  return (
    <div className="rounded border border-slate-800 bg-slate-900 p-3" data-testid={testId}>
      <h3 className="text-xs tracking-wide text-slate-400 uppercase">{title}</h3>
      <div className="mt-1 text-xl font-semibold">{children}</div>
    </div>
  );
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h ${m}m ${r}s` : m > 0 ? `${m}m ${r}s` : `${r}s`;
}

interface HealthComponent {
  name: string;
  backend?: string;
  status: string;
}
/**
 * `GET /api/v1/health` as (name, status) rows. The gateway answers `{status, kafka, postgres,
 * bus, store, components: [{name, role, backend, status, latency_ms}]}` (the seed's keys plus
 * the real components): when `components` is there, it is the truth (`kafka`/`postgres` are
 * the seed's aliases of the bus and the store). Otherwise any `{key: "status"}` map.
 */
export function healthEntries(h: Record<string, unknown> | undefined): [string, string][] {
  if (!h) return [];
  if (Array.isArray(h.components)) {
    const rows: [string, string][] = typeof h.status === 'string' ? [['status', h.status]] : [];
    for (const c of h.components as HealthComponent[]) rows.push([c.backend ? `${c.name} (${c.backend})` : c.name, String(c.status)]);
    return rows;
  }
  const services = (h.services ?? h) as Record<string, unknown>;
  return Object.entries(services).map(([k, v]) => [k, typeof v === 'string' ? v : typeof v === 'object' && v && 'status' in v ? String((v as { status: unknown }).status) : JSON.stringify(v)]);
}
const good = (v: string) => ['healthy', 'connected', 'up', 'ok'].includes(v.toLowerCase());

/**
 * The platform's figures. Messages and rates come from the topics' end offsets
 * ({@link usePlatformTotals}, as the footer and the graph), lag from the consumer groups (as the
 * Consumers page); the simulation's own figures are labelled as such.
 */
export function Dashboard({ now = Date.now() }: { now?: number }) {
  const status = useSimulationStatus().data;
  const metrics = useMetrics();
  const health = useHealth();
  const totals = usePlatformTotals();
  const lag = useConsumerFigures().lag;
  const errors = useLive((s) => s.errors);
  const m = metrics.data;
  const duration = status?.status === 'running' && status.started_at ? (now - Date.parse(status.started_at)) / 1000 : 0;

  return (
    <section aria-labelledby="dash-title">
      <h2 id="dash-title" className="sr-only">Metrics dashboard</h2>
      <div className="grid grid-cols-2 gap-2 md:grid-cols-3 xl:grid-cols-5">
        <Card title="Messages (all topics)" testId="card-messages">
          <span data-testid="platform-messages">{totals.loaded ? formatCount(totals.messages) : '—'}</span>
        </Card>
        <Card title="Msg/s (all topics)" testId="card-chart">
          <div className="flex items-end gap-2">
            <span data-testid="platform-rate">{formatRate(totals.rate)}/s</span>
            <Sparkline values={totals.history.length ? totals.history : new Array<number>(TOTALS_HISTORY).fill(0)} width={140} height={30}
              label={`messages per second, all topics, last ${TOTALS_HISTORY} polls`} />
          </div>
        </Card>
        <Card title="Consumer lag" testId="card-lag">{formatCount(lag)}</Card>
        <Card title="Simulation events sent" testId="card-events">{formatCount(status?.events_produced ?? 0)}</Card>
        <Card title="Simulation rate" testId="card-rate">{(status?.rate_actual ?? 0).toFixed(1)}/s</Card>
        <Card title="Simulation duration" testId="card-duration">{formatDuration(duration)}</Card>
        <Card title="Mean latency" testId="card-latency">
          {m?.meanLatencySeconds != null ? `${(m.meanLatencySeconds * 1000).toFixed(1)} ms` : '—'}
        </Card>
        <Card title="Service status" testId="card-services">
          {health.isError ? (
            <span className="text-base text-red-300">gateway unreachable</span>
          ) : (
            <ul className="text-sm font-normal">
              {healthEntries(health.data).map(([k, v]) => (
                <li key={k} className="flex items-center gap-1">
                  <span aria-hidden className={`inline-block h-2 w-2 rounded-full ${good(v) ? 'bg-emerald-400' : 'bg-red-500'}`} />
                  {k}: {v}
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Recent errors" testId="card-errors">
          <div className="text-sm font-normal">
            {m && m.errorsTotal > 0 && <div className="text-amber-300">{m.errorsTotal} processing errors</div>}
            {errors.length === 0 ? (
              <span className="text-slate-400">none</span>
            ) : (
              <ul className="max-h-24 overflow-auto">
                {errors.slice(0, 5).map((e, i) => (
                  <li key={i} className="truncate text-red-200" title={e.message}>{e.source}: {e.message}</li>
                ))}
              </ul>
            )}
          </div>
        </Card>
      </div>
    </section>
  );
}
