/**
 * Signing in with the gateway's bearer token (docs/security.md, ADR 018).
 *
 * When the server has tokens configured, writes and `/ws` need one. The UI learns it from
 * `GET /api/v1/auth/session` at start or from any 401, shows a small prompt, keeps the token
 * in sessionStorage (gone when the tab closes), and sends it as `Authorization: Bearer` on
 * API calls and as the `edalab.token.<token>` subprotocol on `/ws` (a browser cannot set
 * headers on a WebSocket).
 */
import { create } from 'zustand';

export const TOKEN_STORAGE_KEY = 'edalab.token';
/** The subprotocol the server selects; offered with the token's. */
export const WS_PROTOCOL = 'edalab.v1';
export const WS_TOKEN_PROTOCOL_PREFIX = 'edalab.token.';

function storage(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null;
  }
}

interface AuthState {
  /** The token in use, if any. */
  token: string | null;
  /** The server asked for a token that we do not have (or that it refused). */
  needed: boolean;
  setToken(token: string): void;
  signOut(): void;
  /** Called on a 401: the token is missing or wrong. */
  require(): void;
}

export const useAuth = create<AuthState>((set) => ({
  token: storage()?.getItem(TOKEN_STORAGE_KEY) ?? null,
  needed: false,
  setToken(token) {
    const t = token.trim();
    storage()?.setItem(TOKEN_STORAGE_KEY, t);
    set({ token: t, needed: false });
  },
  signOut() {
    storage()?.removeItem(TOKEN_STORAGE_KEY);
    set({ token: null, needed: false });
  },
  require() {
    set({ needed: true });
  },
}));

/** `Authorization` header for the current token (none without one). */
export function authHeaders(): Record<string, string> {
  const token = useAuth.getState().token;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Subprotocols to offer on `/ws`: the server's, plus the token's when there is one. */
export function wsProtocols(token: string | null = useAuth.getState().token): string[] {
  return token ? [WS_PROTOCOL, `${WS_TOKEN_PROTOCOL_PREFIX}${token}`] : [WS_PROTOCOL];
}
