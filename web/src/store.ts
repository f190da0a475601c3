import { create } from 'zustand';
import type { GraphView } from './topology';
import type { ConnectionStatus, WsMessage } from './ws';

export const HISTORY_SECONDS = 60;

export interface Toast {
  id: number;
  kind: 'success' | 'error';
  message: string;
}
export interface UiError {
  at: number;
  source: string;
  message: string;
}

interface LiveState {
  connection: ConnectionStatus;
  /** Events seen on the WebSocket per topic since the page loaded. */
  topicTotals: Record<string, number>;
  /** Per topic, events per second for the last 60 s (oldest first). */
  topicHistory: Record<string, number[]>;
  /** All topics, events per second for the last 60 s (oldest first). */
  totalHistory: number[];
  totalEvents: number;
  /** Unix ms of the last event per topic. */
  lastSeen: Record<string, number>;
  errors: UiError[];
  toasts: Toast[];
  selectedDlq: string | null;
  loadedAt: number;
  /** The flow graph's tab last chosen (the Overview's `?system=` wins when present). */
  graphView: GraphView;

  setConnection(s: ConnectionStatus): void;
  handleMessage(m: WsMessage): void;
  /** Close the current one-second bucket (called once a second). */
  tick(now?: number): void;
  pushError(source: string, message: string): void;
  toast(kind: Toast['kind'], message: string): void;
  dismissToast(id: number): void;
  selectDlq(topic: string | null): void;
  setGraphView(view: GraphView): void;
  reset(): void;
}

// Events are counted outside React state and folded in once a second, so a
// 1000 ev/s stream costs one render a second, not a thousand.
let pending: Record<string, number> = {};
let toastSeq = 0;

const empty = () => new Array<number>(HISTORY_SECONDS).fill(0);

const initial = () => ({
  connection: 'disconnected' as ConnectionStatus,
  topicTotals: {},
  topicHistory: {},
  totalHistory: empty(),
  totalEvents: 0,
  lastSeen: {},
  errors: [],
  toasts: [],
  selectedDlq: null,
  loadedAt: Date.now(),
  graphView: 'banking' as GraphView,
});

export const useLive = create<LiveState>((set, get) => ({
  ...initial(),
  setConnection: (connection) => set({ connection }),
  handleMessage: (m) => {
    if (m.type === 'event' && m.topic) {
      pending[m.topic] = (pending[m.topic] ?? 0) + 1;
    } else if (m.type === 'error') {
      const p = m.payload as { message?: string } | string | undefined;
      const msg = typeof p === 'string' ? p : (p?.message ?? JSON.stringify(p ?? ''));
      get().pushError(m.topic ? `ws ${m.topic}` : 'ws', msg);
    }
  },
  tick: (now = Date.now()) => {
    const batch = pending;
    pending = {};
    set((s) => {
      const topicTotals = { ...s.topicTotals };
      const topicHistory: Record<string, number[]> = {};
      const lastSeen = { ...s.lastSeen };
      let secondTotal = 0;
      const topics = new Set([...Object.keys(s.topicHistory), ...Object.keys(batch)]);
      for (const t of topics) {
        const n = batch[t] ?? 0;
        secondTotal += n;
        const h = (s.topicHistory[t] ?? empty()).slice(1);
        h.push(n);
        topicHistory[t] = h;
        if (n > 0) {
          topicTotals[t] = (topicTotals[t] ?? 0) + n;
          lastSeen[t] = now;
        }
      }
      const totalHistory = s.totalHistory.slice(1);
      totalHistory.push(secondTotal);
      return { topicTotals, topicHistory, lastSeen, totalHistory, totalEvents: s.totalEvents + secondTotal };
    });
  },
  pushError: (source, message) =>
    set((s) => ({ errors: [{ at: Date.now(), source, message }, ...s.errors].slice(0, 20) })),
  toast: (kind, message) => {
    const id = ++toastSeq;
    set((s) => ({ toasts: [...s.toasts, { id, kind, message }] }));
    setTimeout(() => get().dismissToast(id), 5000);
  },
  dismissToast: (id) => set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) })),
  selectDlq: (selectedDlq) => set({ selectedDlq }),
  setGraphView: (graphView) => set({ graphView }),
  reset: () => {
    pending = {};
    set(initial());
  },
}));

/** Events per second over the last complete second. */
export function lastRate(history: number[] | undefined): number {
  return history && history.length ? history[history.length - 1] : 0;
}
