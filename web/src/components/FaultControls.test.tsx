import { describe, expect, it } from 'vitest';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { http, HttpResponse } from 'msw';
import { FaultControls } from './FaultControls';
import { Toasts } from './Toasts';
import { renderWithQuery } from '../test/render';
import { fake, server } from '../test/server';

describe('FaultControls', () => {
  it('switches the credit bureau failure on and off', async () => {
    const user = userEvent.setup();
    renderWithQuery(<><FaultControls /><Toasts /></>);
    const box = await screen.findByRole('checkbox', { name: /credit bureau failing/i });
    expect(await screen.findByTestId('breaker-state')).toHaveTextContent('closed');
    await screen.findByRole('checkbox', { name: /credit bureau failing/i, checked: false });
    expect(box).toBeEnabled();
    await user.click(box);
    expect(await screen.findByTestId('toast-success')).toHaveTextContent('Credit bureau now failing');
    expect(fake.bureauFailing).toBe(true);
    expect(screen.getByRole('checkbox', { name: /credit bureau failing/i })).toBeChecked();
    await user.click(screen.getByRole('checkbox', { name: /credit bureau failing/i }));
    await screen.findByText('Credit bureau back to normal');
    expect(fake.bureauFailing).toBe(false);
  });

  it('says when the back end does not offer it', async () => {
    server.use(http.get('*/api/v1/saga/credit-bureau', () => HttpResponse.json({ error: 'no route', code: 'route_not_found', details: [] }, { status: 404 })));
    renderWithQuery(<FaultControls />);
    expect(await screen.findByText(/Not available: no route/)).toBeInTheDocument();
    expect(screen.queryByRole('checkbox')).not.toBeInTheDocument();
  });
});
