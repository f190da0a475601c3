import { useEffect, useId, useRef, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Eye, Pause, Play, Users } from 'lucide-react';
import {
  api,
  ApiError,
  isControllable,
  isInternalGroup,
  type ConsumerGroupInfo,
  type ConsumersView,
  type ConsumerGroupView,
  type FieldDetail,
} from '../api';
import { CONSUMERS_KEY, CONSUMERS_POLL_MS, useConsumerGroups } from '../hooks';
import { useLive } from '../store';
import { counterRates, formatCount, type Samples } from '../rates';

export { CONSUMERS_POLL_MS };
/** What `PUT /api/v1/consumers/{group}/members` accepts (`MEMBERS_MAX` on the server). */
export const MEMBERS_MIN = 1;
export const MEMBERS_MAX = 16;

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
 * The group the detail shows: the one asked for, else the first the lab controls (the ledger),
 * else the first application group, else the first.
 */
export function shownGroup(groups: ConsumerGroupInfo[], asked: string | null | undefined): ConsumerGroupInfo | undefined {
  if (asked) return groups.find((g) => g.group === asked);
  const app = groups.filter((g) => !isInternalGroup(g.group));
  return app.find(isControllable) ?? app[0] ?? groups[0];
}

/**
 * Every consumer group the bus knows (issues 22, 23): a list (state, lag, partitions; edalab's
 * own groups apart, dimmed) and one group's detail — members and the partitions each holds,
 * lag per partition, and for the groups edalab runs the lab's controls: pause, resume, scale.
 * `selected`/`onSelect` make the choice the caller's (the page's URL); without them the panel
 * keeps it.
 */
export function ConsumersPanel({ selected, onSelect }: { selected?: string | null; onSelect?: (group: string) => void } = {}) {
  const q = useConsumerGroups();
  const samples = useRef<Samples>(new Map());
  const ratesRef = useRef<Record<string, number>>({});
  const [rates, setRates] = useState<Record<string, number>>({});
  const [own, setOwn] = useState<string | null>(null);
  useEffect(() => {
    if (!q.data) return;
    const next = memberRates(samples.current, ratesRef.current, q.data.groups, q.dataUpdatedAt);
    samples.current = next.samples;
    ratesRef.current = next.rates;
    setRates(next.rates);
  }, [q.data, q.dataUpdatedAt]);

  const groups = q.data?.groups ?? [];
  const asked = onSelect ? selected : own;
  const current = shownGroup(groups, asked);
  const select = onSelect ?? setOwn;
  return (
    <section aria-labelledby="consumers-title" data-testid="consumers-panel" className="space-y-2">
      <h2 id="consumers-title" className="flex items-center gap-2 text-sm font-semibold tracking-wide text-slate-300 uppercase">
        <Users aria-hidden className="h-4 w-4" /> Consumer groups
      </h2>
      {q.isError && <p className="text-xs text-slate-400">Not available: {(q.error as Error).message}</p>}
      {q.isPending && <p className="text-xs text-slate-400">Loading…</p>}
      {q.isSuccess && groups.length === 0 && <p className="text-xs text-slate-400">No consumer group on the bus yet.</p>}
      {groups.length > 0 && (
        <div className="flex flex-col gap-3 lg:flex-row lg:items-start">
          <GroupList groups={groups} current={current?.group} onSelect={select} />
          <div className="min-w-0 flex-1">
            {current ? (
              <GroupCard key={current.group} group={current} rates={rates} />
            ) : (
              <p data-testid="group-missing" className="text-sm text-slate-300">No consumer group “{asked}” on the bus.</p>
            )}
          </div>
        </div>
      )}
    </section>
  );
}

const STATE_CLASS: Record<string, string> = {
  running: 'bg-emerald-900 text-emerald-100',
  paused: 'bg-amber-900 text-amber-100',
};
const stateClass = (state: string) => STATE_CLASS[state] ?? 'bg-slate-700 text-slate-100';

function GroupRow({ g, current, onSelect }: { g: ConsumerGroupInfo; current: boolean; onSelect: (group: string) => void }) {
  return (
    <li>
      <button type="button" data-testid="group-row" data-group={g.group} aria-current={current || undefined} onClick={() => onSelect(g.group)}
        className={`w-full rounded border px-2 py-1.5 text-left text-xs hover:bg-slate-800 ${current ? 'border-sky-600 bg-slate-800' : 'border-slate-800 bg-slate-900'}`}>
        <span className="flex items-center justify-between gap-2">
          <span className="truncate text-sm font-medium" title={g.group}>{g.group}</span>
          <span data-testid="group-row-state" className={`shrink-0 rounded px-1.5 py-0.5 text-[11px] font-medium ${stateClass(g.state)}`}>{g.state}</span>
        </span>
        <span className="mt-0.5 flex gap-3 text-slate-400">
          <span>lag <span data-testid="group-row-lag" className={g.lag_total > 0 ? 'font-semibold text-amber-300' : 'text-slate-200'}>{formatCount(g.lag_total)}</span></span>
          <span><span data-testid="group-row-partitions" className="text-slate-200">{g.partitions.length}</span> partition{g.partitions.length === 1 ? '' : 's'}</span>
        </span>
      </button>
    </li>
  );
}

