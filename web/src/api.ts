/**
 * Every HTTP call the UI makes lives here, so that the back end can match one list.
 * See docs/adr/009-web-ui.md. Paths are relative to the origin that served the page
 * (the gateway serves `web/dist` at `/`; in dev Vite proxies `/api`, `/ws`, `/metrics`).
 */

import type { components } from './api-types';
import { authHeaders, useAuth } from './auth';

/**
 * The banking events `POST /api/v1/events/produce` makes by hand. `VirementRecu` is not one:
 * the ledger emits it as the other side of a `VirementEmis`. Typed by the server's list
 * (`EventTypeName`), so a name it would refuse does not compile.
 */
export const BANKING_EVENT_TYPES = [
  'CompteOuvert',
  'DepotEffectue',
  'RetraitEffectue',
  'VirementEmis',
  'PaiementPrimeEffectue',
  'CompteFerme',
] as const satisfies readonly Schemas['EventTypeName'][];
export type BankingEventType = (typeof BANKING_EVENT_TYPES)[number];

export const SCENARIOS = ['default', 'banking-day', 'fraud-burst', 'transactions', 'calculator', 'order-files', 'orders'] as const;
export const PATTERNS = ['constant', 'ramp', 'burst', 'sine'] as const;
export type Scenario = (typeof SCENARIOS)[number];
export type Pattern = (typeof PATTERNS)[number];

export const ENDPOINTS = {
  simulationStart: '/api/v1/simulation/start',
  simulationStop: '/api/v1/simulation/stop',
  simulationStatus: '/api/v1/simulation/status',
  produce: '/api/v1/events/produce',
  health: '/api/v1/health',
  metrics: '/metrics',
  ws: '/ws',
  /** Every DLQ topic with its depth (crates/gateway/src/dlq.rs). */
  dlqs: '/api/v1/dlq',
  /** A DLQ's messages not yet redriven, with their reasons (`?limit=` 1..1000, default 100). */
  dlqMessages: (topic: string) => `/api/v1/dlq/${encodeURIComponent(topic)}/messages`,
  /** Move a DLQ's messages back to their origin topic (rate-limited, attempts reset). */
  dlqRedrive: (topic: string) => `/api/v1/dlq/${encodeURIComponent(topic)}/redrive`,
  /** The S4 credit bureau's injected faults (crates/services/src/saga/admin.rs): GET, PUT. */
  creditBureau: '/api/v1/saga/credit-bureau',
  /** Whether the server asks for a token and accepts ours (crates/gateway/src/security). */
  session: '/api/v1/auth/session',
  /** Every consumer group the bus knows: members here, partitions and lag (crates/gateway/src/consumers.rs). */
  consumers: '/api/v1/consumers',
  /** Every member drains, commits and leaves; the records wait in the log. No body. */
  consumerPause: (group: string) => `/api/v1/consumers/${encodeURIComponent(group)}/pause`,
  /** The members start again from the committed positions. No body. */
  consumerResume: (group: string) => `/api/v1/consumers/${encodeURIComponent(group)}/resume`,
  /** `PUT {"members": N}` (1..16): N members split the group's partitions. */
  consumerMembers: (group: string) => `/api/v1/consumers/${encodeURIComponent(group)}/members`,
  /** The pattern guides of docs/patterns (French): id, title, first paragraph. */
  labGuides: '/api/v1/lab/guides',
  /** One guide's full markdown. */
  labGuide: (id: string) => `/api/v1/lab/guides/${encodeURIComponent(id)}`,
  /** Every topic: partitions, retention, size, messages retained (crates/gateway/src/topics.rs). */
  topics: '/api/v1/topics',
  /** One topic, with each partition's offsets and size. */
  topic: (topic: string) => `/api/v1/topics/${encodeURIComponent(topic)}`,
  /**
   * A topic's messages, decoded: newest first, or from `offset` upwards; `partition`, exact
   * `key`, text `q`, `limit` 1..500 (default 50).
   */
  topicMessages: (topic: string) => `/api/v1/topics/${encodeURIComponent(topic)}/messages`,
} as const;

/** The schemas of web/openapi.json (src/api-types.ts is generated from it: `npm run gen:api`). */
type Schemas = components['schemas'];

