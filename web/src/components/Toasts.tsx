import { X } from 'lucide-react';
import { useLive } from '../store';

export function Toasts() {
  const toasts = useLive((s) => s.toasts);
  const dismiss = useLive((s) => s.dismissToast);
  return (
    <div className="fixed right-4 bottom-12 z-50 flex flex-col gap-2" aria-live="polite">
      {toasts.map((t) => (
        <div
          key={t.id}
          role={t.kind === 'error' ? 'alert' : 'status'}
          data-testid={`toast-${t.kind}`}
          className={`flex items-center gap-3 rounded px-3 py-2 text-sm shadow-lg ${
            t.kind === 'error' ? 'bg-red-900 text-red-50' : 'bg-emerald-900 text-emerald-50'
          }`}
        >
          <span>{t.message}</span>
          <button type="button" aria-label="Dismiss notification" onClick={() => dismiss(t.id)}>
            <X aria-hidden className="h-4 w-4" />
          </button>
        </div>
      ))}
    </div>
  );
}
