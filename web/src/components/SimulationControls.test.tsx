import { describe, expect, it } from 'vitest';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { SimulationControls } from './SimulationControls';
import { Toasts } from './Toasts';
import { renderWithQuery } from '../test/render';
import { fake } from '../test/server';

describe('SimulationControls', () => {
  it('starts a simulation with the chosen settings, then stops it', async () => {
    const user = userEvent.setup();
    renderWithQuery(<><SimulationControls /><Toasts /></>);
    await waitFor(() => expect(screen.getByTestId('sim-status')).toHaveTextContent('stopped'));
    expect(screen.getByTestId('sim-events')).toHaveTextContent('0');

    await user.selectOptions(screen.getByLabelText('Scenario'), 'fraud-burst');
    await user.selectOptions(screen.getByLabelText('Pattern'), 'burst');
    fireEvent.change(screen.getByLabelText('Rate (events/s)'), { target: { value: '250' } });
    const duration = screen.getByLabelText(/Duration/);
    await user.clear(duration);
    await user.type(duration, '30');
    await user.click(screen.getByRole('button', { name: /start simulation/i }));

    await waitFor(() => expect(screen.getByTestId('sim-status')).toHaveTextContent('running'));
    expect(fake.lastStart).toEqual({ scenario: 'fraud-burst', rate: 250, duration: 30, pattern: 'burst' });
    expect(screen.getByTestId('sim-events')).toHaveTextContent('5');
    expect(screen.getByLabelText('Scenario')).toBeDisabled();
    expect(await screen.findByText(/sim-1 started/)).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: /stop simulation/i }));
    await waitFor(() => expect(screen.getByTestId('sim-status')).toHaveTextContent('stopped'));
    expect(screen.getByRole('button', { name: /start simulation/i })).toBeEnabled();
  });

  it('accepts rates above the slider range through the number field', async () => {
    const user = userEvent.setup();
    renderWithQuery(<SimulationControls />);
    const exact = screen.getByLabelText('Rate (events/s), exact');
    await user.clear(exact);
    await user.type(exact, '5000');
    await user.click(screen.getByRole('button', { name: /start simulation/i }));
    await waitFor(() => expect(fake.lastStart).toMatchObject({ rate: 5000 }));
  });

  it('shows the 409 error as a toast', async () => {
    fake.status = 'stopped';
    const user = userEvent.setup();
    renderWithQuery(<><SimulationControls /><Toasts /></>);
    await screen.findByText('stopped');
    fake.status = 'running'; // someone else started it: the server answers 409
    await user.click(screen.getByRole('button', { name: /start simulation/i }));
    expect(await screen.findByRole('alert')).toHaveTextContent('simulation already running');
  });
});
