import { describe, expect, it } from 'vitest';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { http, HttpResponse } from 'msw';
import { Producer } from './Producer';
import { Toasts } from './Toasts';
import { renderWithQuery } from '../test/render';
import { server } from '../test/server';
import { useLive } from '../store';

describe('Producer', () => {
  it('offers the seven banking event types', () => {
    renderWithQuery(<Producer />);
    const opts = Array.from((screen.getByLabelText('Event type') as HTMLSelectElement).options).map((o) => o.value);
    expect(opts).toEqual(['CompteOuvert', 'DepotEffectue', 'RetraitEffectue', 'VirementEmis', 'PaiementPrimeEffectue', 'CompteFerme']);
  });

  it('produces and shows a success toast', async () => {
    let body: unknown;
    server.use(
      http.post('*/api/v1/events/produce', async ({ request }) => {
        body = await request.json();
        return HttpResponse.json({ events_produced: 3, event_ids: ['a', 'b', 'c'] });
      }),
    );
    const user = userEvent.setup();
    renderWithQuery(<><Producer /><Toasts /></>);
    await user.selectOptions(screen.getByLabelText('Event type'), 'VirementEmis');
    const count = screen.getByLabelText('Count');
    await user.clear(count);
    await user.type(count, '3');
    await user.click(screen.getByRole('button', { name: 'Produce' }));
    const toast = await screen.findByTestId('toast-success');
    expect(toast).toHaveTextContent('Produced 3 VirementEmis events');
    expect(body).toEqual({ event_type: 'VirementEmis', count: 3 });
    expect(screen.getByTestId('prod-sent')).toHaveTextContent('3');
  });

  it('shows an error toast and records the error', async () => {
    server.use(http.post('*/api/v1/events/produce', () => HttpResponse.json({ error: 'bus unavailable' }, { status: 503 })));
    const user = userEvent.setup();
    renderWithQuery(<><Producer /><Toasts /></>);
    await user.click(screen.getByRole('button', { name: 'Produce' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Produce failed: bus unavailable');
    expect(screen.getByTestId('prod-sent')).toHaveTextContent('0');
    expect(useLive.getState().errors[0]).toMatchObject({ source: 'produce', message: 'bus unavailable' });
    await user.click(screen.getByRole('button', { name: 'Dismiss notification' }));
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });
});
