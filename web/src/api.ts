/**
 * Every HTTP call the UI makes lives here, so that the back end can match one list.
 * See docs/adr/009-web-ui.md. Paths are relative to the origin that served the page
 * (the gateway serves `web/dist` at `/`; in dev Vite proxies `/api`, `/ws`, `/metrics`).
 */

import { authHeaders, useAuth } from './auth';

export const BANKING_EVENT_TYPES = [
  'CompteOuvert',
  'DepotEffectue',
  'RetraitEffectue',
  'VirementEmis',
  'VirementRecu',
  'PaiementPrimeEffectue',
  'CompteFerme',
] as const;
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
} as const;

export interface StartRequest {
  scenario: Scenario;
  rate: number;
  duration: number;
  pattern: Pattern;
}
export interface StartResponse {
  simulation_id: string;
  status: string;
}
export interface StopResponse {
  status: string;
  events_produced: number;
}
export interface SimulationStatus {
  status: 'running' | 'stopped' | 'idle' | string;
  simulation_id: string | null;
  events_produced: number;
  started_at: string | null;
  rate_actual: number;
}
export interface ProduceRequest {
  event_type: BankingEventType;
  count: number;
}
export interface ProduceResponse {
  events_produced: number;
  event_ids: string[];
}
/** One dead letter (the `dlq.*` headers of ADR 005), as `GET /api/v1/dlq/{topic}/messages` lists it. */
export interface DlqMessage {
  /** Position in a DLQ topic of the log (absent for an SQS DLQ). */
  partition?: number;
  offset?: number;
  /** SQS's MessageId (an SQS DLQ on the aws profile). */
  message_id?: string;
  key: string | null;
  error: string;
  attempts: number;
  origin_topic: string;
  origin_partition?: number;
  origin_offset?: number;
  /** The consumer group that gave up on it. */
  group?: string;
  first_failure_ms: number;
  last_failure_ms: number;
  value: unknown;
}
export interface DlqMessagesResponse {
  topic?: string;
  /** Messages not yet redriven (may exceed the number listed). */
  depth?: number;
  messages: DlqMessage[];
  /** Messages in the DLQ topic that are not dead letters (no `dlq.*` headers). */
  invalid?: { partition: number; offset: number; reason: string }[];
}
export interface RedriveResponse {
  scanned: number;
  redriven: number;
  skipped: number;
  invalid: number;
}
export interface BureauSettings {
  failing: boolean;
  latency_ms: number;
  breaker: 'closed' | 'open' | 'half_open' | string;
}
export type HealthResponse = Record<string, unknown>;
export interface SessionResponse {
  auth_required: boolean;
  authenticated: boolean;
}

export class ApiError extends Error {
  constructor(
    public readonly status: number,
    message: string,
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

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    const msg = body.error ?? body.message;
    if (typeof msg === 'string' && msg) return msg;
    if (msg && typeof msg === 'object' && 'message' in msg) return String((msg as { message: unknown }).message);
  } catch {
    /* not JSON */
  }
  return text || `${res.status} ${res.statusText}`;
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
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
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  return (await res.json()) as T;
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
  setCreditBureau: (change: Partial<Pick<BureauSettings, 'failing' | 'latency_ms'>>) =>
    request<BureauSettings>(ENDPOINTS.creditBureau, { method: 'PUT', body: JSON.stringify(change) }),
  async metricsText(): Promise<string> {
    const res = await fetch(url(ENDPOINTS.metrics), { headers: { Accept: 'text/plain' } });
    if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
    return res.text();
  },
};
