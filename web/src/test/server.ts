import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';

export interface FakeTopic {
  name: string;
  partitions: number;
  retention_ms: number | null;
  retention_bytes: number | null;
  compression: string;
  cleanup_policy: string;
  size_bytes: number;
  messages: number;
  end_offsets: number;
  dlq: boolean;
}
export interface FakeTopicMessage {
  partition: number;
  offset: number;
  timestamp: number;
  key: unknown;
  headers: Record<string, unknown>;
  value: unknown;
  value_schema_id: number | null;
  value_error: string | null;
  trace_id: string | null;
}

/** Two topics: a banking one with 3 partitions kept forever, and the system DLQ. */
export function fakeTopics(): FakeTopic[] {
  return [
    { name: 'bancaire.compte.ouvert', partitions: 3, retention_ms: null, retention_bytes: 1_073_741_824, compression: 'none', cleanup_policy: 'delete', size_bytes: 12_345, messages: 420, end_offsets: 420, dlq: false },
    { name: 'system.dlq', partitions: 1, retention_ms: 604_800_000, retention_bytes: null, compression: 'lz4', cleanup_policy: 'delete', size_bytes: 512, messages: 1, end_offsets: 1, dlq: true },
  ];
}

export const TRACE_A = '4bf92f3577b34da6a3ce929d0e0e4736';
export const TRACE_B = '0af7651916cd43dd8448eb211c80319c';
const T0 = 1_765_000_000_000;
const opened = (partition: number, offset: number, at: number, account: string, trace: string, holder: string): FakeTopicMessage => ({
  partition,
  offset,
  timestamp: at,
  key: account,
  headers: { event_id: `evt-${partition}-${offset}`, event_type: 'CompteOuvert', traceparent: `00-${trace}-00f067aa0ba902b7-01` },
  value: { event_id: `evt-${partition}-${offset}`, event_type: 'CompteOuvert', account: { id: account, holder, kind: 'courant' }, opened_at: new Date(at).toISOString(), initial_deposit: '100.00' },
  value_schema_id: 3,
  value_error: null,
  trace_id: trace,
});

/** `bancaire.compte.ouvert`: Avro values, two of one trace, and one that was not decoded. */
export function fakeTopicMessages(): Record<string, FakeTopicMessage[]> {
  return {
    'bancaire.compte.ouvert': [
      opened(0, 0, T0, 'ACC-1', TRACE_A, 'Alice'),
      opened(1, 0, T0 + 1000, 'ACC-2', TRACE_B, 'Bob'),
      opened(2, 0, T0 + 2000, 'ACC-3', '11111111111111111111111111111111', 'Chloé'),
      opened(0, 1, T0 + 3000, 'ACC-1', TRACE_A, 'Alice'),
      { partition: 1, offset: 1, timestamp: T0 + 4000, key: null, headers: {}, value: { base64: '3q2+7w==' }, value_schema_id: null, value_error: 'no magic byte', trace_id: null },
    ],
    'system.dlq': [],
  };
}

/** In-memory fake of the gateway's REST surface, shared by the component and API tests. */
export const fake = {
  status: 'stopped' as string,
  simulationId: null as string | null,
  eventsProduced: 0,
  startedAt: null as string | null,
  lastStart: null as unknown,
  /** The running simulation's settings, as the status reports them (set by a start, or by a test: "someone else started it"). */
  run: null as FakeRun | null,
  /** `GET /api/v1/health`'s platform start: `uptime_seconds` and `started_at` (`null`: an older server, not sent). */
  uptimeSeconds: 3725 as number | null,
  dlq: [] as unknown[],
  bureauFailing: false,
  /** The consumer groups `GET /api/v1/consumers` lists (crates/gateway/src/consumers.rs). */
  groups: [ledgerGroup()] as FakeGroup[],
  /** The last `PUT /api/v1/consumers/{group}/members` body. */
  lastScale: null as unknown,
  /** The topics `GET /api/v1/topics` lists (crates/gateway/src/topics.rs). */
  topics: fakeTopics(),
  /** Each topic's messages, oldest first, as the server decodes them. */
  topicMessages: fakeTopicMessages(),
  /** The query of the last `GET /api/v1/topics/{topic}/messages`. */
  lastMessagesQuery: null as Record<string, string> | null,
  reset() {
    this.topics = fakeTopics();
    this.topicMessages = fakeTopicMessages();
    this.lastMessagesQuery = null;
    this.groups = [ledgerGroup()];
    this.lastScale = null;
    this.bureauFailing = false;
    this.status = 'stopped';
    this.simulationId = null;
    this.eventsProduced = 0;
    this.startedAt = null;
    this.lastStart = null;
    this.run = null;
    this.uptimeSeconds = 3725;
    this.dlq = [];
  },
};

