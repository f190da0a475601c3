/**
 * The UI's pages, in the URL's hash (no router dependency): `#/` Overview, `#/topics`,
 * `#/topics/<topic>`, `#/consumers`, `#/consumers/<group>`, `#/lab`; anything else is the
 * Overview. A query after the path (`#/?system=banking`) carries a page's own choices.
 */
import { useMemo, useSyncExternalStore } from 'react';

export type Page = 'overview' | 'topics' | 'consumers' | 'lab';

export interface Route {
  page: Page;
  /** `#/topics/<topic>`: the topic opened. */
  topic?: string;
  /** `#/consumers/<group>`: the group opened. */
  group?: string;
  query: URLSearchParams;
}

export const PAGES: { page: Page; label: string; href: string }[] = [
  { page: 'overview', label: 'Overview', href: '#/' },
  { page: 'topics', label: 'Topics', href: '#/topics' },
  { page: 'consumers', label: 'Consumers', href: '#/consumers' },
  { page: 'lab', label: 'Lab', href: '#/lab' },
];

const decode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** The route a hash (`#/topics/x?a=1`, with or without `#`) names; unknown paths are the Overview. */
export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const [page, item, ...rest] = path.split('/').filter(Boolean).map(decode);
  if (rest.length === 0) {
    if (page === 'topics') return { page, topic: item, query };
    if (page === 'consumers') return { page, group: item, query };
    if (page === 'lab' && item === undefined) return { page, query };
  }
  return { page: 'overview', query };
}

export const hrefs = {
  overview: (system?: string) => (system ? `#/?system=${encodeURIComponent(system)}` : '#/'),
  topic: (topic?: string | null) => (topic ? `#/topics/${encodeURIComponent(topic)}` : '#/topics'),
  group: (group?: string | null) => (group ? `#/consumers/${encodeURIComponent(group)}` : '#/consumers'),
  lab: () => '#/lab',
};

/** Goes to `to` (a `#/…` hash); `replace` rewrites the current history entry instead. */
export function navigate(to: string, replace = false) {
  if (window.location.hash === to) return;
  if (replace) {
    window.history.replaceState(window.history.state, '', to);
    window.dispatchEvent(new Event('hashchange'));
  } else window.location.hash = to;
}

const subscribe = (onChange: () => void) => {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
};
const currentHash = () => window.location.hash;

/** The route of the page's hash, followed as it changes. */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, currentHash, () => '');
  return useMemo(() => parseHash(hash), [hash]);
}
