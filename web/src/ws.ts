/** A WebSocket that reconnects by itself with capped exponential backoff. */

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected';

export interface WsMessage {
  type: 'event' | 'status' | 'error' | string;
  topic?: string;
  payload?: unknown;
  timestamp?: string | number;
}

/** The part of the DOM WebSocket this client uses (so tests can pass a fake). */
export interface SocketLike {
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type SocketFactory = (url: string, protocols?: string[]) => SocketLike;

export interface ReconnectingSocketOptions {
  url: string;
  topics?: string[];
  /** Subprotocols to offer (the token travels in one, see auth.ts). */
  protocols?: string[];
  onMessage?: (msg: WsMessage) => void;
  onStatus?: (status: ConnectionStatus) => void;
  /** First retry delay in ms (doubles each failed attempt). */
  baseDelayMs?: number;
  /** Cap on the retry delay in ms. */
  maxDelayMs?: number;
  factory?: SocketFactory;
}

export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
}

export class ReconnectingSocket {
  private socket: SocketLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** Failed attempts since the last successful open. */
  attempt = 0;
  status: ConnectionStatus = 'disconnected';
  private readonly opts: Required<Omit<ReconnectingSocketOptions, 'onMessage' | 'onStatus'>> &
    Pick<ReconnectingSocketOptions, 'onMessage' | 'onStatus'>;

  constructor(opts: ReconnectingSocketOptions) {
    // `undefined` options fall back to the defaults (a spread would let them override).
    this.opts = {
      ...opts,
      topics: opts.topics ?? ['*'],
      protocols: opts.protocols ?? [],
      baseDelayMs: opts.baseDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 15_000,
      factory: opts.factory ?? ((u, p) => new WebSocket(u, p) as unknown as SocketLike),
    };
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onclose = null;
      s.onerror = null;
      s.onmessage = null;
      s.onopen = null;
      s.close();
    }
    this.setStatus('disconnected');
  }

  /** Delay before the next retry. */
  nextDelay(): number {
    return backoffDelay(this.attempt, this.opts.baseDelayMs, this.opts.maxDelayMs);
  }

  private setStatus(s: ConnectionStatus) {
    if (this.status === s) return;
    this.status = s;
    this.opts.onStatus?.(s);
  }

  private connect() {
    if (this.stopped) return;
    this.setStatus('connecting');
    let sock: SocketLike;
    try {
      sock = this.opts.factory(this.opts.url, this.opts.protocols);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = sock;
    sock.onopen = () => {
      this.attempt = 0;
      this.setStatus('connected');
      sock.send(JSON.stringify({ action: 'subscribe', topics: this.opts.topics }));
    };
    sock.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let msg: WsMessage;
      try {
        msg = JSON.parse(ev.data) as WsMessage;
      } catch {
        return;
      }
      this.opts.onMessage?.(msg);
    };
    sock.onerror = () => {
      /* a close always follows */
    };
    sock.onclose = () => {
      if (this.socket !== sock) return;
      this.socket = null;
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect() {
    if (this.stopped) return;
    this.setStatus('disconnected');
    const delay = this.nextDelay();
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }
}