export interface FakeRun {
  scenario: string;
  pattern: string;
  rate: number;
  duration: number | null;
}

export interface FakeGroup {
  group: string;
  state: string;
  members_target: number;
  instance: string;
  members: { member: number; partitions: string[]; messages_done_total: number; messages_in_flight: number }[];
  partitions: { topic: string; partition: number; committed: number | null; high_watermark: number; lag: number; member: number | null }[];
  lag_total: number;
  controllable: boolean;
}

/** The `ledger` group with one member holding two partitions, one of them 3 behind. */
export function ledgerGroup(): FakeGroup {
  return {
    group: 'ledger',
    state: 'running',
    members_target: 1,
    instance: 'host:1234',
    members: [{ member: 1, partitions: ['bancaire.compte.ouvert/0', 'bancaire.depot.effectue/0'], messages_done_total: 123, messages_in_flight: 0 }],
    partitions: [
      { topic: 'bancaire.compte.ouvert', partition: 0, committed: 17, high_watermark: 20, lag: 3, member: 1 },
      { topic: 'bancaire.depot.effectue', partition: 0, committed: null, high_watermark: 0, lag: 0, member: 1 },
    ],
    lag_total: 3,
    controllable: true,
  };
}

/**
 * A group without member pools (`controllable: false`, state `observed`): no members, committed
 * offsets and lag read from the bus.
 */
export function observedGroup(group = 'payment-service'): FakeGroup {
  return {
    group,
    state: 'observed',
    members_target: 0,
    instance: '',
    members: [],
    partitions: [
      { topic: 'orders.created', partition: 0, committed: 40, high_watermark: 42, lag: 2, member: null },
      { topic: 'orders.created', partition: 1, committed: 38, high_watermark: 38, lag: 0, member: null },
    ],
    lag_total: 2,
    controllable: false,
  };
}

/** edalab's own DLQ redrive group: bookkeeping, observed. */
export function internalGroup(): FakeGroup {
  return { ...observedGroup('edalab.redrive.system.dlq'), partitions: [{ topic: 'system.dlq', partition: 0, committed: 0, high_watermark: 7, lag: 7, member: null }], lag_total: 7 };
}

/** The fake group after `members_target` changed: partitions dealt round-robin to the members. */
function assign(g: FakeGroup): FakeGroup {
  const n = g.state === 'paused' ? 0 : g.members_target;
  const partitions = g.partitions.map((p, i) => ({ ...p, member: n ? (i % n) + 1 : null }));
  const members = Array.from({ length: n }, (_, i) => ({
    member: i + 1,
    partitions: partitions.filter((p) => p.member === i + 1).map((p) => `${p.topic}/${p.partition}`),
    messages_done_total: 0,
    messages_in_flight: 0,
  }));
  return { ...g, members, partitions };
}

