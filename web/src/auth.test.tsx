import { afterEach, describe, expect, it } from 'vitest';
import { http, HttpResponse } from 'msw';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { api, ApiError } from './api';
import { TOKEN_STORAGE_KEY, useAuth, wsProtocols } from './auth';
import { TokenPrompt } from './components/TokenPrompt';
import { useSessionCheck } from './hooks';
import { renderWithQuery } from './test/render';
import { server } from './test/server';

const TOKEN = 'lab-token-0123456789abcdef';

/** A gateway with a token configured: writes without it are 401 (crates/gateway/src/security). */
function requireToken() {
  const seen: (string | null)[] = [];
  server.use(
    http.post('*/api/v1/events/produce', ({ request }) => {
      const auth = request.headers.get('authorization');
      seen.push(auth);
      if (auth !== `Bearer ${TOKEN}`) {
        return HttpResponse.json({ error: 'a bearer token is required', code: 'unauthorized', details: [] }, { status: 401 });
      }
      return HttpResponse.json({ events_produced: 1, event_ids: ['e-1'] });
    }),
    http.get('*/api/v1/auth/session', ({ request }) =>
      HttpResponse.json({ auth_required: true, authenticated: request.headers.get('authorization') === `Bearer ${TOKEN}` }),
    ),
  );
  return seen;
}

function SessionProbe() {
  useSessionCheck();
  return null;
}

afterEach(() => {
  useAuth.getState().signOut();
});

describe('signing in with the token', () => {
  it('a 401 asks for the token; once given it is stored and sent as a bearer', async () => {
    const seen = requireToken();
    renderWithQuery(<TokenPrompt />);
    expect(screen.queryByRole('dialog')).toBeNull();

    const err = await api.produce({ event_type: 'CompteOuvert', count: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(401);
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('Sign in');

    await userEvent.type(screen.getByLabelText('Token'), TOKEN);
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(sessionStorage.getItem(TOKEN_STORAGE_KEY)).toBe(TOKEN);

    const ok = await api.produce({ event_type: 'CompteOuvert', count: 1 });
    expect(ok.events_produced).toBe(1);
    expect(seen).toEqual([null, `Bearer ${TOKEN}`]);
    // The live socket offers the token as a subprotocol (browsers cannot set headers there).
    expect(wsProtocols()).toEqual(['edalab.v1', `edalab.token.${TOKEN}`]);
  });

  it('asks at start when the server requires a token we do not have', async () => {
    requireToken();
    renderWithQuery(
      <>
        <SessionProbe />
        <TokenPrompt />
      </>,
    );
    expect(await screen.findByRole('dialog')).toBeInTheDocument();
  });

  it('does not ask when the server needs no token', async () => {
    server.use(http.get('*/api/v1/auth/session', () => HttpResponse.json({ auth_required: false, authenticated: true })));
    renderWithQuery(
      <>
        <SessionProbe />
        <TokenPrompt />
      </>,
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(wsProtocols()).toEqual(['edalab.v1']);
  });
});
