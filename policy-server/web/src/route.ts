import { useEffect, useState } from 'react';
import { queryString, type Query } from './api';

export interface Route {
  /** "#/log/12?host=pc1" → ["log", "12"] */
  readonly parts: readonly string[];
  readonly query: Readonly<Record<string, string>>;
}

export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?');
  return { parts: path.split('/').filter((p) => p !== ''), query: Object.fromEntries(new URLSearchParams(search)) };
}

/** Pages are addressed by the URL fragment, so the server serves one index.html and links can be bookmarked. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function href(path: string, query: Query = {}): string {
  return `#/${path}${queryString(query)}`;
}

export function navigate(path: string, query: Query = {}): void {
  window.location.hash = href(path, query);
}