/** `GET /api/v1/topics/{topic}/messages` on the fake: the server's checks, filters and order. */
function browseMessages(topic: FakeTopic, all: FakeTopicMessage[], query: URLSearchParams) {
  const invalid = (field: string, message: string) =>
    HttpResponse.json({ error: `invalid \`${field}\`: ${message}`, code: 'validation_failed', details: [{ field, message }] }, { status: 400 });
  const num = (name: string) => {
    const v = query.get(name);
    if (v === null) return { ok: true as const, value: undefined };
    return /^\d+$/.test(v) ? { ok: true as const, value: Number(v) } : { ok: false as const, error: invalid(name, `must be a non-negative integer, got \`${v}\``) };
  };
  const limit = num('limit');
  if (!limit.ok) return limit.error;
  const n = limit.value ?? 50;
  if (n < 1 || n > 500) return invalid('limit', `must be between 1 and 500, got ${n}`);
  const partition = num('partition');
  if (!partition.ok) return partition.error;
  const offset = num('offset');
  if (!offset.ok) return offset.error;
  if (partition.value !== undefined && partition.value >= topic.partitions)
    return HttpResponse.json(
      { error: `topic \`${topic.name}\` has no partition ${partition.value} (it has ${topic.partitions})`, code: 'not_found', details: [{ field: 'partition', message: 'no such partition' }] },
      { status: 404 },
    );
  const key = query.get('key') || null;
  const q = query.get('q') || null;
  const looked = all.filter((m) => (partition.value === undefined || m.partition === partition.value) && (offset.value === undefined || m.offset >= offset.value));
  const found = looked.filter(
    (m) => (key === null || m.key === key) && (q === null || [m.key, m.headers, m.value].some((v) => JSON.stringify(v).includes(q))),
  );
  if (offset.value === undefined) found.sort((a, b) => b.timestamp - a.timestamp || b.offset - a.offset || b.partition - a.partition);
  else found.sort((a, b) => a.offset - b.offset || a.partition - b.partition);
  return HttpResponse.json({ topic: topic.name, messages: found.slice(0, n), scanned: looked.length });
}

export const LAB_GUIDES = [
  { id: '01-pub-sub', title: '01 — Pub/Sub : un fait, plusieurs lecteurs', summary: 'Un producteur publie un fait une fois ; chaque groupe le lit.' },
  { id: '02-event-sourcing', title: '02 — Event sourcing et rejeu', summary: 'Le journal fait foi ; l’état est une projection.' },
];
export const LAB_GUIDE_MARKDOWN = `# 01 — Pub/Sub : un fait, plusieurs lecteurs

## Le problème

Un **producteur** ne doit pas connaître ses lecteurs.

- le grand livre (\`ledger\`)
- la détection de fraude

\`\`\`bash
edalab up
\`\`\`
`;

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

/** What every control answers for an observed group. */
const notControllable = (group: string) =>
  HttpResponse.json(
    {
      error: `consumer group \`${group}\` is observed, not controlled: its consumers run without pause, resume and scale (controllable: ledger)`,
      code: 'conflict',
      details: [{ field: 'group', message: `\`${group}\` has no controls here` }],
    },
    { status: 409 },
  );