// Requests and responses, as the OpenAPI document describes them: change the Rust side, run
// scripts/openapi.sh and `npm run gen:api`, never these lines.
export type StartRequest = Schemas['StartBody'];
export type StartResponse = Schemas['StartResponse'];
export type StopResponse = Schemas['StopResponse'];
export type SimulationStatus = Schemas['StatusResponse'];
export type ProduceRequest = Schemas['ProduceBody'];
export type ProduceResponse = Schemas['ProduceResponse'];
/** One dead letter (the `dlq.*` headers of ADR 005), as `GET /api/v1/dlq/{topic}/messages` lists it. */
export type DlqMessage = Schemas['DlqMessage'];
export type DlqMessagesResponse = Schemas['DlqMessages'];
export type RedriveResponse = Schemas['RedriveResult'];
export type BureauSettings = Schemas['BureauSettings'];
/** `PUT /api/v1/saga/credit-bureau` body: absent fields keep their value. */
export type BureauChange = Schemas['BureauChange'];
/** `GET /api/v1/health`, with the platform's start (newer servers: `started_at` RFC 3339, `uptime_seconds`). */
export type HealthResponse = Schemas['HealthReport'] & {
  started_at?: string | null;
  uptime_seconds?: number | null;
};
export type SessionResponse = Schemas['Session'];
/** The body of every error response: `{error, code, details: [{field, message}]}`. */
export type ErrorBody = Schemas['ErrorBody'];
/** One entry of an error's `details`: the input at fault and what was expected of it. */
export type FieldDetail = Schemas['Detail'];
/** The stable codes of `ErrorBody.code`. */
export type ErrorCode = Schemas['ErrorCode'];

/** One member of a group in this process. */
export type GroupMemberView = Schemas['GroupMember'];
/** One partition a group reads; `member` null: held by no member here. */
export type GroupPartitionView = Schemas['GroupPartition'];
/** A consumer group run by the process: what every control answers. */
export type ConsumerGroupView = Schemas['ConsumerGroup'];
/**
 * A consumer group as `GET /api/v1/consumers` lists it. The server lists every group the bus
 * knows: `controllable: false` (state `observed`) for those without member pools — no members,
 * committed offsets and lag read from the bus, every control answers 409.
 */
export type ConsumerGroupInfo = ConsumerGroupView;
/** `GET /api/v1/consumers`. */
export type ConsumersView = Schemas['ConsumerGroups'];
/** Whether the lab's controls (pause, resume, scale) apply to a group. */
export const isControllable = (g: ConsumerGroupInfo) => g.controllable;
/** edalab's own bookkeeping groups (`edalab.redrive.<dlq>`, `edalab.dlq-inspect`), not the application's. */
export const isInternalGroup = (group: string) => group.startsWith('edalab.');
/** `PUT /api/v1/consumers/{group}/members` body. */
export type ScaleRequestBody = Schemas['ScaleRequest'];
/** One pattern guide in the list. */
export type LabGuideSummaryView = Schemas['LabGuideSummary'];
/** `GET /api/v1/lab/guides`. */
export type LabGuidesView = Schemas['LabGuides'];
/** `GET /api/v1/lab/guides/{guide}`. */
export type LabGuideView = Schemas['LabGuide'];

/** A topic in the list. */
export type TopicSummaryView = Schemas['TopicSummary'];
/** `GET /api/v1/topics`. */
export type TopicsView = Schemas['Topics'];
/** One partition of a topic. */
export type TopicPartitionView = Schemas['TopicPartitionView'];
/** `GET /api/v1/topics/{topic}`. */
export type TopicDetailView = Schemas['TopicDetail'];
/** One message, decoded: `key`, `headers` and `value` are JSON the server decoded. */
export type TopicMessageView = Schemas['TopicMessage'];
/** `GET /api/v1/topics/{topic}/messages`. */
export type TopicMessagesView = Schemas['TopicMessages'];
/** The query of `GET /api/v1/topics/{topic}/messages`; empty or absent fields are not sent. */
export interface TopicMessagesParams {
  partition?: number | string | null;
  offset?: number | string | null;
  limit?: number | string | null;
  key?: string | null;
  q?: string | null;
}

/** `?a=1&b=x` of the params that have a value (`''`, `null`, `undefined` are left out). */
export function queryString(params: object): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && String(v) !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `?${s}` : '';
}

