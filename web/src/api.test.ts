import { describe, expect, it } from 'vitest';
import { http, HttpResponse } from 'msw';
import { api, ApiError, ENDPOINTS, readApiError, wsUrl } from './api';
import { useAuth } from './auth';
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
    server.use(http.post('*/api/v1/events/produce', () => new HttpResponse('upstream down', { status: 503, statusText: 'Service Unavailable' })));
    const err = await api.produce({ event_type: 'CompteOuvert', count: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 503, message: '503 Service Unavailable: upstream down', code: null, details: [] });
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

/** `{error, code, details}` as the gateway answers a refused request (the schema ErrorBody). */
const VALIDATION = {
  error: 'Invalid request body',
  code: 'validation_failed',
  details: [
    { field: 'count', message: 'must be between 1 and 10000' },
    { field: 'event_type', message: 'unknown event type' },
  ],
};

const response = (body: BodyInit | null, status: number, statusText = '') => new Response(body, { status, statusText });

describe('the error reader (readApiError)', () => {
  it('extracts the message, code and details of an ErrorBody', async () => {
    const err = await readApiError(response(JSON.stringify(VALIDATION), 400, 'Bad Request'));
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toBeInstanceOf(Error);
    expect(err.status).toBe(400);
    expect(err.message).toBe('Invalid request body');
    expect(err.code).toBe('validation_failed');
    expect(err.details).toEqual(VALIDATION.details);
  });

  it('is what every request throws, with the code and details the server sent', async () => {
    server.use(http.post('*/api/v1/events/produce', () => HttpResponse.json(VALIDATION, { status: 400 })));
    const err = await api.produce({ event_type: 'CompteOuvert', count: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, message: 'Invalid request body', code: 'validation_failed', details: VALIDATION.details });
  });

  it('reads the errors of /metrics too', async () => {
    const disabled = { error: 'metrics are disabled', code: 'metrics_disabled', details: [] };
    server.use(http.get('*/metrics', () => HttpResponse.json(disabled, { status: 404 })));
    await expect(api.metricsText()).rejects.toMatchObject({ status: 404, message: 'metrics are disabled', code: 'metrics_disabled', details: [] });
  });

  it('still asks for the token on a 401, and reads its body', async () => {
    server.use(
      http.get('*/api/v1/simulation/status', () =>
        HttpResponse.json({ error: 'a bearer token is required', code: 'unauthorized', details: [] }, { status: 401 }),
      ),
    );
    expect(useAuth.getState().needed).toBe(false);
    const err = await api.simulationStatus().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized', message: 'a bearer token is required' });
    expect(useAuth.getState().needed).toBe(true);
    useAuth.getState().signOut();
  });

  it('falls back to the status text for a body that is not JSON', async () => {
    const html = await readApiError(response('<html><body><h1>502 Bad Gateway</h1></body></html>', 502, 'Bad Gateway'));
    expect(html).toMatchObject({ status: 502, message: '502 Bad Gateway', code: null, details: [] });
    expect(await readApiError(response('upstream down', 503, 'Service Unavailable'))).toMatchObject({
      message: '503 Service Unavailable: upstream down',
      code: null,
    });
    // HTTP/2 has no status text.
    expect(await readApiError(response(null, 504))).toMatchObject({ status: 504, message: 'HTTP 504', code: null, details: [] });
    expect((await readApiError(response('x'.repeat(500), 500, 'Internal Server Error'))).message).toBe('500 Internal Server Error');
  });

  it('tolerates details as an object (the older form): no field details', async () => {
    const err = await readApiError(response(JSON.stringify({ error: 'no route', code: 'route_not_found', details: {} }), 404, 'Not Found'));
    expect(err).toMatchObject({ message: 'no route', code: 'route_not_found', details: [] });
    const odd = await readApiError(response(JSON.stringify({ error: 'bad', code: 'c', details: { field: 'x', message: 'y' } }), 400));
    expect(odd.details).toEqual([]);
  });

  it('keeps only the well-formed entries of details', async () => {
    const body = { error: 'bad', code: 'validation_failed', details: [null, 3, 'text', [], { field: 1 }, { field: 'amount' }, { field: 'a', message: 'b', extra: true }] };
    const err = await readApiError(response(JSON.stringify(body), 400));
    expect(err.details).toEqual([
      { field: 'amount', message: '' },
      { field: 'a', message: 'b' },
    ]);
  });

  it('never throws while parsing, whatever the body', async () => {
    const bodies = ['', ' ', 'null', 'true', '42', '"just a string"', '[]', '[{"error":"x"}]', '{}', '{"error":5,"code":[],"details":"x"}',
      '{"code":"only_code"}', '{"message":"registry style"}', '{"error":', '\u0000', '{"error":"e","details":null}'];
    for (const body of bodies) {
      const err = await readApiError(response(body, 500, 'Internal Server Error'));
      expect(err, body).toBeInstanceOf(ApiError);
      expect(err.status).toBe(500);
      expect(typeof err.message).toBe('string');
      expect(err.message.length).toBeGreaterThan(0);
      expect(Array.isArray(err.details)).toBe(true);
    }
    expect((await readApiError(response('{"code":"only_code"}', 409, 'Conflict'))).message).toBe('409 Conflict (only_code)');
    expect((await readApiError(response('{"message":"registry style"}', 422))).message).toBe('registry style');
    // A body that fails while it is read counts as empty.
    const broken = new Response(new ReadableStream({ start: (c) => c.error(new Error('connection reset')) }), { status: 502, statusText: 'Bad Gateway' });
    expect(await readApiError(broken)).toMatchObject({ status: 502, message: '502 Bad Gateway', code: null, details: [] });
    // And one already read.
    const used = response('{"error":"x"}', 500, 'Internal Server Error');
    await used.text();
    expect(await readApiError(used)).toMatchObject({ status: 500, message: '500 Internal Server Error' });
  });
});