export const handlers = [
  http.get('*/api/v1/simulation/status', () =>
    HttpResponse.json({
      status: fake.status,
      simulation_id: fake.simulationId,
      events_produced: fake.eventsProduced,
      started_at: fake.startedAt,
      rate_actual: fake.status === 'running' ? 9.8 : 0,
      ...(fake.status === 'running' && fake.run ? fake.run : {}),
    }),
  ),
  http.post('*/api/v1/simulation/start', async ({ request }) => {
    if (fake.status === 'running') return HttpResponse.json({ error: 'simulation already running' }, { status: 409 });
    fake.lastStart = await request.json();
    fake.run = fake.lastStart as FakeRun;
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
  http.get('*/api/v1/health', () =>
    HttpResponse.json({
      status: 'healthy',
      kafka: 'connected',
      postgres: 'connected',
      ...(fake.uptimeSeconds === null ? {} : { uptime_seconds: fake.uptimeSeconds, started_at: new Date(Date.now() - fake.uptimeSeconds * 1000).toISOString() }),
    }),
  ),
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
  // The consumer controls (crates/gateway/src/consumers.rs): same shapes, same errors.
  http.get('*/api/v1/consumers', () => HttpResponse.json({ groups: fake.groups, truncated: false })),
  http.post('*/api/v1/consumers/:group/:action', ({ params }) => {
    const i = fake.groups.findIndex((g) => g.group === params.group);
    if (i < 0) return HttpResponse.json({ error: `no consumer group \`${String(params.group)}\` runs in this process`, code: 'not_found', details: [] }, { status: 404 });
    if (params.action !== 'pause' && params.action !== 'resume') return HttpResponse.json({ error: 'no route', code: 'route_not_found', details: [] }, { status: 404 });
    if (fake.groups[i].controllable === false) return notControllable(fake.groups[i].group);
    fake.groups[i] = assign({ ...fake.groups[i], state: params.action === 'pause' ? 'paused' : 'running' });
    return HttpResponse.json(fake.groups[i]);
  }),
  http.put('*/api/v1/consumers/:group/members', async ({ params, request }) => {
    const body = (await request.json()) as { members?: unknown };
    fake.lastScale = body;
    const n = body.members;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 16) {
      const message = 'must be an integer between 1 and 16';
      return HttpResponse.json({ error: `invalid \`members\`: ${message}`, code: 'validation_failed', details: [{ field: 'members', message }] }, { status: 400 });
    }
    const i = fake.groups.findIndex((g) => g.group === params.group);
    if (i < 0) return HttpResponse.json({ error: `no consumer group \`${String(params.group)}\` runs in this process`, code: 'not_found', details: [] }, { status: 404 });
    if (fake.groups[i].controllable === false) return notControllable(fake.groups[i].group);
    fake.groups[i] = assign({ ...fake.groups[i], members_target: n });
    return HttpResponse.json(fake.groups[i]);
  }),
  // The topic browser (crates/gateway/src/topics.rs): same shapes, same errors.
  http.get('*/api/v1/topics', () => HttpResponse.json({ topics: fake.topics })),
  http.get('*/api/v1/topics/:topic', ({ params }) => {
    const t = fake.topics.find((x) => x.name === params.topic);
    if (!t) return HttpResponse.json({ error: `unknown topic \`${String(params.topic)}\``, code: 'not_found', details: [{ field: 'topic', message: 'no such topic' }] }, { status: 404 });
    const mine = fake.topicMessages[t.name] ?? [];
    const partition_offsets = Array.from({ length: t.partitions }, (_, partition) => ({
      partition,
      log_start_offset: 0,
      high_watermark: mine.filter((m) => m.partition === partition).length,
      size_bytes: 100 * mine.filter((m) => m.partition === partition).length,
    }));
    return HttpResponse.json({ ...t, partition_offsets });
  }),
  http.get('*/api/v1/topics/:topic/messages', ({ params, request }) => {
    const query = new URL(request.url).searchParams;
    fake.lastMessagesQuery = Object.fromEntries(query);
    const t = fake.topics.find((x) => x.name === params.topic);
    if (!t) return HttpResponse.json({ error: `unknown topic \`${String(params.topic)}\``, code: 'not_found', details: [{ field: 'topic', message: 'no such topic' }] }, { status: 404 });
    return browseMessages(t, fake.topicMessages[t.name] ?? [], query);
  }),
  // The lab's guides (docs/patterns, served by the gateway).
  http.get('*/api/v1/lab/guides', () => HttpResponse.json({ guides: LAB_GUIDES })),
  http.get('*/api/v1/lab/guides/:id', ({ params }) => {
    const g = LAB_GUIDES.find((x) => x.id === params.id);
    if (!g) return HttpResponse.json({ error: `no guide \`${String(params.id)}\``, code: 'not_found', details: [] }, { status: 404 });
    return HttpResponse.json({ id: g.id, title: g.title, markdown: g.id === '01-pub-sub' ? LAB_GUIDE_MARKDOWN : `# ${g.title}\n\n${g.summary}\n` });
  }),
];

export const server = setupServer(...handlers);
