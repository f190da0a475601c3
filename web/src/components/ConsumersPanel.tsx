import { useEffect, useId, useRef, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Pause, Play, Users } from 'lucide-react';
import { api, ApiError, type ConsumerGroupsView, type ConsumerGroupView, type FieldDetail } from '../api';
import { useLive } from '../store';
import { counterRates, type Samples } from '../rates';

export const CONSUMERS_POLL_MS = 1000;
/** What `PUT /api/v1/consumers/{group}/members` accepts (`MEMBERS_MAX` on the server). */
export const MEMBERS_MIN = 1;
export const MEMBERS_MAX = 16;
const QUERY_KEY = ['consumers'] as const;

export const memberKey = (group: string, member: number) => `${group}#${member}`;

/**
 * Throughput per member (msg/s) from the change of `messages_done_total` between two answers.
 * A member seen for the first time, or whose counter went back (a new member with the same
 * number after a scale), has none yet (see {@link counterRates}).
 */
export function memberRates(
  prev: Samples,
  prevRates: Record<string, number>,
  groups: ConsumerGroupView[],
  at: number,
): { samples: Samples; rates: Record<string, number> } {
  const counters = groups.flatMap((g) => g.members.map((m): [string, number] => [memberKey(g.group, m.member), m.messages_done_total]));
  return counterRates(prev, prevRates, counters, at);
}

/** An error as one line: the server's message, plus any field detail it does not already say. */
export function errorText(e: Error): string {
  if (!(e instanceof ApiError)) return e.message;
  const extra = e.details.filter((d) => d.message && !e.message.includes(d.message)).map((d) => (d.field ? `${d.field}: ${d.message}` : d.message));
  return extra.length ? `${e.message} (${extra.join('; ')})` : e.message;
}

const fmtRate = (r: number | undefined) => (r === undefined ? '—' : r >= 10 ? r.toFixed(0) : r.toFixed(1));

/**
 * The consumer groups of the platform, live (issue 22): members and the partitions each holds,
 * lag per partition, and the lab's controls — pause, resume, scale the members.
 */
export function ConsumersPanel() {
  const q = useQuery({ queryKey: QUERY_KEY, queryFn: api.consumers, refetchInterval: CONSUMERS_POLL_MS, retry: false });
  const samples = useRef<Samples>(new Map());
  const ratesRef = useRef<Record<string, number>>({});
  const [rates, setRates] = useState<Record<string, number>>({});
  useEffect(() => {
    if (!q.data) return;
    const next = memberRates(samples.current, ratesRef.current, q.data.groups, q.dataUpdatedAt);
    samples.current = next.samples;
    ratesRef.current = next.rates;
    setRates(next.rates);
  }, [q.data, q.dataUpdatedAt]);

  const groups = q.data?.groups ?? [];
  return (
    <section aria-labelledby="consumers-title" data-testid="consumers-panel" className="space-y-2">
      <h2 id="consumers-title" className="flex items-center gap-2 text-sm font-semibold tracking-wide text-slate-300 uppercase">
        <Users aria-hidden className="h-4 w-4" /> Consumer groups
      </h2>
      {q.isError && <p className="text-xs text-slate-400">Not available: {(q.error as Error).message}</p>}
      {q.isPending && <p className="text-xs text-slate-400">Loading…</p>}
      {q.isSuccess && groups.length === 0 && <p className="text-xs text-slate-400">No consumer group runs in this process.</p>}
      <div className="grid gap-3 2xl:grid-cols-2">
        {groups.map((g) => <GroupCard key={g.group} group={g} rates={rates} />)}
      </div>
    </section>
  );
}

const button = 'flex items-center gap-1 rounded px-2 py-1 text-sm font-medium text-white disabled:opacity-50';
const th = 'px-2 py-1 text-left font-medium text-slate-400';
const td = 'px-2 py-0.5';