/** The groups: the application's first, then edalab's own under an "Internal" marker, dimmed. */
function GroupList({ groups, current, onSelect }: { groups: ConsumerGroupInfo[]; current?: string; onSelect: (group: string) => void }) {
  const app = groups.filter((g) => !isInternalGroup(g.group));
  const internal = groups.filter((g) => isInternalGroup(g.group));
  return (
    <nav aria-label="Consumer group list" data-testid="group-list" className="space-y-2 lg:w-72 lg:shrink-0">
      <ul className="space-y-1">
        {app.map((g) => <GroupRow key={g.group} g={g} current={g.group === current} onSelect={onSelect} />)}
      </ul>
      {internal.length > 0 && (
        <div data-testid="internal-groups" className="opacity-60">
          <p className="mb-1 text-[11px] tracking-wide text-slate-400 uppercase" title="edalab's own bookkeeping (DLQ redrive and inspection), not the application's consumers">
            Internal
          </p>
          <ul className="space-y-1">
            {internal.map((g) => <GroupRow key={g.group} g={g} current={g.group === current} onSelect={onSelect} />)}
          </ul>
        </div>
      )}
    </nav>
  );
}

const button = 'flex items-center gap-1 rounded px-2 py-1 text-sm font-medium text-white disabled:opacity-50';
const th = 'px-2 py-1 text-left font-medium text-slate-400';
const td = 'px-2 py-0.5';

function GroupCard({ group: g, rates }: { group: ConsumerGroupInfo; rates: Record<string, number> }) {
  const qc = useQueryClient();
  const toast = useLive((s) => s.toast);
  const id = useId();
  // The text being typed; `null` follows the server's target.
  const [draft, setDraft] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<FieldDetail[]>([]);
  const membersText = draft ?? String(g.members_target);
  const members = Number(membersText);
  const membersValid = membersText.trim() !== '' && Number.isInteger(members);

  const update = (r: ConsumerGroupInfo) =>
    qc.setQueryData<ConsumersView>(CONSUMERS_KEY, (old) =>
      old
        ? { ...old, groups: old.groups.some((x) => x.group === r.group) ? old.groups.map((x) => (x.group === r.group ? r : x)) : [...old.groups, r] }
        : { groups: [r], truncated: false },
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
  const controllable = isControllable(g);
  const titleId = `${id}-title`;
  const inputId = `${id}-members`;
  const errorId = `${id}-members-error`;

  return (
    <article aria-labelledby={titleId} data-testid={`consumer-group-${g.group}`} data-controllable={controllable}
      className="space-y-2 rounded border border-slate-800 bg-slate-900 p-3">
      <header className="flex flex-wrap items-center gap-x-4 gap-y-1">
        <h3 id={titleId} className="font-semibold">{g.group}</h3>
        <span data-testid="group-state" className={`rounded px-2 py-0.5 text-xs font-medium ${stateClass(g.state)}`}>{g.state}</span>
        {controllable && (
          <span className="text-xs text-slate-400">members target <span data-testid="members-target" className="text-slate-200">{g.members_target}</span></span>
        )}
        {g.instance && <span className="text-xs text-slate-400">instance <span data-testid="group-instance" className="text-slate-200">{g.instance}</span></span>}
        <span className="text-xs text-slate-400">
          lag total{' '}
          <span data-testid="lag-total" data-lagging={g.lag_total > 0 || undefined}
            className={g.lag_total > 0 ? 'font-semibold text-amber-300' : 'text-slate-200'}>{g.lag_total}</span>
        </span>
      </header>

      {controllable ? (
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
      ) : (
        <p data-testid="group-observed" className="flex items-center gap-1.5 text-xs text-slate-300">
          <Eye aria-hidden className="h-4 w-4 text-slate-400" />
          Observed: this group's consumers run without pause, resume or scale. Its committed offsets and lag are read from the bus.
        </p>
      )}

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
              <tr><td colSpan={5} className={`${td} text-slate-400`}>
                {!controllable ? 'Members are shown for controllable groups only.' : paused ? 'No member runs: the group is paused.' : 'No member runs.'}
              </td></tr>
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
