/** A refusal or failure from the policy server, with its stable code and any field problems. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Role = 'staff' | 'approver' | 'admin' | 'auditor';

export interface Session {
  readonly username: string;
  readonly role: Role;
  readonly csrfToken: string;
}

export type Query = Record<string, string | undefined>;

/** GET: the signed-in person (401 when not signed in). */
export const SESSION_PATH = '/api/v1/session';

export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, value);
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * Talks to the policy server's /api/v1. The session is an HttpOnly cookie the browser sends by itself;
 * every state-changing call also carries the session's CSRF token in a header (kept only in memory).
 */
/** A GET started ahead of the page that needs it, and its outcome once it is in. */
interface Early {
  readonly promise: Promise<unknown>;
  settled?: { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };
}

export class ApiClient {
  private csrfToken = '';
  /** GETs started ahead of the page that needs them (see prefetch), by URL; each is handed out once. */
  private readonly prefetched = new Map<string, Early>();

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') headers['x-csrf-token'] = this.csrfToken;
    let response: Response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
    } catch (cause) {
      throw new ApiError(0, 'NETWORK', cause instanceof Error ? cause.message : 'network error');
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const error = (json ?? {}) as { code?: string; message?: string; problems?: { path: string; message: string }[] };
      throw new ApiError(response.status, error.code ?? `HTTP_${response.status}`, error.message ?? response.statusText, error.problems ?? []);
    }
    return json as T;
  }

  get<T>(path: string, query: Query = {}): Promise<T> {
    const url = `${path}${queryString(query)}`;
    const early = this.prefetched.get(url);
    if (early !== undefined) {
      this.prefetched.delete(url);
      return early.promise as Promise<T>;
    }
    return this.call<T>('GET', url);
  }

  /**
   * Starts a GET now, while the session is still being checked, instead of after it: the first page's data
   * then arrives with the session rather than one round trip later. The first get() or takeReady() of the same
   * URL takes the answer; a failure (a 401 before sign-in, say) is kept for get() to report, never thrown
   * here. Resolves once the answer is in.
   */
  prefetch(path: string, query: Query = {}): Promise<void> {
    const url = `${path}${queryString(query)}`;
    const early: Early = { promise: this.call('GET', url) };
    this.prefetched.set(url, early);
    return early.promise.then(
      (value) => {
        early.settled = { ok: true, value };
      },
      (error: unknown) => {
        early.settled = { ok: false, error };
      },
    );
  }

  /** The answer of a prefetched GET if it is already in and succeeded (taken: once); otherwise undefined. */
  takeReady<T>(path: string, query: Query = {}): T | undefined {
    const url = `${path}${queryString(query)}`;
    const early = this.prefetched.get(url);
    if (early?.settled?.ok !== true) return undefined;
    this.prefetched.delete(url);
    return early.settled.value as T;
  }

  /**
   * The session, if its prefetched check already answered: the person, or null when not signed in; undefined
   * when not known yet or the check failed otherwise (currentSession() then asks again and reports it).
   */
  readySession(): Session | null | undefined {
    const early = this.prefetched.get(SESSION_PATH);
    if (early?.settled === undefined) return undefined;
    this.prefetched.delete(SESSION_PATH);
    if (early.settled.ok) {
      const session = early.settled.value as Session;
      this.csrfToken = session.csrfToken;
      return session;
    }
    if (early.settled.error instanceof ApiError && early.settled.error.status === 401) {
      this.prefetched.clear();
      return null;
    }
    return undefined;
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body ?? {});
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PUT', path, body);
  }

  async signIn(username: string, password: string): Promise<Session> {
    const session = await this.call<Session>('POST', '/api/v1/session', { username, password });
    // Anything fetched ahead was fetched without this session.
    this.prefetched.clear();
    this.csrfToken = session.csrfToken;
    return session;
  }

  /** The current session, or null when not signed in (or it expired). */
  async currentSession(): Promise<Session | null> {
    try {
      const session = await this.get<Session>(SESSION_PATH);
      this.csrfToken = session.csrfToken;
      return session;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.prefetched.clear();
        return null;
      }
      throw error;
    }
  }

  async signOut(): Promise<void> {
    await this.call<void>('DELETE', '/api/v1/session');
    this.prefetched.clear();
    this.csrfToken = '';
  }
}
