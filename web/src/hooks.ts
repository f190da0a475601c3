import { useEffect, useMemo, useState } from 'react';
import { useQuery, type QueryClient } from '@tanstack/react-query';
import { api, isInternalGroup, wsUrl, type ConsumersView, type TopicsView } from './api';
import { useAuth, wsProtocols } from './auth';
import { parsePrometheus, snapshot, type MetricsSnapshot } from './prometheus';
import { foldOffsets, platformTotals, type OffsetHistory, type PlatformTotals } from './rates';
import { useLive } from './store';
import { ReconnectingSocket, type SocketFactory } from './ws';

export const METRICS_POLL_MS = 2000;
export const STATUS_POLL_MS = 1000;
export const TOPICS_POLL_MS = 2000;
export const CONSUMERS_POLL_MS = 1000;
export const HEALTH_POLL_MS = 5000;
/** The one key of `GET /api/v1/topics`: the Topics page, the graph, the dashboard and the footer. */
export const TOPICS_KEY = ['topics'] as const;
/** The one key of `GET /api/v1/consumers`: the Consumers page, the graph and the dashboard. */
export const CONSUMERS_KEY = ['consumers'] as const;

export function useMetrics() {
  return useQuery<MetricsSnapshot>({
    queryKey: ['metrics'],
    queryFn: async () => snapshot(parsePrometheus(await api.metricsText())),
    refetchInterval: METRICS_POLL_MS,
    retry: false,
  });
}

export function useSimulationStatus() {
  return useQuery({
    queryKey: ['simulation-status'],
    queryFn: api.simulationStatus,
    refetchInterval: STATUS_POLL_MS,
    retry: false,
  });
}

export function useHealth() {
  return useQuery({ queryKey: ['health'], queryFn: api.health, refetchInterval: HEALTH_POLL_MS, retry: false });
}

/** `GET /api/v1/topics` with its rates: each answer folded into the previous one's history. */
export type TopicsSnapshot = TopicsView & OffsetHistory;

/** Asks for the topics and folds the answer into the cached one, so every reader sees one rate. */
export async function fetchTopics(client: QueryClient): Promise<TopicsSnapshot> {
  const view = await api.topics();
  const prev = client.getQueryData<TopicsSnapshot>(TOPICS_KEY);
  return { ...view, ...foldOffsets(prev, view.topics, Date.now()) };
}

/**
 * The topics of the bus and their produce rates, from the server's end offsets (one per message
 * produced), polled: the source of every message count and rate the UI shows.
 */
export function useTopics(pollMs = TOPICS_POLL_MS) {
  return useQuery({
    queryKey: TOPICS_KEY,
    queryFn: ({ client }) => fetchTopics(client),
    refetchInterval: pollMs,
    retry: false,
    // The samples are a Map and the answers always new: nothing to share.
    structuralSharing: false,
  });
}

export interface PlatformFigures extends PlatformTotals {
  /** Per topic: messages produced (`end_offsets`). */
  counts: Record<string, number>;
  /** Per topic: msg/s, once two answers are in. */
  rates: Record<string, number>;
  topicHistory: Record<string, number[]>;
  /** The total rate at each of the last answers, oldest first (for a sparkline). */
  history: number[];
  loaded: boolean;
}

/** Counts and rates per topic and over the platform (every topic but DLQs), from {@link useTopics}. */
export function usePlatformTotals(): PlatformFigures {
  const { data } = useTopics();
  return useMemo(() => {
    const topics = data?.topics ?? [];
    return {
      ...platformTotals(topics, data?.rates ?? {}),
      counts: Object.fromEntries(topics.map((t) => [t.name, t.end_offsets])),
      rates: data?.rates ?? {},
      topicHistory: data?.topicHistory ?? {},
      history: data?.history ?? [],
      loaded: !!data,
    };
  }, [data]);
}

/** Every consumer group the bus knows (`GET /api/v1/consumers`), polled. */
export function useConsumerGroups(pollMs = CONSUMERS_POLL_MS) {
  return useQuery<ConsumersView>({ queryKey: CONSUMERS_KEY, queryFn: api.consumers, refetchInterval: pollMs, retry: false });
}

/** Per group: its lag and the sum of its committed offsets. */
export interface GroupFigures {
  lag: number;
  committed: number;
}

/** The consumer groups' figures by name, and the application's lag (edalab's own groups left out). */
export function useConsumerFigures(): { byGroup: Record<string, GroupFigures>; lag: number | undefined } {
  const { data } = useConsumerGroups();
  return useMemo(() => {
    const groups = data?.groups ?? [];
    const byGroup = Object.fromEntries(
      groups.map((g) => [g.group, { lag: g.lag_total, committed: g.partitions.reduce((a, p) => a + (p.committed ?? 0), 0) }]),
    );
    const lag = data ? groups.filter((g) => !isInternalGroup(g.group)).reduce((a, g) => a + g.lag_total, 0) : undefined;
    return { byGroup, lag };
  }, [data]);
}

/** The current time, once a second. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

/**
 * The platform's uptime in seconds at `now`: `uptime_seconds` of the last health answer plus
 * the time since that answer; `undefined` when the server does not say.
 */
export function useUptime(now: number): number | undefined {
  const health = useHealth();
  const up = health.data?.uptime_seconds;
  if (typeof up !== 'number' || !Number.isFinite(up)) return undefined;
  return up + Math.max(0, now - health.dataUpdatedAt) / 1000;
}

/** Asks the server whether it wants a token we do not have (then the prompt shows). */
export function useSessionCheck() {
  const token = useAuth((s) => s.token);
  useEffect(() => {
    api
      .session()
      .then((s) => {
        if (s.auth_required && !s.authenticated) useAuth.getState().require();
      })
      .catch(() => {
        /* an older server without the route: a 401 will tell */
      });
  }, [token]);
}

/** Opens `/ws` (with the token, reopened when it changes), feeds the live store, and closes
 * the per-second buckets. */
export function useLiveSocket(factory?: SocketFactory) {
  const token = useAuth((s) => s.token);
  useEffect(() => {
    const { setConnection, handleMessage, tick } = useLive.getState();
    const sock = new ReconnectingSocket({
      url: wsUrl(),
      protocols: wsProtocols(token),
      onStatus: setConnection,
      onMessage: handleMessage,
      factory,
    });
    sock.start();
    const t = setInterval(() => tick(), 1000);
    return () => {
      clearInterval(t);
      sock.stop();
    };
  }, [factory, token]);
}