function GroupCard({ group: g, rates }: { group: ConsumerGroupView; rates: Record<string, number> }) {
  const qc = useQueryClient();
  const toast = useLive((s) => s.toast);
  const id = useId();
  // The text being typed; `null` follows the server's target.
  const [draft, setDraft] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<FieldDetail[]>([]);
  const membersText = draft ?? String(g.members_target);
  const members = Number(membersText);
  const membersValid = membersText.trim() !== '' && Number.isInteger(members);

  const update = (r: ConsumerGroupView) =>
    qc.setQueryData<ConsumerGroupsView>(QUERY_KEY, (old) =>
      old ? { groups: old.groups.some((x) => x.group === r.group) ? old.groups.map((x) => (x.group === r.group ? r : x)) : [...old.groups, r] } : { groups: [r] },
    );
  const failed = (what: string) => (e: Error) => {
    toast('error', `${what} ${g.group} failed: ${errorText(e)}`);
    if (e instanceof ApiError) setFieldErrors(e.details.filter((d) => d.field === 'members'));
  };
  const pause = useMutation({
    mutationFn: () => api.pauseGroup(g.group),
    onSuccess: (r) => {
      update(r);
      toast('success', `Paused ${r.group}: lag grows while its records wait in the log`);
    },
    onError: failed('Pause'),
  });
  const resume = useMutation({
    mutationFn: () => api.resumeGroup(g.group),
    onSuccess: (r) => {
      update(r);
      toast('success', `Resumed ${r.group} from its committed positions`);
    },
    onError: failed('Resume'),
  });
  const scale = useMutation({
    mutationFn: (n: number) => api.scaleGroup(g.group, n),
    onSuccess: (r) => {
      update(r);
      setDraft(null);
      setFieldErrors([]);
      toast('success', `${r.group} now runs ${r.members_target} member${r.members_target === 1 ? '' : 's'}`);
    },
    onError: failed('Scale'),
  });
  const busy = pause.isPending || resume.isPending || scale.isPending;
  const paused = g.state === 'paused';
  const titleId = `${id}-title`;
  const inputId = `${id}-members`;
  const errorId = `${id}-members-error`;

  return (
    <article aria-labelledby={titleId} data-testid={`consumer-group-${g.group}`} className="space-y-2 rounded border border-slate-800 bg-slate-900 p-3">
      <header className="flex flex-wrap items-center gap-x-4 gap-y-1">
        <h3 id={titleId} className="font-semibold">{g.group}</h3>
        <span data-testid="group-state"
          className={`rounded px-2 py-0.5 text-xs font-medium ${paused ? 'bg-amber-900 text-amber-100' : 'bg-emerald-900 text-emerald-100'}`}>
          {g.state}
        </span>
        <span className="text-xs text-slate-400">members target <span data-testid="members-target" className="text-slate-200">{g.members_target}</span></span>
        <span className="text-xs text-slate-400">instance <span data-testid="group-instance" className="text-slate-200">{g.instance}</span></span>
        <span className="text-xs text-slate-400">
          lag total{' '}
          <span data-testid="lag-total" data-lagging={g.lag_total > 0 || undefined}
            className={g.lag_total > 0 ? 'font-semibold text-amber-300' : 'text-slate-200'}>{g.lag_total}</span>
        </span>
      </header>

      <div className="flex flex-wrap items-end gap-2">
        <button type="button" onClick={() => pause.mutate()} disabled={busy || paused} className={`${button} bg-amber-600 hover:bg-amber-500`}>
          <Pause aria-hidden className="h-4 w-4" /> Pause
        </button>
        <button type="button" onClick={() => resume.mutate()} disabled={busy || !paused} className={`${button} bg-emerald-700 hover:bg-emerald-600`}>
          <Play aria-hidden className="h-4 w-4" /> Resume
        </button>
        <div>
          <label htmlFor={inputId} className="block text-xs text-slate-300">Members</label>
          <input id={inputId} type="number" min={MEMBERS_MIN} max={MEMBERS_MAX} step={1} value={membersText}
            aria-invalid={fieldErrors.length > 0 || undefined} aria-describedby={fieldErrors.length ? errorId : undefined}
            onChange={(e) => {
              setDraft(e.target.value);
              setFieldErrors([]);
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && membersValid && !busy) scale.mutate(members);
            }}
            className="w-20 rounded border border-slate-600 bg-slate-800 px-2 py-1 text-slate-100" />
        </div>
        <button type="button" onClick={() => scale.mutate(members)} disabled={busy || !membersValid} className={`${button} bg-sky-600 hover:bg-sky-500`}>
          Scale
        </button>
        {fieldErrors.length > 0 && (
          <p id={errorId} data-testid="members-error" className="text-xs text-red-300">
            {fieldErrors.map((d) => `${d.field}: ${d.message}`).join('; ')}
          </p>
        )}
      </div>

      <div className="overflow-x-auto">
        <table className="w-full text-xs">
          <caption className="pb-1 text-left text-slate-400">Members</caption>
          <thead>
            <tr className="border-b border-slate-800">
              <th scope="col" className={th}>Member</th>
              <th scope="col" className={th}>Partitions held</th>
              <th scope="col" className={th}>Messages done</th>
              <th scope="col" className={th}>In flight</th>
              <th scope="col" className={th}>msg/s</th>
            </tr>
          </thead>
          <tbody>
            {g.members.length === 0 && (
              <tr><td colSpan={5} className={`${td} text-slate-400`}>{paused ? 'No member runs: the group is paused.' : 'No member runs.'}</td></tr>
            )}
            {g.members.map((m) => (
              <tr key={m.member} data-testid="member-row" className="border-b border-slate-800/50 align-top">
                <td className={td}>{m.member}</td>
                <td className={td}>
                  <span data-testid="member-partition-count">{m.partitions.length}</span>
                  {m.partitions.length > 0 && <span className="ml-2 break-all text-slate-400">{m.partitions.join(', ')}</span>}
                </td>
                <td className={td} data-testid="member-done">{m.messages_done_total}</td>
                <td className={td}>{m.messages_in_flight}</td>
                <td className={td} data-testid="member-rate">{fmtRate(rates[memberKey(g.group, m.member)])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <div className="max-h-72 overflow-auto">
        <table className="w-full text-xs">
          <caption className="pb-1 text-left text-slate-400">Partitions</caption>
          <thead>
            <tr className="border-b border-slate-800">
              <th scope="col" className={th}>Partition</th>
              <th scope="col" className={th}>Committed</th>
              <th scope="col" className={th}>End</th>
              <th scope="col" className={th}>Lag</th>
              <th scope="col" className={th}>Held by</th>
            </tr>
          </thead>
          <tbody>
            {g.partitions.map((p) => {
              const lagging = p.lag > 0;
              return (
                <tr key={`${p.topic}/${p.partition}`} data-testid="partition-row" data-lagging={lagging || undefined}
                  className={`border-b border-slate-800/50 ${lagging ? 'bg-amber-950/40' : ''}`}>
                  <td className={td}>{p.topic}/{p.partition}</td>
                  <td className={td}>{p.committed ?? '—'}</td>
                  <td className={td}>{p.high_watermark}</td>
                  <td className={`${td} ${lagging ? 'font-semibold text-amber-300' : 'text-slate-300'}`} data-testid="partition-lag">{p.lag}</td>
                  <td className={td} title={p.member == null ? 'held by no member of this process: paused, not yet assigned, or another process' : undefined}>
                    {p.member == null ? '—' : `member ${p.member}`}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </article>
  );
}
