import { describe, expect, it } from 'vitest';
import { http, HttpResponse } from 'msw';
import { api, ApiError, ENDPOINTS, wsUrl } from './api';
import { fake, METRICS_TEXT, server } from './test/server';

describe('api client against a mocked gateway', () => {
  it('starts, reports and stops a simulation', async () => {
    const r = await api.startSimulation({ scenario: 'banking-day', rate: 50, duration: 10, pattern: 'sine' });
    expect(r).toEqual({ simulation_id: 'sim-1', status: 'running' });
    expect(fake.lastStart).toEqual({ scenario: 'banking-day', rate: 50, duration: 10, pattern: 'sine' });
    const st = await api.simulationStatus();
    expect(st.status).toBe('running');
    expect(st.simulation_id).toBe('sim-1');
    const stop = await api.stopSimulation();
    expect(stop).toEqual({ status: 'stopped', events_produced: 5 });
  });

  it('turns a 409 into an ApiError with the server message', async () => {
    const err = await api.stopSimulation().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(409);
    expect((err as ApiError).message).toBe('no simulation running');
  });

  it('falls back to the status line when the body is not JSON', async () => {
    server.use(http.post('*/api/v1/events/produce', () => new HttpResponse('upstream down', { status: 503 })));
    await expect(api.produce({ event_type: 'CompteOuvert', count: 1 })).rejects.toMatchObject({ status: 503, message: 'upstream down' });
  });

  it('produces events', async () => {
    const r = await api.produce({ event_type: 'DepotEffectue', count: 3 });
    expect(r.events_produced).toBe(3);
    expect(r.event_ids).toHaveLength(3);
  });

  it('reads metrics text and health', async () => {
    expect(await api.metricsText()).toBe(METRICS_TEXT);
    expect(await api.health()).toMatchObject({ status: 'healthy' });
  });

  it('lists and redrives a DLQ', async () => {
    let seen = '';
    server.use(
      http.get('*/api/v1/dlq/:topic/messages', ({ params }) => {
        seen = String(params.topic);
        return HttpResponse.json({ topic: seen, depth: 1, invalid: [], messages: [{ partition: 0, offset: 7, key: 'k', error: 'bad', attempts: 3, origin_topic: 'x', origin_partition: 1, origin_offset: 4, group: 'g', first_failure_ms: 1, last_failure_ms: 2, value: null }] });
      }),
    );
    const m = await api.dlqMessages('system.dlq');
    expect(seen).toBe('system.dlq');
    expect(m.messages[0].error).toBe('bad');
    expect(m.depth).toBe(1);
    fake.dlq = [1, 2];
    expect(await api.redrive('system.dlq')).toEqual({ scanned: 2, redriven: 2, skipped: 0, invalid: 0 });
    expect(ENDPOINTS.dlqRedrive('a/b')).toBe('/api/v1/dlq/a%2Fb/redrive');
  });

  it('derives the WebSocket URL from the page origin', () => {
    expect(wsUrl()).toMatch(/^ws:\/\/[^/]+\/ws$/);
  });
});
