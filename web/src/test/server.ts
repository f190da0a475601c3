import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';

/** In-memory fake of the gateway's REST surface, shared by the component and API tests. */
export const fake = {
  status: 'stopped' as string,
  simulationId: null as string | null,
  eventsProduced: 0,
  startedAt: null as string | null,
  lastStart: null as unknown,
  dlq: [] as unknown[],
  bureauFailing: false,
  reset() {
    this.bureauFailing = false;
    this.status = 'stopped';
    this.simulationId = null;
    this.eventsProduced = 0;
    this.startedAt = null;
    this.lastStart = null;
    this.dlq = [];
  },
};

export const METRICS_TEXT = `# HELP edalab_messages_produced_total Messages produced
# TYPE edalab_messages_produced_total counter
edalab_messages_produced_total{service="simulator",topic="bancaire.compte.ouvert"} 40
edalab_messages_produced_total{service="simulator",topic="bancaire.depot.effectue"} 2
edalab_messages_consumed_total{service="ledger",topic="bancaire.compte.ouvert"} 39
edalab_consumer_lag{group="ledger",topic="bancaire.compte.ouvert",partition="0"} 3
edalab_consumer_lag{group="edalab.redrive.system.dlq",topic="system.dlq",partition="0"} 1
edalab_dlq_depth{topic="system.dlq"} 1
edalab_message_latency_seconds_sum{service="ledger"} 0.5
edalab_message_latency_seconds_count{service="ledger"} 100
edalab_processing_errors_total{service="ledger"} 2
`;

export const handlers = [
  http.get('*/api/v1/simulation/status', () =>
    HttpResponse.json({
      status: fake.status,
      simulation_id: fake.simulationId,
      events_produced: fake.eventsProduced,
      started_at: fake.startedAt,
      rate_actual: fake.status === 'running' ? 9.8 : 0,
    }),
  ),
  http.post('*/api/v1/simulation/start', async ({ request }) => {
    if (fake.status === 'running') return HttpResponse.json({ error: 'simulation already running' }, { status: 409 });
    fake.lastStart = await request.json();
    fake.status = 'running';
    fake.simulationId = 'sim-1';
    fake.startedAt = new Date().toISOString();
    fake.eventsProduced = 5;
    return HttpResponse.json({ simulation_id: 'sim-1', status: 'running' });
  }),
  http.post('*/api/v1/simulation/stop', () => {
    if (fake.status !== 'running') return HttpResponse.json({ error: 'no simulation running' }, { status: 409 });
    fake.status = 'stopped';
    return HttpResponse.json({ status: 'stopped', events_produced: fake.eventsProduced });
  }),
  http.post('*/api/v1/events/produce', async ({ request }) => {
    const body = (await request.json()) as { event_type: string; count: number };
    fake.eventsProduced += body.count;
    return HttpResponse.json({ events_produced: body.count, event_ids: Array.from({ length: body.count }, (_, i) => `evt-${i}`) });
  }),
  http.get('*/api/v1/health', () => HttpResponse.json({ status: 'healthy', kafka: 'connected', postgres: 'connected' })),
  http.get('*/metrics', () => new HttpResponse(METRICS_TEXT, { headers: { 'Content-Type': 'text/plain; version=0.0.4' } })),
  http.get('*/api/v1/saga/credit-bureau', () => HttpResponse.json({ failing: fake.bureauFailing, latency_ms: 0, breaker: 'closed' })),
  http.put('*/api/v1/saga/credit-bureau', async ({ request }) => {
    const body = (await request.json()) as { failing?: unknown };
    if (body.failing !== undefined && typeof body.failing !== 'boolean')
      return HttpResponse.json({ error: 'Invalid credit-bureau settings', code: 'validation_failed', details: [{ field: 'failing', message: 'must be true or false' }] }, { status: 400 });
    if (typeof body.failing === 'boolean') fake.bureauFailing = body.failing;
    return HttpResponse.json({ failing: fake.bureauFailing, latency_ms: 0, breaker: 'closed' });
  }),
  // The gateway's DLQ routes (crates/gateway/src/dlq.rs): same shapes.
  http.get('*/api/v1/dlq/:topic/messages', ({ params }) =>
    HttpResponse.json({ topic: params.topic, depth: fake.dlq.length, messages: fake.dlq, invalid: [] }),
  ),
  http.post('*/api/v1/dlq/:topic/redrive', () => {
    const n = fake.dlq.length;
    fake.dlq = [];
    return HttpResponse.json({ scanned: n, redriven: n, skipped: 0, invalid: 0 });
  }),
];

export const server = setupServer(...handlers);
