import { describe, expect, it } from 'vitest';
import { act, screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { Dashboard, formatDuration, healthEntries } from './Dashboard';
import { Footer } from './Footer';
import { Header } from './Header';
import { renderWithQuery } from '../test/render';
import { fake, internalGroup, ledgerGroup, observedGroup, server } from '../test/server';
import { useLive } from '../store';

const digits = (el: HTMLElement) => (el.textContent ?? '').replace(/[^\d.—]/g, '');

describe('Dashboard cards', () => {
  it('shows the platform’s figures from the server, and the simulation’s own, labelled as such', async () => {
    fake.status = 'running';
    fake.eventsProduced = 123;
    fake.startedAt = new Date(Date.parse('2026-01-01T00:00:00Z')).toISOString();
    fake.groups = [ledgerGroup(), observedGroup(), internalGroup()];
    useLive.getState().pushError('ws', 'boom');
    renderWithQuery(<Dashboard now={Date.parse('2026-01-01T00:01:05Z')} />);
    await waitFor(() => expect(screen.getByTestId('card-events')).toHaveTextContent('123'));
    expect(screen.getByTestId('card-events')).toHaveTextContent('Simulation events sent');
    expect(screen.getByTestId('card-rate')).toHaveTextContent('Simulation rate9.8/s');
    expect(screen.getByTestId('card-duration')).toHaveTextContent('1m 5s');
    // Every topic but the DLQ: bancaire.compte.ouvert's 420 end offsets.
    await waitFor(() => expect(screen.getByTestId('card-messages')).toHaveTextContent('Messages (all topics)420'));
    expect(screen.getByTestId('card-chart')).toHaveTextContent('Msg/s (all topics)—/s');
    // The application's groups (ledger 3, payment-service 2), not edalab's own (7).
    await waitFor(() => expect(screen.getByTestId('card-lag')).toHaveTextContent('5'));
    expect(screen.getByTestId('card-latency')).toHaveTextContent('5.0 ms');
    expect(screen.getByTestId('card-errors')).toHaveTextContent('2 processing errors');
    expect(screen.getByTestId('card-errors')).toHaveTextContent('ws: boom');
    await waitFor(() => expect(screen.getByTestId('card-services')).toHaveTextContent('kafka: connected'));
  });

  it('says so when the gateway is down', async () => {
    server.use(
      http.get('*/api/v1/health', () => HttpResponse.json({ error: 'down' }, { status: 503 })),
      http.get('*/metrics', () => new HttpResponse('', { status: 503 })),
      http.get('*/api/v1/topics', () => HttpResponse.json({ error: 'down' }, { status: 503 })),
      http.get('*/api/v1/consumers', () => HttpResponse.json({ error: 'down' }, { status: 503 })),
    );
    renderWithQuery(<><Dashboard /><Footer /></>);
    await waitFor(() => expect(screen.getByTestId('card-services')).toHaveTextContent('gateway unreachable'));
    expect(screen.getByTestId('card-messages')).toHaveTextContent('—');
    expect(screen.getByTestId('card-lag')).toHaveTextContent('—');
    expect(screen.getByTestId('footer-events')).toHaveTextContent('Messages: —');
    expect(screen.getByTestId('footer-uptime')).toHaveTextContent('Uptime: —');
  });

  it('the dashboard and the footer show the same count and rate, from the topics’ offsets only', async () => {
    fake.topics.push({ ...fake.topics[0], name: 'bancaire.depot.effectue', end_offsets: 1000, messages: 1000 });
    renderWithQuery(<><Dashboard /><Footer /></>);
    await waitFor(() => expect(screen.getByTestId('footer-events')).toHaveTextContent('Messages: 1 420'));
    expect(digits(screen.getByTestId('platform-messages'))).toBe('1420');
    // WebSocket events are not counted: only the offsets are.
    act(() => {
      const s = useLive.getState();
      for (let i = 0; i < 50; i++) s.handleMessage({ type: 'event', topic: 'bancaire.depot.effectue' });
      s.tick();
    });
    expect(digits(screen.getByTestId('footer-events'))).toBe('1420');
    fake.topics[0].end_offsets += 200;
    fake.topics[2].end_offsets += 100;
    fake.topics[1].end_offsets += 500; // the DLQ: not in the totals
    await waitFor(() => expect(screen.getByTestId('footer-rate')).not.toHaveTextContent('—'), { timeout: 5000 });
    expect(digits(screen.getByTestId('platform-messages'))).toBe('1720');
    expect(digits(screen.getByTestId('footer-events'))).toBe('1720');
    // One answer, one rate: the same text, not merely close.
    const rate = digits(screen.getByTestId('footer-rate'));
    expect(Number(rate)).toBeGreaterThan(50);
    expect(Number(rate)).toBeLessThanOrEqual(150);
    expect(digits(screen.getByTestId('platform-rate'))).toBe(rate);
  });

  it('footer uptime is the platform’s: uptime_seconds from health, counting on', async () => {
    fake.uptimeSeconds = 3725;
    renderWithQuery(<Footer />);
    await waitFor(() => expect(screen.getByTestId('footer-uptime')).toHaveTextContent(/^Uptime: 1h 2m [5-7]s$/));
    await waitFor(() => expect(screen.getByTestId('footer-uptime')).toHaveTextContent(/^Uptime: 1h 2m [6-8]s$/), { timeout: 2500 });
  });

  it('footer uptime is a dash, not the page’s age, when the server does not say', async () => {
    fake.uptimeSeconds = null;
    renderWithQuery(<><Footer /><Dashboard /></>);
    await waitFor(() => expect(screen.getByTestId('card-services')).toHaveTextContent('kafka: connected'));
    expect(screen.getByTestId('footer-uptime')).toHaveTextContent('Uptime: —');
  });

  it('header raises a DLQ depth alert that opens the DLQ', async () => {
    renderWithQuery(<Header />);
    const alert = await screen.findByTestId('dlq-alert');
    expect(alert).toHaveTextContent('system.dlq: 1 dead-lettered');
    act(() => screen.getByRole('button', { name: /system\.dlq: 1/ }).click());
    expect(useLive.getState().selectedDlq).toBe('system.dlq');
  });

  it('reads the gateway health: its components when present, else any status map', () => {
    // What `edalab up` answers (crates/gateway/src/health.rs).
    const real = {
      status: 'healthy', kafka: 'connected', postgres: 'connected',
      bus: { backend: 'embedded', status: 'connected' }, store: { backend: 'sqlite', status: 'connected' },
      components: [
        { name: 'bus', role: 'bus', backend: 'embedded', status: 'up', latency_ms: 0 },
        { name: 'store', role: 'store', backend: 'sqlite', status: 'down', latency_ms: 3 },
      ],
    };
    expect(healthEntries(real)).toEqual([['status', 'healthy'], ['bus (embedded)', 'up'], ['store (sqlite)', 'down']]);
    expect(healthEntries({ status: 'healthy', kafka: 'connected' })).toEqual([['status', 'healthy'], ['kafka', 'connected']]);
    expect(healthEntries(undefined)).toEqual([]);
  });

  it('formats durations', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(3725)).toBe('1h 2m 5s');
  });
});
