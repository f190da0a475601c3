import { describe, expect, it } from 'vitest';
import { act, screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { Dashboard, formatDuration, healthEntries } from './Dashboard';
import { Footer } from './Footer';
import { Header } from './Header';
import { renderWithQuery } from '../test/render';
import { fake, server } from '../test/server';
import { useLive } from '../store';

describe('Dashboard cards', () => {
  it('shows simulation, broker, lag, latency, health and error figures', async () => {
    fake.status = 'running';
    fake.eventsProduced = 123;
    fake.startedAt = new Date(Date.parse('2026-01-01T00:00:00Z')).toISOString();
    useLive.getState().pushError('ws', 'boom');
    renderWithQuery(<Dashboard now={Date.parse('2026-01-01T00:01:05Z')} />);
    await waitFor(() => expect(screen.getByTestId('card-events')).toHaveTextContent('123'));
    expect(screen.getByTestId('card-rate')).toHaveTextContent('9.8/s');
    expect(screen.getByTestId('card-duration')).toHaveTextContent('1m 5s');
    await waitFor(() => expect(screen.getByTestId('card-broker')).toHaveTextContent('42'));
    expect(screen.getByTestId('card-lag')).toHaveTextContent('3');
    expect(screen.getByTestId('card-latency')).toHaveTextContent('5.0 ms');
    expect(screen.getByTestId('card-errors')).toHaveTextContent('2 processing errors');
    expect(screen.getByTestId('card-errors')).toHaveTextContent('ws: boom');
    await waitFor(() => expect(screen.getByTestId('card-services')).toHaveTextContent('kafka: connected'));
  });

  it('says so when the gateway is down', async () => {
    server.use(
      http.get('*/api/v1/health', () => HttpResponse.json({ error: 'down' }, { status: 503 })),
      http.get('*/metrics', () => new HttpResponse('', { status: 503 })),
    );
    renderWithQuery(<Dashboard />);
    await waitFor(() => expect(screen.getByTestId('card-services')).toHaveTextContent('gateway unreachable'));
    expect(screen.getByTestId('card-broker')).toHaveTextContent('—');
  });

  it('msg/s chart and footer follow the WebSocket counts', () => {
    renderWithQuery(<><Dashboard /><Footer /><Header /></>);
    act(() => {
      const s = useLive.getState();
      for (let i = 0; i < 7; i++) s.handleMessage({ type: 'event', topic: 'bancaire.depot.effectue' });
      s.handleMessage({ type: 'event', topic: 'system.dlq' });
      s.tick();
      s.setConnection('connected');
    });
    expect(screen.getByTestId('card-chart')).toHaveTextContent('8');
    expect(screen.getByTestId('footer-events')).toHaveTextContent('Events: 8');
    expect(screen.getByTestId('footer-rate')).toHaveTextContent('Rate: 8/s');
    expect(screen.getByTestId('ws-status')).toHaveTextContent('connected');
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
