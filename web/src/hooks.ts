import { useEffect } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api, wsUrl } from './api';
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

/** Opens `/ws`, feeds the live store, and closes the per-second buckets. */
export function useLiveSocket(factory?: SocketFactory) {
  useEffect(() => {
    const { setConnection, handleMessage, tick } = useLive.getState();
    const sock = new ReconnectingSocket({ url: wsUrl(), onStatus: setConnection, onMessage: handleMessage, factory });
    sock.start();
    const t = setInterval(() => tick(), 1000);
    return () => {
      clearInterval(t);
      sock.stop();
    };
  }, [factory]);
}
