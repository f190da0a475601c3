import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { KeyRound } from 'lucide-react';
import { useAuth } from '../auth';

/** The sign-in prompt: shown when the server asks for a bearer token (auth.ts). */
export function TokenPrompt() {
  const needed = useAuth((s) => s.needed);
  const setToken = useAuth((s) => s.setToken);
  const queryClient = useQueryClient();
  const [value, setValue] = useState('');
  if (!needed) return null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!value.trim()) return;
    setToken(value);
    setValue('');
    void queryClient.invalidateQueries();
  };
  return (
    <div role="dialog" aria-modal="true" aria-labelledby="token-title" className="fixed inset-0 z-50 flex items-center justify-center bg-black/60">
      <form onSubmit={submit} className="w-96 space-y-3 rounded border border-slate-700 bg-slate-900 p-5">
        <h2 id="token-title" className="flex items-center gap-2 text-base font-semibold">
          <KeyRound aria-hidden className="h-4 w-4 text-sky-400" /> Sign in
        </h2>
        <p className="text-sm text-slate-300">
          This server needs its access token for changes and live events (security.token; see docs/security.md).
        </p>
        <label className="block text-sm">
          Token
          <input
            type="password"
            autoComplete="current-password"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            className="mt-1 w-full rounded border border-slate-600 bg-slate-800 px-2 py-1"
          />
        </label>
        <button type="submit" className="rounded bg-sky-700 px-3 py-1 text-sm hover:bg-sky-600">
          Sign in
        </button>
      </form>
    </div>
  );
}
