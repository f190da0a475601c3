import { describe, expect, it } from 'vitest';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { shownFields, SimulationControls } from './SimulationControls';
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

  it('shows a running simulation’s settings, whoever started it, then the user’s own again', async () => {
    const user = userEvent.setup();
    renderWithQuery(<SimulationControls />);
    await waitFor(() => expect(screen.getByTestId('sim-status')).toHaveTextContent('stopped'));
    // The user's own choices, not sent yet.
    await user.selectOptions(screen.getByLabelText('Scenario'), 'fraud-burst');
    const exact = screen.getByLabelText('Rate (events/s), exact');
    await user.clear(exact);
    await user.type(exact, '25');

    // Someone else (another page, the CLI) starts banking-day at 300/s.
    fake.status = 'running';
    fake.run = { scenario: 'banking-day', pattern: 'sine', rate: 300, duration: 0 };
    await waitFor(() => expect(screen.getByTestId('sim-status')).toHaveTextContent('running'), { timeout: 3000 });
    expect(screen.getByLabelText('Scenario')).toHaveValue('banking-day');
    expect(screen.getByLabelText('Scenario')).toBeDisabled();
    expect(screen.getByLabelText('Pattern')).toHaveValue('sine');
    expect(screen.getByLabelText('Rate (events/s), exact')).toHaveValue(300);
    expect(screen.getByLabelText('Rate (events/s)')).toHaveValue('300');
    expect(screen.getByLabelText(/Duration/)).toHaveValue(0);
    expect(screen.getByTestId('sim-running-note')).toHaveTextContent('A simulation is running');

    fake.status = 'stopped';
    await waitFor(() => expect(screen.getByTestId('sim-status')).toHaveTextContent('stopped'), { timeout: 3000 });
    expect(screen.getByLabelText('Scenario')).toHaveValue('fraud-burst');
    expect(screen.getByLabelText('Scenario')).toBeEnabled();
    expect(screen.getByLabelText('Pattern')).toHaveValue('constant');
    expect(screen.getByLabelText('Rate (events/s), exact')).toHaveValue(25);
    expect(screen.getByLabelText(/Duration/)).toHaveValue(60);
    expect(screen.queryByTestId('sim-running-note')).not.toBeInTheDocument();
  });

  it('shows a scenario it does not list, and keeps the user’s values for what the server omits', () => {
    const own = { scenario: 'default', pattern: 'constant', rateText: '10', durationText: '60' };
    const st = { status: 'running', events_produced: 0, rate_actual: 0, events_by_type: {}, events_failed: {}, events_refused: {}, events_skipped: {} };
    expect(shownFields(own, { ...st, status: 'stopped', scenario: 'x' })).toBe(own);
    expect(shownFields(own, st)).toEqual(own);
    expect(shownFields(own, { ...st, scenario: 'next-year', rate: 12.5, duration: null })).toEqual({ scenario: 'next-year', pattern: 'constant', rateText: '12.5', durationText: '0' });
  });
});