/** A response that is not 2xx, read by {@link readApiError}. */
export class ApiError extends Error {
  constructor(
    public readonly status: number,
    message: string,
    /**
     * The ErrorBody's stable `code` (one of {@link ErrorCode}, or a code added after this
     * build); `null` when the body was not an ErrorBody (a proxy's page).
     */
    public readonly code: ErrorCode | (string & {}) | null = null,
    /** The ErrorBody's `details`, one per failing field; empty when there are none. */
    public readonly details: FieldDetail[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Absolute URL for a path on the page's origin (also works under jsdom/node fetch). */
export function url(path: string): string {
  const origin =
    typeof window !== 'undefined' && window.location?.origin && window.location.origin !== 'null'
      ? window.location.origin
      : 'http://localhost';
  return new URL(path, origin).toString();
}

/** WebSocket URL for `/ws` on the page's origin (ws:// or wss://). */
export function wsUrl(path: string = ENDPOINTS.ws): string {
  const u = new URL(url(path));
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** An ErrorBody's `details`, as [{field, message}]; an older object form (`{}`) reads as none. */
function fieldDetails(details: unknown): FieldDetail[] {
  if (!Array.isArray(details)) return [];
  return details.flatMap((d) =>
    isObject(d) && (typeof d.field === 'string' || typeof d.message === 'string') ? [{ field: text(d.field), message: text(d.message) }] : [],
  );
}

/**
 * The one reader of the server's error contract (every request's, `metricsText` included):
 * an ErrorBody gives the message (`error`), `code` and `details`; any other body (not JSON, a
 * proxy's HTML page, empty) gives the status line, with the body when it is short plain text.
 * Never throws: a body that cannot be read counts as empty.
 */
export async function readApiError(res: Response): Promise<ApiError> {
  const raw = await res.text().catch(() => '');
  const statusLine = res.statusText ? `${res.status} ${res.statusText}` : `HTTP ${res.status}`;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    const plain = raw.trim();
    const short = plain && plain.length <= 200 && !plain.startsWith('<');
    return new ApiError(res.status, short ? `${statusLine}: ${plain}` : statusLine);
  }
  if (isObject(json)) {
    const body: { [K in keyof ErrorBody]?: unknown } & { message?: unknown } = json;
    const code = typeof body.code === 'string' && body.code ? body.code : null;
    // `message`: the schema registry's `{error_code, message}`.
    const message = text(body.error) || text(body.message);
    if (message || code) return new ApiError(res.status, message || `${statusLine} (${code})`, code, fieldDetails(body.details));
  }
  return new ApiError(res.status, statusLine);
}

/** Every request goes through here: the token, the 401 prompt, the error reader. */
async function send(path: string, init?: RequestInit): Promise<Response> {
  const res = await fetch(url(path), {
    ...init,
    headers: {
      Accept: 'application/json',
      ...(init?.body ? { 'Content-Type': 'application/json' } : {}),
      ...authHeaders(),
      ...init?.headers,
    },
  });
  // A missing or refused token: ask for one (components/TokenPrompt.tsx).
  if (res.status === 401) useAuth.getState().require();
  if (!res.ok) throw await readApiError(res);
  return res;
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  return (await (await send(path, init)).json()) as T;
}

const post = <T>(path: string, body?: unknown) =>
  request<T>(path, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });

export const api = {
  startSimulation: (req: StartRequest) => post<StartResponse>(ENDPOINTS.simulationStart, req),
  stopSimulation: () => post<StopResponse>(ENDPOINTS.simulationStop),
  simulationStatus: () => request<SimulationStatus>(ENDPOINTS.simulationStatus),
  produce: (req: ProduceRequest) => post<ProduceResponse>(ENDPOINTS.produce, req),
  health: () => request<HealthResponse>(ENDPOINTS.health),
  session: () => request<SessionResponse>(ENDPOINTS.session),
  dlqMessages: (topic: string) => request<DlqMessagesResponse>(ENDPOINTS.dlqMessages(topic)),
  redrive: (topic: string) => post<RedriveResponse>(ENDPOINTS.dlqRedrive(topic)),
  creditBureau: () => request<BureauSettings>(ENDPOINTS.creditBureau),
  setCreditBureau: (change: BureauChange) =>
    request<BureauSettings>(ENDPOINTS.creditBureau, { method: 'PUT', body: JSON.stringify(change) }),
  consumers: () => request<ConsumersView>(ENDPOINTS.consumers),
  pauseGroup: (group: string) => post<ConsumerGroupInfo>(ENDPOINTS.consumerPause(group)),
  resumeGroup: (group: string) => post<ConsumerGroupInfo>(ENDPOINTS.consumerResume(group)),
  scaleGroup: (group: string, members: number) =>
    request<ConsumerGroupInfo>(ENDPOINTS.consumerMembers(group), { method: 'PUT', body: JSON.stringify({ members } satisfies ScaleRequestBody) }),
  labGuides: () => request<LabGuidesView>(ENDPOINTS.labGuides),
  labGuide: (id: string) => request<LabGuideView>(ENDPOINTS.labGuide(id)),
  topics: () => request<TopicsView>(ENDPOINTS.topics),
  topic: (name: string) => request<TopicDetailView>(ENDPOINTS.topic(name)),
  topicMessages: (name: string, params: TopicMessagesParams = {}) =>
    request<TopicMessagesView>(`${ENDPOINTS.topicMessages(name)}${queryString(params)}`),
  metricsText: async (): Promise<string> => (await send(ENDPOINTS.metrics, { headers: { Accept: 'text/plain' } })).text(),
};
