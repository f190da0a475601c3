import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api';
import { useLive } from '../store';

/**
 * The S4 saga's credit bureau, made to fail at run time: payments are retried, the circuit
 * breaker opens, messages reach payments.dlq; switch it off and redrive the DLQ.
 */
export function FaultControls() {
  const qc = useQueryClient();
  const toast = useLive((s) => s.toast);
  const q = useQuery({ queryKey: ['credit-bureau'], queryFn: api.creditBureau, refetchInterval: 2000, retry: false });
  const set = useMutation({
    mutationFn: (failing: boolean) => api.setCreditBureau({ failing }),
    onSuccess: (r) => {
      qc.setQueryData(['credit-bureau'], r);
      toast('success', r.failing ? 'Credit bureau now failing' : 'Credit bureau back to normal');
    },
    onError: (e: Error) => toast('error', `Fault switch failed: ${e.message}`),
  });
  return (
    <section aria-labelledby="faults-title" className="space-y-2">
      <h2 id="faults-title" className="text-sm font-semibold tracking-wide text-slate-300 uppercase">Faults</h2>
      {q.isError ? (
        <p className="text-xs text-slate-400">Not available: {(q.error as Error).message}</p>
      ) : (
        <>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" className="accent-red-500" checked={q.data?.failing ?? false}
              disabled={!q.data || set.isPending} onChange={(e) => set.mutate(e.target.checked)} />
            Credit bureau failing (S4 payments)
          </label>
          <p className="text-xs text-slate-400">
            Breaker: <span data-testid="breaker-state">{q.data?.breaker.replace('_', '-') ?? '…'}</span>
          </p>
        </>
      )}
    </section>
  );
}
