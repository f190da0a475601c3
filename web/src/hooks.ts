import { useEffect } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api, wsUrl } from './api';
import { useAuth, wsProtocols } from './auth';
import { parsePrometheus, snapshot, type MetricsSnapshot } from './prometheus';
import { useLive } from './store';
import { ReconnectingSocket, type SocketFactory } from './ws';

export const METRICS_POLL_MS = 2000;
export const STATUS_POLL_MS = 1000;

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
  return useQuery({ queryKey: ['health'], queryFn: api.health, refetchInterval: 5000, retry: false });
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
