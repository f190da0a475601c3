import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, ReconnectingSocket, type ConnectionStatus, type SocketLike, type WsMessage } from './ws';

class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  closed = false;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  constructor(public url: string) {
    FakeSocket.all.push(this);
  }
  send(d: string) {
    this.sent.push(d);
  }
  close() {
    this.closed = true;
  }
  // test drivers
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  fail() {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({});
  }
  receive(data: string) {
    this.onmessage?.({ data });
  }
}

describe('ReconnectingSocket', () => {
  let statuses: ConnectionStatus[];
  let messages: WsMessage[];
  const make = () =>
    new ReconnectingSocket({
      url: 'ws://h/ws',
      baseDelayMs: 100,
      maxDelayMs: 1000,
      factory: (u) => new FakeSocket(u),
      onStatus: (s) => statuses.push(s),
      onMessage: (m) => messages.push(m),
    });

  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    statuses = [];
    messages = [];
  });
  afterEach(() => vi.useRealTimers());

  it('subscribes to every topic once open and forwards messages', () => {
    const s = make();
    s.start();
    expect(statuses).toEqual(['connecting']);
    const sock = FakeSocket.all[0];
    sock.open();
    expect(statuses).toEqual(['connecting', 'connected']);
    expect(JSON.parse(sock.sent[0])).toEqual({ action: 'subscribe', topics: ['*'] });
    sock.receive(JSON.stringify({ type: 'event', topic: 'bancaire.compte.ouvert', payload: {}, timestamp: 1 }));
    sock.receive('not json');
    expect(messages).toEqual([{ type: 'event', topic: 'bancaire.compte.ouvert', payload: {}, timestamp: 1 }]);
    s.stop();
  });

  it('reconnects with capped exponential backoff and resets after a success', () => {
    const s = make();
    s.start();
    FakeSocket.all[0].fail();
    expect(s.status).toBe('disconnected');
    // delays 100, 200, 400, 800, 1000 (cap), 1000
    const expected = [100, 200, 400, 800, 1000, 1000];
    for (let i = 0; i < expected.length; i++) {
      const before = FakeSocket.all.length;
      vi.advanceTimersByTime(expected[i] - 1);
      expect(FakeSocket.all.length).toBe(before);
      vi.advanceTimersByTime(1);
      expect(FakeSocket.all.length).toBe(before + 1);
      expect(s.status).toBe('connecting');
      FakeSocket.all[FakeSocket.all.length - 1].fail();
    }
    // succeed: attempt resets, next cut retries after the base delay again
    vi.advanceTimersByTime(1000);
    const ok = FakeSocket.all[FakeSocket.all.length - 1];
    ok.open();
    expect(s.status).toBe('connected');
    expect(s.attempt).toBe(0);
    ok.fail();
    const n = FakeSocket.all.length;
    vi.advanceTimersByTime(100);
    expect(FakeSocket.all.length).toBe(n + 1);
    FakeSocket.all[n].open();
    expect(FakeSocket.all[n].sent).toHaveLength(1); // re-subscribed
    expect(statuses.slice(-3)).toEqual(['disconnected', 'connecting', 'connected']);
    s.stop();
  });

  it('stops for good when stopped', () => {
    const s = make();
    s.start();
    const sock = FakeSocket.all[0];
    sock.open();
    s.stop();
    expect(sock.closed).toBe(true);
    expect(s.status).toBe('disconnected');
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('retries when the constructor throws', () => {
    let calls = 0;
    const s = new ReconnectingSocket({
      url: 'ws://h/ws',
      baseDelayMs: 50,
      maxDelayMs: 50,
      factory: (u) => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return new FakeSocket(u);
      },
    });
    s.start();
    expect(s.status).toBe('disconnected');
    vi.advanceTimersByTime(50);
    expect(calls).toBe(2);
    s.stop();
  });

  it('uses the global WebSocket when no factory (or an undefined one) is given', () => {
    const created: string[] = [];
    vi.stubGlobal(
      'WebSocket',
      class extends FakeSocket {
        constructor(u: string) {
          super(u);
          created.push(u);
        }
      },
    );
    try {
      const s = new ReconnectingSocket({ url: 'ws://h/ws', factory: undefined, baseDelayMs: undefined });
      s.start();
      expect(created).toEqual(['ws://h/ws']);
      expect(s.status).toBe('connecting');
      expect(s.nextDelay()).toBe(500);
      s.stop();
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('backoffDelay doubles then caps', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 500, 15000))).toEqual([500, 1000, 2000, 4000, 15000]);
  });
});
